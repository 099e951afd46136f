package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
)

// API tokens: scoped credentials for programs (scripts, other sites, the
// crisis node). A token acts as its account, limited to the permissions it
// was given, until it expires or is revoked. Only its hash is stored; the
// secret is shown once. Creating and revoking are journaled on the
// "api_token" entity; the time of last use is not (it changes with traffic).

var _ relais.TokenService = (*DB)(nil)

// MaxTokenDays bounds a token's life: a token that never expires is one
// nobody remembers to revoke.
const MaxTokenDays = 366

// CreateToken makes a token for an account.
func (db *DB) CreateToken(ctx context.Context, in relais.TokenInput) (relais.APIToken, string, error) {
	const op = "token.create"
	in.Name = strings.TrimSpace(in.Name)
	var errs []error
	if _, err := relais.ParseID("user_id", string(in.UserID)); err != nil {
		errs = append(errs, err)
	}
	if in.Name == "" || len([]rune(in.Name)) > 100 {
		errs = append(errs, relais.Invalid(op, "name", "say what the token is for, in at most 100 characters, e.g. \"nightly export\""))
	} else if err := checkName(op, in.Name); err != nil {
		errs = append(errs, relais.Invalid(op, "name", "a token's name cannot contain control characters"))
	}
	if in.ExpiresIn < 1 || in.ExpiresIn > MaxTokenDays {
		errs = append(errs, relais.Invalid(op, "expires_in_days", "a token lives from 1 to %d days", MaxTokenDays))
	}
	if len(in.Permissions) == 0 {
		errs = append(errs, relais.Invalid(op, "permissions", "give the token at least one permission"))
	}
	for i, p := range in.Permissions {
		if !p.Valid() || p == relais.PermPublic || p == relais.PermSignedIn {
			errs = append(errs, relais.Invalid(op, fmt.Sprintf("permissions[%d]", i), "unknown permission %q: see docs/permissions.md", truncate(string(p), 40)))
		}
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.APIToken{}, "", err
	}
	perms := slices.Clone(in.Permissions)
	slices.Sort(perms)
	perms = slices.Compact(perms)
	secret, hash := auth.NewSecret(auth.PrefixToken)
	var t relais.APIToken
	err := db.Write(ctx, op, func(tx *Tx) error {
		u, err := userByID(tx, in.UserID)
		if err != nil {
			return err
		}
		if u.Disabled {
			return relais.E(op, relais.KindConflict, relais.Field("user_id"), "this account is disabled")
		}
		for i, p := range in.Permissions {
			if !u.Role.Can(p) {
				return relais.Invalid(op, fmt.Sprintf("permissions[%d]", i),
					"the account's role (%s) does not have %s: a token can only narrow its account's permissions", u.Role, p)
			}
		}
		id := relais.NewID()
		if _, err := tx.Exec(`INSERT INTO api_token (id, site, user_id, name, token_hash, permissions, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, tx.Site(), u.ID, in.Name, hash, joinPerms(perms), tx.Actor().Username,
			T(tx.Now()), T(tx.Now().Add(time.Duration(in.ExpiresIn)*24*time.Hour))); err != nil {
			return err
		}
		if t, err = tokenByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "api_token", id, nil, t)
	})
	if err != nil {
		return relais.APIToken{}, "", err
	}
	return t, secret, nil
}

func joinPerms(ps []relais.Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ",")
}

func splitPerms(s string) []relais.Permission {
	out := []relais.Permission{}
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, relais.Permission(p))
		}
	}
	return out
}

// AuthenticateToken returns a live token and its account.
func (db *DB) AuthenticateToken(ctx context.Context, secret string) (relais.APIToken, relais.User, error) {
	const op = "token.authenticate"
	unknown := relais.E(op, relais.KindUnauthorized, "unknown API token: check it was copied whole, or ask an administrator for a new one")
	if !auth.LooksLike(secret, auth.PrefixToken) {
		return relais.APIToken{}, relais.User{}, unknown
	}
	var t relais.APIToken
	var perms string
	var u relais.User
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT t.id, t.user_id, u.username, t.name, t.permissions, t.created_by, t.created_at,
		t.expires_at, t.revoked_at, t.last_used_at,
		u.id, u.site, u.username, u.name, u.role, u.disabled, u.locked_until, u.identity_provider, u.created_at
		FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.token_hash = ?`), auth.HashSecret(secret)).
		Scan(&t.ID, &t.UserID, &t.Username, &t.Name, &perms, &t.CreatedBy, ScanTime(&t.CreatedAt), ScanTime(&t.ExpiresAt),
			ScanTime(&t.RevokedAt), ScanTime(&t.LastUsedAt),
			&u.ID, &u.Site, &u.Username, &u.Name, &u.Role, &u.Disabled, ScanTime(&u.LockedUntil), &u.IdentityProvider, ScanTime(&u.CreatedAt))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return t, u, unknown
		}
		return t, u, relais.E(op, mapErr(err))
	}
	t.Permissions = splitPerms(perms)
	now := relais.Now()
	switch {
	case !t.RevokedAt.IsZero():
		return t, u, relais.E(op, relais.KindUnauthorized, "this API token was revoked on "+t.RevokedAt.In(relais.DisplayZone).Format("02/01/2006")+": ask an administrator for a new one")
	case !now.Before(t.ExpiresAt):
		return t, u, relais.E(op, relais.KindUnauthorized, "this API token expired on "+t.ExpiresAt.In(relais.DisplayZone).Format("02/01/2006")+": ask an administrator for a new one")
	case u.Disabled:
		return t, u, relais.E(op, relais.KindUnauthorized, "the account of this API token is disabled")
	}
	// Last use, at most once a minute per token.
	if now.Sub(t.LastUsedAt) > time.Minute {
		if _, err := db.w.ExecContext(ctx, db.rebind("UPDATE api_token SET last_used_at = ? WHERE id = ?"), T(now), t.ID); err != nil {
			return t, u, relais.E(op, mapErr(err))
		}
		t.LastUsedAt = now
	}
	return t, u, nil
}

