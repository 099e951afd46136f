package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/harmonize"
)

// This site's copy of the protocol versions the other sites publish
// (package harmonize, migration 0013): a cache refilled from the network,
// not a record this site owns, so it is written without journal entries and
// is not registered for audit or replay. It lets the harmonisation page work
// while the hub is unreachable. What a site does with it — adopting a
// version as a draft — goes through ImportProtocol, journaled as usual.

var _ harmonize.Cache = (*DB)(nil)

// SaveRemoteVersion stores (or replaces) another site's published version.
func (db *DB) SaveRemoteVersion(ctx context.Context, v harmonize.Version) error {
	const op = "harmonize.cache"
	if v.Site == db.Site {
		return relais.Invalid(op, "site", "version %d of %s is this site's own: the library itself is its record", v.Number, v.Code)
	}
	if v.ReceivedAt.IsZero() {
		v.ReceivedAt = relais.Now()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return relais.E(op, err)
	}
	return db.writeRaw(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO remote_protocol_version
			(site, code, number, status, content_hash, name, population, published_at, received_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (site, code, number) DO UPDATE SET status = excluded.status, content_hash = excluded.content_hash,
				name = excluded.name, population = excluded.population, published_at = excluded.published_at,
				received_at = excluded.received_at, version = excluded.version`),
			v.Site, v.Code, v.Number, string(v.Status), v.ContentHash, v.Document.Name, string(v.Document.Population),
			T(v.PublishedAt), T(v.ReceivedAt), string(b))
		return mapErr(err)
	})
}

// RemoveRemoteVersion forgets a version its site withdrew (no longer active
// nor in test).
func (db *DB) RemoveRemoteVersion(ctx context.Context, site, code string, number int) error {
	return db.writeRaw(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.rebind("DELETE FROM remote_protocol_version WHERE site = ? AND code = ? AND number = ?"), site, code, number)
		return mapErr(err)
	})
}

// RemoteVersions lists the other sites' versions as last received, by site,
// code and number.
func (db *DB) RemoteVersions(ctx context.Context) ([]harmonize.Version, error) {
	const op = "harmonize.cache"
	rows, err := db.r.QueryContext(ctx, "SELECT version, received_at FROM remote_protocol_version ORDER BY site, code, number")
	if err != nil {
		return nil, relais.E(op, mapErr(err))
	}
	defer rows.Close()
	out := []harmonize.Version{}
	for rows.Next() {
		var raw string
		var received time.Time
		if err := rows.Scan(&raw, ScanTime(&received)); err != nil {
			return nil, relais.E(op, err)
		}
		var v harmonize.Version
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, relais.E(op, relais.KindIntegrity, "a cached version of another site cannot be read", err)
		}
		v.ReceivedAt = received
		out = append(out, v)
	}
	return out, rows.Err()
}
