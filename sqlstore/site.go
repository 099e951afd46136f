package sqlstore

import (
	"context"
	"strings"

	"github.com/relais-onco/relais"
)

// SaveSite creates or updates a site of the network.
func (db *DB) SaveSite(ctx context.Context, s relais.Site) error {
	const op = "site.save"
	var errs []error
	if strings.TrimSpace(s.ID) == "" {
		errs = append(errs, relais.Invalid(op, "id", "a site needs an id, e.g. chg-landes"))
	}
	if strings.TrimSpace(s.Name) == "" {
		errs = append(errs, relais.Invalid(op, "name", "a site needs a name"))
	}
	if s.Kind != "chu" && s.Kind != "chg" && s.Kind != "other" {
		errs = append(errs, relais.Invalid(op, "kind", "kind must be chu, chg or other"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return err
	}
	return db.Write(ctx, op, func(tx *Tx) error {
		before, err := siteByID(tx, s.ID)
		var prev any
		if err == nil {
			prev = before
			_, err = tx.Exec("UPDATE site SET name = ?, kind = ?, public_key = ? WHERE id = ?", s.Name, s.Kind, s.PublicKey, s.ID)
		} else if relais.ErrorKind(err) == relais.KindNotFound {
			_, err = tx.Exec("INSERT INTO site (id, name, kind, public_key, created_at) VALUES (?, ?, ?, ?, ?)", s.ID, s.Name, s.Kind, s.PublicKey, T(tx.Now()))
		}
		if err != nil {
			return err
		}
		after, err := siteByID(tx, s.ID)
		if err != nil {
			return err
		}
		return tx.Journal(op, "site", relais.ID(s.ID), prev, after)
	})
}

func siteByID(tx *Tx, id string) (relais.Site, error) {
	var s relais.Site
	err := tx.QueryRow("SELECT id, name, kind, public_key FROM site WHERE id = ?", id).Scan(&s.ID, &s.Name, &s.Kind, &s.PublicKey)
	if err != nil {
		return s, relais.E("site.get", mapErr(err))
	}
	return s, nil
}

// Sites lists the sites known to this database.
func (db *DB) Sites(ctx context.Context) ([]relais.Site, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, name, kind, public_key FROM site ORDER BY id")
	if err != nil {
		return nil, relais.E("site.list", mapErr(err))
	}
	defer rows.Close()
	var out []relais.Site
	for rows.Next() {
		var s relais.Site
		if err := rows.Scan(&s.ID, &s.Name, &s.Kind, &s.PublicKey); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func init() {
	registerEntity("site", "site", func(tx *Tx, id relais.ID) (any, error) { return siteByID(tx, string(id)) })
}
