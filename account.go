package relais

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// This file holds what accounts carry besides the account itself: sessions,
// password-reset secrets, passkeys, single sign-on identities, API tokens, and
// the log of who read which patient.

// Sign-in methods, as recorded on a session.
const (
	MethodPassword = "password"         // password only
	MethodPasskey  = "password+passkey" // password, then a passkey
	MethodOIDC     = "oidc"             // single sign-on
)

// Session is a signed-in browser. Its secret lives only in the cookie; the
// store keeps its SHA-256 (IDHash), so a copy of the database signs no one in.
type Session struct {
	IDHash     string    `json:"-"`
	UserID     ID        `json:"user_id"`
	Method     string    `json:"method"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at" doc:"absolute end, whatever the activity"`
	// PendingSecondFactor: the password was right but the account has a
	// passkey that must still be used; such a session is not signed in.
	PendingSecondFactor bool   `json:"pending_second_factor"`
	RemoteAddr          string `json:"remote_addr"`
	UserAgent           string `json:"user_agent"`
	// RevalidateAt is when a single sign-on session must next be checked with
	// the identity provider; SealedRefresh is the provider's refresh token,
	// encrypted with a key derived from the session secret (so only a request
	// carrying the cookie can use it).
	RevalidateAt  time.Time `json:"revalidate_at,omitzero"`
	SealedRefresh string    `json:"-"`
}

// SessionService keeps sessions. Sessions are not journaled: they are
// high-churn, not care data, and a sign-in is not a change of anything the
// journal describes (see sqlstore/session.go).
type SessionService interface {
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns the session and its account.
	SessionByHash(ctx context.Context, idHash string) (Session, User, error)
	// TouchSession records activity at t.
	TouchSession(ctx context.Context, idHash string, t time.Time) error
	// RevalidatedSession records a successful check with the identity
	// provider: the next one is due at next, with a new sealed refresh
	// token when the provider rotated it ("" keeps the old one).
	RevalidatedSession(ctx context.Context, idHash string, next time.Time, sealedRefresh string) error
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions ends every session of an account.
	DeleteUserSessions(ctx context.Context, userID ID) error
	// DeleteExpiredSessions removes sessions that ended before t; it returns
	// how many.
	DeleteExpiredSessions(ctx context.Context, idleBefore, t time.Time) (int64, error)
}

// PasswordReset is a one-time password-reset link issued by an administrator.
type PasswordReset struct {
	ID        ID        `json:"id"`
	UserID    ID        `json:"user_id"`
	IssuedBy  string    `json:"issued_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero" doc:"a newer link was issued before this one was used"`
}

// Passkey is a WebAuthn credential registered to an account: its second
// factor.
type Passkey struct {
	ID           ID        `json:"id"`
	UserID       ID        `json:"user_id"`
	Name         string    `json:"name" doc:"what the person called it, e.g. \"badge CPS\", \"YubiKey\""`
	CredentialID string    `json:"credential_id" doc:"base64url"`
	PublicKey    string    `json:"public_key" doc:"COSE key, base64url"`
	CreatedAt    time.Time `json:"created_at"`
	// Credential is the WebAuthn library's record of the credential (flags,
	// counter, transports); the counter changes at each use.
	Credential json.RawMessage `json:"-"`
	LastUsedAt time.Time       `json:"-"`
}

// PasskeyService keeps passkeys.
type PasskeyService interface {
	AddPasskey(ctx context.Context, p Passkey) (Passkey, error)
	Passkeys(ctx context.Context, userID ID) ([]Passkey, error)
	// PasskeyUsed records a sign-in with the passkey: its new credential
	// record (counter) and the time.
	PasskeyUsed(ctx context.Context, id ID, credential json.RawMessage) error
	// RemovePasskey removes a passkey of the account.
	RemovePasskey(ctx context.Context, userID, id ID) error
}

// ExternalIdentity is who a single sign-on provider says someone is, with the
// account details taken from its claims.
type ExternalIdentity struct {
	Issuer   string
	Subject  string
	Username string
	Name     string
	Role     Role
}

// APIToken is a scoped credential for a program: a script, another site, the
// crisis node. It acts as its account, limited to Permissions.
type APIToken struct {
	ID          ID           `json:"id"`
	UserID      ID           `json:"user_id"`
	Username    string       `json:"username"`
	Name        string       `json:"name" doc:"what it is for, e.g. \"nightly export\""`
	Permissions []Permission `json:"permissions"`
	CreatedBy   string       `json:"created_by"`
	CreatedAt   time.Time    `json:"created_at"`
	ExpiresAt   time.Time    `json:"expires_at"`
	RevokedAt   time.Time    `json:"revoked_at,omitzero"`
	LastUsedAt  time.Time    `json:"last_used_at,omitzero"`
}

// Allows reports whether the token's scope includes p.
func (t APIToken) Allows(p Permission) bool {
	if p == PermPublic || p == PermSignedIn {
		return true
	}
	for _, x := range t.Permissions {
		if x == p {
			return true
		}
	}
	return false
}

// TokenInput creates an API token.
type TokenInput struct {
	UserID      ID           `json:"user_id" doc:"the account the token acts as"`
	Name        string       `json:"name"`
	Permissions []Permission `json:"permissions" doc:"a subset of the account's role's permissions"`
	ExpiresIn   int          `json:"expires_in_days" doc:"1 to 366 days"`
}

