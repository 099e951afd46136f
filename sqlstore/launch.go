package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/launch"
)

// Spent launch tokens (table launch_token). A token's issuer and jti are
// kept until well after it expires, so that neither a replay nor a restart
// reopens its window; the launch itself (who opened which patient) is in
// the access log.

var _ launch.ReplayStore = (*DB)(nil)

// launchKeep is how long a spent token is kept after its expiry: any token
// older than that is refused as expired anyway.
const launchKeep = 24 * time.Hour

// UseLaunchToken records a spent token; KindConflict when it was spent.
func (db *DB) UseLaunchToken(ctx context.Context, u launch.Use) error {
	const op = "launch.use"
	ctx = relais.WithActor(ctx, relais.SystemActor(db.Site))
	return db.Write(ctx, op, func(tx *Tx) error {
		var usedAt time.Time
		err := tx.QueryRow("SELECT used_at FROM launch_token WHERE issuer = ? AND jti = ?", u.Issuer, u.JTI).Scan(ScanTime(&usedAt))
		if err == nil {
			return relais.E(op, relais.KindConflict, fmt.Sprintf("launch token %s of %s was used on %s", u.JTI, u.Issuer,
				usedAt.In(relais.DisplayZone).Format("02/01/2006 15:04:05")))
		}
		if relais.ErrorKind(mapErr(err)) != relais.KindNotFound {
			return relais.E(op, mapErr(err))
		}
		if _, err := tx.Exec(`INSERT INTO launch_token (issuer, jti, used_at, expires_at, user_id, purpose, remote)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.Issuer, u.JTI, T(tx.Now()), T(u.ExpiresAt), u.UserID, u.Purpose, u.Remote); err != nil {
			if relais.ErrorKind(err) == relais.KindConflict { // spent at the same instant by another request
				return relais.E(op, relais.KindConflict, "launch token "+u.JTI+" of "+u.Issuer+" was just used")
			}
			return relais.E(op, err)
		}
		_, err = tx.Exec("DELETE FROM launch_token WHERE expires_at < ?", T(tx.Now().Add(-launchKeep)))
		return err
	})
}
