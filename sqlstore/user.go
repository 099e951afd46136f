package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
)

// Accounts. Every change of an account's state (creation, role, name,
// disabling, lock-out, unlock, password set by a reset link, single sign-on
// link) is journaled on the "user" entity, whose after-image is the
// relais.User. Two things change without an entry, on purpose:
//   - failed_sign_ins, the count of failures in a row, which an attacker
//     drives (an entry per wrong password would let anyone fill the
//     journal); only the lock-out it leads to is journaled;
//   - password_hash, which is never in the image (the journal is replicated
//     to other sites); setting it is journaled as "user.password_set".

var _ relais.UserService = (*DB)(nil)

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// checkUsername and checkName are the account fields' rules.
func checkUsername(op, username string) error {
	if username == "" {
		return relais.Invalid(op, "username", "a username is required")
	}
	if !usernamePattern.MatchString(username) {
		return relais.Invalid(op, "username",
			"a username has 1 to 64 characters: lower-case letters, digits, and . _ @ - (not first), e.g. dr.martin")
	}
	return nil
}

func checkName(op, name string) error {
	if strings.TrimSpace(name) == "" {
		return relais.Invalid(op, "name", "the person's name is required")
	}
	if len([]rune(name)) > 200 {
		return relais.Invalid(op, "name", "a name has at most 200 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return relais.Invalid(op, "name", "a name cannot contain control characters (line breaks, tabs)")
		}
	}
	return nil
}

func checkRole(op string, r relais.Role) error {
	if !r.Valid() || r == relais.RoleSystem {
		return relais.Invalid(op, "role", "unknown role %q: use one of prescriber, pharmacist, technician, nurse, pharm_admin, it_admin, consultant", truncate(string(r), 40))
	}
	return nil
}

// getErr is the error of a read by id: "no such …" when there is no row.
func getErr(op, what string, err error) error {
	err = mapErr(err)
	if relais.ErrorKind(err) == relais.KindNotFound {
		return relais.E(op, relais.KindNotFound, "no such "+what)
	}
	return relais.E(op, err)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// CreateUser creates an account with a password (empty: no password sign-in,
// e.g. an account for API tokens only).
func (db *DB) CreateUser(ctx context.Context, u relais.User, password string) (relais.User, error) {
	const op = "user.create"
	u.Username = strings.TrimSpace(strings.ToLower(u.Username))
	u.Name = strings.TrimSpace(u.Name)
	var errs []error
	for _, err := range []error{checkUsername(op, u.Username), checkName(op, u.Name), checkRole(op, u.Role)} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	hash := ""
	if password != "" {
		h, err := auth.HashPassword(password)
		if err != nil {
			errs = append(errs, relais.Invalid(op, "password", "%s", err.Error()))
		}
		hash = h
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.User{}, err
	}
	err := db.Write(ctx, op, func(tx *Tx) error {
		var err error
		u, err = insertUser(tx, u, hash)
		return err
	})
	return u, err
}

func insertUser(tx *Tx, u relais.User, hash string) (relais.User, error) {
	const op = "user.create"
	u.ID = relais.NewID()
	if u.Site == "" {
		u.Site = tx.Site()
	}
	u.CreatedAt = tx.Now()
	if _, err := tx.Exec(`INSERT INTO app_user (id, site, username, name, role, password_hash, disabled, identity_provider, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Site, u.Username, u.Name, u.Role, hash, u.Disabled, u.IdentityProvider, T(u.CreatedAt)); err != nil {
		if relais.ErrorKind(err) == relais.KindConflict {
			return u, relais.E(op, relais.KindConflict, relais.Field("username"), "this username is taken")
		}
		return u, err
	}
	got, err := userByID(tx, u.ID)
	if err != nil {
		return u, err
	}
	return got, tx.Journal("user.create", "user", got.ID, nil, got)
}

// Authenticate checks a password sign-in, counts failures and locks the
// account after relais.LockoutAfter of them in a row.
func (db *DB) Authenticate(ctx context.Context, username, password string) (relais.User, error) {
	const op = "user.authenticate"
	refused := relais.E(op, relais.KindUnauthorized, "unknown username or wrong password")
	var u relais.User
	var hash string
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT `+userColumns+`, password_hash FROM app_user WHERE username = ?`),
		strings.ToLower(strings.TrimSpace(username))).
		Scan(&u.ID, &u.Site, &u.Username, &u.Name, &u.Role, &u.Disabled, ScanTime(&u.LockedUntil), &u.IdentityProvider,
			ScanTime(&u.CreatedAt), &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return relais.User{}, relais.E(op, mapErr(err))
	}
	now := relais.Now()
	if err != nil || hash == "" {
		// Hash anyway, so that timing does not tell which accounts exist.
		auth.CheckPasswordOrDummy("", password)
		return relais.User{}, refused
	}
	if u.Locked(now) {
		return relais.User{}, lockedError(op, u)
	}
	if !auth.CheckPassword(hash, password) {
		locked, err := db.signInFailed(ctx, u)
		if err != nil {
			return relais.User{}, err
		}
		if locked.Locked(now) {
			return relais.User{}, lockedError(op, locked)
		}
		return relais.User{}, refused
	}
	if u.Disabled {
		// Said only to whoever knows the password.
		return relais.User{}, relais.E(op, relais.KindUnauthorized, "this account is disabled: ask an administrator", relais.ErrAccountDisabled)
	}
	if _, err := db.w.ExecContext(ctx, db.rebind("UPDATE app_user SET failed_sign_ins = 0 WHERE id = ? AND failed_sign_ins <> 0"), u.ID); err != nil {
		return relais.User{}, relais.E(op, mapErr(err))
	}
	return u, nil
}

