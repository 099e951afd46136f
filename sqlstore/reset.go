package sqlstore

import (
	"context"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
)

// Password-reset links: an administrator issues one for an account, the
// person opens it and chooses a new password. The secret is shown once and
// kept only as its hash; it works once, until it expires, and issuing a new
// one revokes the previous. Issuing, using and revoking are journaled on the
// "password_reset" entity (whose image never holds the hash).

// MaxResetTTL bounds how long a reset link may live.
const MaxResetTTL = 7 * 24 * time.Hour

// IssuePasswordReset makes a reset secret for the account.
func (db *DB) IssuePasswordReset(ctx context.Context, userID relais.ID, ttl time.Duration) (relais.PasswordReset, string, error) {
	const op = "user.password_reset_issue"
	if ttl <= 0 || ttl > MaxResetTTL {
		return relais.PasswordReset{}, "", relais.Invalid(op, "ttl", "a reset link lives from a minute to 7 days")
	}
	secret, hash := auth.NewSecret(auth.PrefixReset)
	var pr relais.PasswordReset
	err := db.Write(ctx, op, func(tx *Tx) error {
		u, err := userByID(tx, userID)
		if err != nil {
			return err
		}
		if u.IdentityProvider != "" {
			return relais.E(op, relais.KindConflict, "this account signs in through "+u.IdentityProvider+": its password is managed there")
		}
		if u.Disabled {
			return relais.E(op, relais.KindConflict, "this account is disabled: enable it first")
		}
		if err := revokeResets(tx, userID); err != nil {
			return err
		}
		id := relais.NewID()
		if _, err := tx.Exec(`INSERT INTO password_reset (id, site, user_id, token_hash, issued_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, tx.Site(), userID, hash, tx.Actor().Username, T(tx.Now()), T(tx.Now().Add(ttl))); err != nil {
			return err
		}
		if pr, err = resetByID(tx, id); err != nil {
			return err
		}
		return tx.Journal("password_reset.issue", "password_reset", id, nil, pr)
	})
	if err != nil {
		return relais.PasswordReset{}, "", err
	}
	return pr, secret, nil
}

// revokeResets revokes the account's unused reset links.
func revokeResets(tx *Tx, userID relais.ID) error {
	ids, err := queryStrings(tx, "SELECT id FROM password_reset WHERE user_id = ? AND used_at IS NULL AND revoked_at IS NULL", userID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		before, err := resetByID(tx, relais.ID(id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE password_reset SET revoked_at = ? WHERE id = ?", T(tx.Now()), id); err != nil {
			return err
		}
		after, err := resetByID(tx, relais.ID(id))
		if err != nil {
			return err
		}
		if err := tx.Journal("password_reset.revoke", "password_reset", relais.ID(id), before, after); err != nil {
			return err
		}
	}
	return nil
}

// ResetPassword sets a new password with a reset secret. The secret is used
// up, the lock-out lifted, and the account's sessions end.
func (db *DB) ResetPassword(ctx context.Context, secret, newPassword string) (relais.User, error) {
	const op = "user.password_reset"
	invalid := relais.E(op, relais.KindUnauthorized, relais.Field("token"),
		"this reset link is unknown, already used, replaced by a newer one, or expired: ask an administrator for a new one")
	if !auth.LooksLike(secret, auth.PrefixReset) {
		return relais.User{}, invalid
	}
	hash, err := auth.HashPassword(newPassword)
	if err != nil {
		return relais.User{}, relais.Invalid(op, "password", "%s", err.Error())
	}
	// Find whose link it is first: the change is journaled as theirs.
	var prID, userID relais.ID
	err = db.r.QueryRowContext(ctx, db.rebind("SELECT id, user_id FROM password_reset WHERE token_hash = ?"), auth.HashSecret(secret)).Scan(&prID, &userID)
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return relais.User{}, invalid
		}
		return relais.User{}, relais.E(op, mapErr(err))
	}
	u, err := db.UserByID(ctx, userID)
	if err != nil {
		return relais.User{}, err
	}
	err = db.Write(relais.WithActor(ctx, u.Actor()), op, func(tx *Tx) error {
		before, err := resetByID(tx, prID)
		if err != nil {
			return err
		}
		// The conditions are in the UPDATE, so that two uses at once cannot
		// both succeed.
		res, err := tx.Exec("UPDATE password_reset SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
			T(tx.Now()), prID, T(tx.Now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return invalid
		}
		after, err := resetByID(tx, prID)
		if err != nil {
			return err
		}
		if err := tx.Journal("password_reset.use", "password_reset", prID, before, after); err != nil {
			return err
		}
		ub, err := userByID(tx, userID)
		if err != nil {
			return err
		}
		if ub.Disabled {
			return relais.E(op, relais.KindUnauthorized, "this account is disabled: ask an administrator")
		}
		if _, err := tx.Exec("UPDATE app_user SET password_hash = ?, failed_sign_ins = 0, locked_until = NULL WHERE id = ?", hash, userID); err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM app_session WHERE user_id = ?", userID); err != nil {
			return err
		}
		if u, err = userByID(tx, userID); err != nil {
			return err
		}
		return tx.Journal("user.password_set", "user", userID, ub, u)
	})
	if err != nil {
		return relais.User{}, err
	}
	return u, nil
}

func resetByID(tx *Tx, id relais.ID) (relais.PasswordReset, error) {
	var pr relais.PasswordReset
	err := tx.QueryRow("SELECT id, user_id, issued_by, created_at, expires_at, used_at, revoked_at FROM password_reset WHERE id = ?", id).
		Scan(&pr.ID, &pr.UserID, &pr.IssuedBy, ScanTime(&pr.CreatedAt), ScanTime(&pr.ExpiresAt), ScanTime(&pr.UsedAt), ScanTime(&pr.RevokedAt))
	if err != nil {
		return pr, getErr("password_reset.get", "password-reset link", err)
	}
	return pr, nil
}

func init() {
	registerEntity("password_reset", "password_reset", func(tx *Tx, id relais.ID) (any, error) { return resetByID(tx, id) })
}
