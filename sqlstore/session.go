package sqlstore

import (
	"context"
	"time"

	"github.com/relais-onco/relais"
)

// Sessions live in the database so that they survive a restart (and a
// failover to the standby). They are keyed by the SHA-256 of the cookie's
// secret: a copy of the table signs no one in.
//
// Sessions are not journaled. They change at every request (activity), they
// are not patient-care data, and a sign-in changes nothing the journal
// describes; journaling them would bury the circuit's entries under
// thousands of technical ones and replicate them to every site. What matters
// for accountability is journaled elsewhere: changes of accounts (user.go),
// and every read of a patient's data, in the append-only access log
// (access.go). These writes bypass Write (and its journal lock) for the same
// reason.

var _ relais.SessionService = (*DB)(nil)

// CreateSession stores a new session.
func (db *DB) CreateSession(ctx context.Context, s relais.Session) error {
	if len(s.IDHash) != 64 || s.UserID == "" || s.Method == "" {
		return relais.E("session.create", relais.KindInvalid, "incomplete session")
	}
	_, err := db.w.ExecContext(ctx, db.rebind(`INSERT INTO app_session (id_hash, user_id, method, created_at, last_seen_at, expires_at,
		pending_second_factor, remote_addr, user_agent, revalidate_at, sealed_refresh) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		s.IDHash, s.UserID, s.Method, T(s.CreatedAt), T(s.LastSeenAt), T(s.ExpiresAt), s.PendingSecondFactor,
		truncate(s.RemoteAddr, 100), truncate(s.UserAgent, 300), NT(s.RevalidateAt), s.SealedRefresh)
	if err != nil {
		return relais.E("session.create", mapErr(err))
	}
	return nil
}

// SessionByHash returns a session with its account.
func (db *DB) SessionByHash(ctx context.Context, idHash string) (relais.Session, relais.User, error) {
	var s relais.Session
	var u relais.User
	err := db.readRow(ctx, `SELECT s.id_hash, s.user_id, s.method, s.created_at, s.last_seen_at, s.expires_at,
		s.pending_second_factor, s.remote_addr, s.user_agent, s.revalidate_at, s.sealed_refresh,
		u.id, u.site, u.username, u.name, u.role, u.disabled, u.locked_until, u.identity_provider, u.created_at
		FROM app_session s JOIN app_user u ON u.id = s.user_id WHERE s.id_hash = ?`, idHash).
		Scan(&s.IDHash, &s.UserID, &s.Method, ScanTime(&s.CreatedAt), ScanTime(&s.LastSeenAt), ScanTime(&s.ExpiresAt),
			&s.PendingSecondFactor, &s.RemoteAddr, &s.UserAgent, ScanTime(&s.RevalidateAt), &s.SealedRefresh,
			&u.ID, &u.Site, &u.Username, &u.Name, &u.Role, &u.Disabled, ScanTime(&u.LockedUntil), &u.IdentityProvider, ScanTime(&u.CreatedAt))
	if err != nil {
		return s, u, relais.E("session.get", mapErr(err))
	}
	return s, u, nil
}

// TouchSession records activity.
func (db *DB) TouchSession(ctx context.Context, idHash string, t time.Time) error {
	_, err := db.w.ExecContext(ctx, db.rebind("UPDATE app_session SET last_seen_at = ? WHERE id_hash = ?"), T(t), idHash)
	return mapErr(err)
}

// RevalidatedSession records a successful check with the identity provider.
func (db *DB) RevalidatedSession(ctx context.Context, idHash string, next time.Time, sealedRefresh string) error {
	q, args := "UPDATE app_session SET revalidate_at = ? WHERE id_hash = ?", []any{T(next), idHash}
	if sealedRefresh != "" {
		q, args = "UPDATE app_session SET revalidate_at = ?, sealed_refresh = ? WHERE id_hash = ?", []any{T(next), sealedRefresh, idHash}
	}
	_, err := db.w.ExecContext(ctx, db.rebind(q), args...)
	return mapErr(err)
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	_, err := db.w.ExecContext(ctx, db.rebind("DELETE FROM app_session WHERE id_hash = ?"), idHash)
	return mapErr(err)
}

// DeleteUserSessions ends every session of an account.
func (db *DB) DeleteUserSessions(ctx context.Context, userID relais.ID) error {
	_, err := db.w.ExecContext(ctx, db.rebind("DELETE FROM app_session WHERE user_id = ?"), userID)
	return mapErr(err)
}

// DeleteExpiredSessions removes sessions idle since before idleBefore or
// past their absolute end at t.
func (db *DB) DeleteExpiredSessions(ctx context.Context, idleBefore, t time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.rebind("DELETE FROM app_session WHERE last_seen_at < ? OR expires_at < ?"), T(idleBefore), T(t))
	if err != nil {
		return 0, mapErr(err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