func lockedError(op string, u relais.User) error {
	return relais.E(op, relais.KindUnauthorized, fmt.Sprintf(
		"this account is locked after %d failed sign-ins in a row, until %s (Paris time): wait, or ask an administrator to unlock it or to give you a password-reset link",
		relais.LockoutAfter, u.LockedUntil.In(relais.DisplayZone).Format("15:04 on 02/01/2006")), &relais.LockedError{Until: u.LockedUntil})
}

// signInFailed counts a failure and locks the account when there have been
// enough in a row. It returns the account as it now is.
func (db *DB) signInFailed(ctx context.Context, u relais.User) (relais.User, error) {
	const op = "user.authenticate"
	var n int
	err := db.w.QueryRowContext(ctx, db.rebind("UPDATE app_user SET failed_sign_ins = failed_sign_ins + 1 WHERE id = ? RETURNING failed_sign_ins"), u.ID).Scan(&n)
	if err != nil {
		return u, relais.E(op, mapErr(err))
	}
	if n < relais.LockoutAfter {
		return u, nil
	}
	// The lock-out is Relais's own decision: the system actor takes it.
	sys := relais.WithActor(ctx, relais.SystemActor(db.Site))
	err = db.Write(sys, "user.lock", func(tx *Tx) error {
		before, err := userByID(tx, u.ID)
		if err != nil {
			return err
		}
		if before.Locked(tx.Now()) {
			u = before // locked meanwhile by a concurrent failure
			return nil
		}
		if _, err := tx.Exec("UPDATE app_user SET locked_until = ?, failed_sign_ins = 0 WHERE id = ?", T(tx.Now().Add(relais.LockoutFor)), u.ID); err != nil {
			return err
		}
		after, err := userByID(tx, u.ID)
		if err != nil {
			return err
		}
		u = after
		return tx.Journal("user.lock", "user", u.ID, before, after)
	})
	return u, err
}

