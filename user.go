package relais

import (
	"context"
	"time"
)

// User is an account at a site.
type User struct {
	ID       ID     `json:"id"`
	Site     string `json:"site"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Disabled bool   `json:"disabled"`
	// LockedUntil is set when too many sign-ins failed in a row: until then
	// the password is refused with a message that says so.
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// IdentityProvider is the OpenID Connect issuer of an account created at
	// its first single sign-on ("" for a local account).
	IdentityProvider string    `json:"identity_provider,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// Locked reports whether the account is locked out at t.
func (u User) Locked(t time.Time) bool { return t.Before(u.LockedUntil) }

// Actor returns the user as an actor.
func (u User) Actor() Actor {
	return Actor{UserID: u.ID, Username: u.Username, Name: u.Name, Role: u.Role, Site: u.Site}
}

// UserService manages accounts.
type UserService interface {
	CreateUser(ctx context.Context, u User, password string) (User, error)
	// Authenticate returns the user when username and password match an
	// enabled, unlocked account; the error never says which of the two was
	// wrong. Repeated failures lock the account for a while (LockoutAfter,
	// LockoutFor), and a locked account is refused with a message that says
	// until when.
	Authenticate(ctx context.Context, username, password string) (User, error)
	UserByID(ctx context.Context, id ID) (User, error)
	Users(ctx context.Context) ([]User, error)

	// UpdateUser changes an account's name or role (nil: unchanged).
	UpdateUser(ctx context.Context, id ID, u UserUpdate) (User, error)
	// SetUserDisabled disables (or enables again) an account; disabling ends
	// its sessions at once.
	SetUserDisabled(ctx context.Context, id ID, disabled bool) (User, error)
	// UnlockUser lifts a lock-out before it ends by itself.
	UnlockUser(ctx context.Context, id ID) (User, error)

	// IssuePasswordReset makes a one-time password-reset secret for the
	// account, valid for ttl; any earlier unused one stops working. The
	// secret is returned once and only its hash is kept.
	IssuePasswordReset(ctx context.Context, userID ID, ttl time.Duration) (PasswordReset, string, error)
	// ResetPassword sets a new password with a reset secret, which is then
	// used up; the lock-out is lifted and the account's sessions end.
	ResetPassword(ctx context.Context, secret, newPassword string) (User, error)

	// ExternalSignIn finds, or creates on first sign-in, the account of an
	// identity asserted by a single sign-on provider, and brings its name
	// and role up to date with the provider's claims.
	ExternalSignIn(ctx context.Context, id ExternalIdentity) (User, error)

	PasskeyService
}

// UserUpdate changes an account; a nil field is left as it is.
type UserUpdate struct {
	Name *string `json:"name,omitempty"`
	Role *Role   `json:"role,omitempty"`
}

// Lock-out policy: after LockoutAfter failed sign-ins in a row the account is
// locked for LockoutFor (OWASP Authentication Cheat Sheet: lock-out after a
// small number of failures, for a limited time, so that an attacker cannot
// lock everyone out for good).
const (
	LockoutAfter = 5
	LockoutFor   = 15 * time.Minute
)