// TokenService keeps API tokens.
type TokenService interface {
	// CreateToken makes a token; its secret is returned once and only its
	// hash is kept.
	CreateToken(ctx context.Context, in TokenInput) (APIToken, string, error)
	// AuthenticateToken returns the token and its account when the secret
	// is a live token of an enabled account.
	AuthenticateToken(ctx context.Context, secret string) (APIToken, User, error)
	Tokens(ctx context.Context) ([]APIToken, error)
	RevokeToken(ctx context.Context, id ID) (APIToken, error)
}

// AccessEntry is one read of a patient's data: who, when, from which site,
// for what purpose, by which route, and whether it broke the glass.
type AccessEntry struct {
	ID         ID        `json:"id"`
	At         time.Time `json:"at"`
	Site       string    `json:"site" doc:"the Relais that served the read"`
	UserID     ID        `json:"user_id"`
	Username   string    `json:"username"`
	Role       Role      `json:"role"`
	UserSite   string    `json:"user_site" doc:"the site the reader works at"`
	PatientID  ID        `json:"patient_id"`
	Purpose    string    `json:"purpose"`
	Route      string    `json:"route"`
	RemoteAddr string    `json:"remote_addr"`
	BreakGlass bool      `json:"break_glass" doc:"the patient was outside the reader's scope"`
	GrantID    ID        `json:"grant_id,omitempty" doc:"the break-the-glass access that allowed it"`
}

// Purposes of a read of a patient's data, as a reader declares it (the
// Relais-Purpose header) or as the role implies.
var Purposes = []string{"care", "pharmacy", "consultation", "administration", "audit", "emergency"}

// AccessGrant is a break-the-glass access: a user reads a patient outside
// their scope for a stated reason, for a limited time, and the pharmacy
// administrator reviews it afterwards.
type AccessGrant struct {
	ID         ID        `json:"id"`
	UserID     ID        `json:"user_id"`
	Username   string    `json:"username"`
	UserSite   string    `json:"user_site"`
	PatientID  ID        `json:"patient_id"`
	Reason     string    `json:"reason"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	ReviewedAt time.Time `json:"reviewed_at,omitzero"`
	ReviewedBy string    `json:"reviewed_by,omitempty"`
	ReviewNote string    `json:"review_note,omitempty"`
}

// BreakGlassRequest asks for a break-the-glass access.
type BreakGlassRequest struct {
	Reason string `json:"reason" doc:"why this patient's record must be read (kept, shown to the reviewer)"`
}

// ReviewRequest closes the review of a break-the-glass access.
type ReviewRequest struct {
	Note string `json:"note" doc:"what the review found"`
}

// BreakGlassFor is how long a break-the-glass access lasts.
const BreakGlassFor = 4 * time.Hour

// AccessLog records and shows reads of patients' data.
type AccessLog interface {
	// RecordAccess appends entries to the access log; nothing can change or
	// remove them afterwards.
	RecordAccess(ctx context.Context, entries ...AccessEntry) error
	// PatientAccessLog returns the reads of a patient, newest first, at most
	// limit of them, before a time (zero: now).
	PatientAccessLog(ctx context.Context, patientID ID, before time.Time, limit int) ([]AccessEntry, error)
	// BreakGlass opens a break-the-glass access for the actor in ctx.
	BreakGlass(ctx context.Context, patientID ID, reason string) (AccessGrant, error)
	// ActiveGrant returns the actor's live break-the-glass access to the
	// patient at t, if any.
	ActiveGrant(ctx context.Context, userID, patientID ID, t time.Time) (AccessGrant, bool, error)
	// AccessGrants lists break-the-glass accesses, newest first; pending
	// only those not reviewed yet.
	AccessGrants(ctx context.Context, pending bool) ([]AccessGrant, error)
	ReviewGrant(ctx context.Context, id ID, note string) (AccessGrant, error)
}

// LockedError is the cause of a sign-in refused because the account is
// locked out; screens say until when.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string { return "account locked until " + e.Until.Format(time.RFC3339) }

// ErrAccountDisabled is the cause of a sign-in refused because the account
// is disabled.
var ErrAccountDisabled = errors.New("account disabled")

type scopeKey struct{}

// WithScope narrows what the actor in ctx may do to perms (an API token's
// scope): Allowed then requires both the role and the scope.
func WithScope(ctx context.Context, perms []Permission) context.Context {
	return context.WithValue(ctx, scopeKey{}, perms)
}

// Allowed reports whether the actor in ctx may use permission p: its role
// has it and, for an API token, the token's scope includes it. Every
// permission check outside web's routes (the FHIR API, jobs acting for a
// request) uses it, so that a token cannot do more than it was given.
func Allowed(ctx context.Context, p Permission) bool {
	if p == PermPublic {
		return true
	}
	a, ok := ActorFrom(ctx)
	if !ok || !a.Role.Can(p) {
		return false
	}
	if scope, ok := ctx.Value(scopeKey{}).([]Permission); ok && p != PermSignedIn {
		for _, x := range scope {
			if x == p {
				return true
			}
		}
		return false
	}
	return true
}