// UnlockUser lifts a lock-out.
func (db *DB) UnlockUser(ctx context.Context, id relais.ID) (relais.User, error) {
	const op = "user.unlock"
	var u relais.User
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := userByID(tx, id)
		if err != nil {
			return err
		}
		if !before.Locked(tx.Now()) {
			return relais.E(op, relais.KindConflict, "this account is not locked")
		}
		if _, err := tx.Exec("UPDATE app_user SET locked_until = NULL, failed_sign_ins = 0 WHERE id = ?", id); err != nil {
			return err
		}
		if u, err = userByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "user", id, before, u)
	})
	return u, err
}

// UpdateUser changes an account's name or role. A new role applies at the
// account's next request: sessions read the account afresh each time.
func (db *DB) UpdateUser(ctx context.Context, id relais.ID, in relais.UserUpdate) (relais.User, error) {
	const op = "user.update"
	var errs []error
	if in.Name != nil {
		if err := checkName(op, *in.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if in.Role != nil {
		if err := checkRole(op, *in.Role); err != nil {
			errs = append(errs, err)
		}
	}
	if in.Name == nil && in.Role == nil {
		errs = append(errs, relais.E(op, relais.KindInvalid, "nothing to change: send name or role"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.User{}, err
	}
	var u relais.User
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := userByID(tx, id)
		if err != nil {
			return err
		}
		if before.IdentityProvider != "" && in.Role != nil {
			return relais.E(op, relais.KindConflict, relais.Field("role"),
				"this account signs in through "+before.IdentityProvider+", whose groups give its role: change it there")
		}
		u = before
		if in.Name != nil {
			u.Name = strings.TrimSpace(*in.Name)
		}
		if in.Role != nil {
			u.Role = *in.Role
		}
		if u == before {
			return nil
		}
		if _, err := tx.Exec("UPDATE app_user SET name = ?, role = ? WHERE id = ?", u.Name, u.Role, id); err != nil {
			return err
		}
		if u, err = userByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "user", id, before, u)
	})
	return u, err
}

// SetUserDisabled disables or enables an account; disabling ends its
// sessions in the same transaction.
func (db *DB) SetUserDisabled(ctx context.Context, id relais.ID, disabled bool) (relais.User, error) {
	op := "user.enable"
	if disabled {
		op = "user.disable"
	}
	var u relais.User
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := userByID(tx, id)
		if err != nil {
			return err
		}
		if a := tx.Actor(); disabled && a.UserID == id {
			return relais.E(op, relais.KindConflict, "you cannot disable your own account: ask another administrator")
		}
		if before.Disabled == disabled {
			u = before
			return nil
		}
		if _, err := tx.Exec("UPDATE app_user SET disabled = ? WHERE id = ?", disabled, id); err != nil {
			return err
		}
		if disabled {
			if _, err := tx.Exec("DELETE FROM app_session WHERE user_id = ?", id); err != nil {
				return err
			}
		}
		if u, err = userByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "user", id, before, u)
	})
	return u, err
}