// Tokens lists the tokens, newest first.
func (db *DB) Tokens(ctx context.Context) ([]relais.APIToken, error) {
	var out []relais.APIToken
	err := db.Read(ctx, func(tx *Tx) error {
		ids, err := queryStrings(tx, "SELECT id FROM api_token ORDER BY created_at DESC, id DESC")
		if err != nil {
			return err
		}
		out = make([]relais.APIToken, 0, len(ids))
		for _, id := range ids {
			t, err := tokenByID(tx, relais.ID(id))
			if err != nil {
				return err
			}
			if err := tx.QueryRow("SELECT last_used_at FROM api_token WHERE id = ?", id).Scan(ScanTime(&t.LastUsedAt)); err != nil {
				return mapErr(err)
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// RevokeToken revokes a token at once.
func (db *DB) RevokeToken(ctx context.Context, id relais.ID) (relais.APIToken, error) {
	const op = "token.revoke"
	var t relais.APIToken
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := tokenByID(tx, id)
		if err != nil {
			return err
		}
		if !before.RevokedAt.IsZero() {
			return relais.E(op, relais.KindConflict, "this token is already revoked")
		}
		if _, err := tx.Exec("UPDATE api_token SET revoked_at = ? WHERE id = ?", T(tx.Now()), id); err != nil {
			return err
		}
		if t, err = tokenByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "api_token", id, before, t)
	})
	return t, err
}

// tokenByID reads a token's journal image (no hash, no time of last use).
func tokenByID(tx *Tx, id relais.ID) (relais.APIToken, error) {
	var t relais.APIToken
	var perms string
	err := tx.QueryRow(`SELECT t.id, t.user_id, u.username, t.name, t.permissions, t.created_by, t.created_at, t.expires_at, t.revoked_at
		FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.id = ?`, id).
		Scan(&t.ID, &t.UserID, &t.Username, &t.Name, &perms, &t.CreatedBy, ScanTime(&t.CreatedAt), ScanTime(&t.ExpiresAt), ScanTime(&t.RevokedAt))
	if err != nil {
		return t, getErr("token.get", "API token", err)
	}
	t.Permissions = splitPerms(perms)
	return t, nil
}

func init() {
	registerEntity("api_token", "api_token", func(tx *Tx, id relais.ID) (any, error) { return tokenByID(tx, id) })
}