// ExternalSignIn finds or creates the account of a single sign-on identity.
// Relais acts here on the identity provider's word: the system actor
// journals what changes.
func (db *DB) ExternalSignIn(ctx context.Context, id relais.ExternalIdentity) (relais.User, error) {
	const op = "user.external_sign_in"
	username := strings.TrimSpace(strings.ToLower(id.Username))
	var errs []error
	if id.Issuer == "" || id.Subject == "" {
		errs = append(errs, relais.E(op, relais.KindInvalid, "the identity has no issuer or subject"))
	}
	for _, err := range []error{checkUsername(op, username), checkName(op, id.Name), checkRole(op, id.Role)} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.User{}, err
	}
	ctx = relais.WithActor(ctx, relais.SystemActor(db.Site))
	var u relais.User
	err := db.Write(ctx, op, func(tx *Tx) error {
		var uid relais.ID
		err := tx.QueryRow("SELECT user_id FROM external_identity WHERE issuer = ? AND subject = ?", id.Issuer, id.Subject).Scan(&uid)
		switch {
		case err == nil:
			before, err := userByID(tx, uid)
			if err != nil {
				return err
			}
			if before.Disabled {
				return relais.E(op, relais.KindUnauthorized, "this account is disabled in Relais: ask an administrator", relais.ErrAccountDisabled)
			}
			u = before
			if before.Name == id.Name && before.Role == id.Role {
				return nil
			}
			if _, err := tx.Exec("UPDATE app_user SET name = ?, role = ? WHERE id = ?", id.Name, id.Role, uid); err != nil {
				return err
			}
			if u, err = userByID(tx, uid); err != nil {
				return err
			}
			return tx.Journal("user.update", "user", uid, before, u)
		case relais.ErrorKind(mapErr(err)) != relais.KindNotFound:
			return mapErr(err)
		}
		// First sign-in: the account is made from the claims.
		u, err = insertUser(tx, relais.User{Username: username, Name: id.Name, Role: id.Role, IdentityProvider: id.Issuer}, "")
		if err != nil {
			if relais.ErrorKind(err) == relais.KindConflict {
				return relais.E(op, relais.KindConflict, relais.Field("username"), fmt.Sprintf(
					"the username %q given by the identity provider is already used by another Relais account: ask an administrator", username))
			}
			return err
		}
		link := externalIdentity{ID: relais.NewID(), Site: tx.Site(), Issuer: id.Issuer, Subject: id.Subject, UserID: u.ID, CreatedAt: tx.Now()}
		if _, err := tx.Exec("INSERT INTO external_identity (id, site, issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			link.ID, link.Site, link.Issuer, link.Subject, link.UserID, T(link.CreatedAt)); err != nil {
			return err
		}
		got, err := externalIdentityByID(tx, link.ID)
		if err != nil {
			return err
		}
		return tx.Journal("user.link_identity", "external_identity", link.ID, nil, got)
	})
	return u, err
}

// externalIdentity is the journal image of a single sign-on link.
type externalIdentity struct {
	ID        relais.ID `json:"id"`
	Site      string    `json:"site"`
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	UserID    relais.ID `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

func externalIdentityByID(tx *Tx, id relais.ID) (externalIdentity, error) {
	var e externalIdentity
	err := tx.QueryRow("SELECT id, site, issuer, subject, user_id, created_at FROM external_identity WHERE id = ?", id).
		Scan(&e.ID, &e.Site, &e.Issuer, &e.Subject, &e.UserID, ScanTime(&e.CreatedAt))
	if err != nil {
		return e, getErr("identity.get", "single sign-on identity", err)
	}
	return e, nil
}

// UserByID returns one account.
func (db *DB) UserByID(ctx context.Context, id relais.ID) (relais.User, error) {
	var u relais.User
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		u, err = userByID(tx, id)
		return err
	})
	return u, err
}

const userColumns = "id, site, username, name, role, disabled, locked_until, identity_provider, created_at"

func scanUser(row interface{ Scan(...any) error }) (relais.User, error) {
	var u relais.User
	err := row.Scan(&u.ID, &u.Site, &u.Username, &u.Name, &u.Role, &u.Disabled, ScanTime(&u.LockedUntil), &u.IdentityProvider, ScanTime(&u.CreatedAt))
	return u, err
}

func userByID(tx *Tx, id relais.ID) (relais.User, error) {
	u, err := scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM app_user WHERE id = ?`, id))
	if err != nil {
		return u, getErr("user.get", "account", err)
	}
	return u, nil
}

// Users lists the accounts, by username.
func (db *DB) Users(ctx context.Context) ([]relais.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM app_user ORDER BY username`)
	if err != nil {
		return nil, relais.E("user.list", mapErr(err))
	}
	defer rows.Close()
	out := []relais.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func init() {
	registerEntity("external_identity", "external_identity", func(tx *Tx, id relais.ID) (any, error) { return externalIdentityByID(tx, id) })
}
