package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
)

var _ relais.UserService = (*DB)(nil)

// CreateUser creates an account with a password (empty: no password sign-in).
func (db *DB) CreateUser(ctx context.Context, u relais.User, password string) (relais.User, error) {
	const op = "user.create"
	u.Username = strings.TrimSpace(strings.ToLower(u.Username))
	var errs []error
	if u.Username == "" {
		errs = append(errs, relais.Invalid(op, "username", "a username is required"))
	}
	if strings.TrimSpace(u.Name) == "" {
		errs = append(errs, relais.Invalid(op, "name", "the person's name is required"))
	}
	if !u.Role.Valid() || u.Role == relais.RoleSystem {
		errs = append(errs, relais.Invalid(op, "role", "unknown role %q", u.Role))
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
		u.ID = relais.NewID()
		if u.Site == "" {
			u.Site = tx.Site()
		}
		u.CreatedAt = tx.Now()
		if _, err := tx.Exec(`INSERT INTO app_user (id, site, username, name, role, password_hash, disabled, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Site, u.Username, u.Name, u.Role, hash, u.Disabled, T(u.CreatedAt)); err != nil {
			if relais.ErrorKind(err) == relais.KindConflict {
				return relais.E(op, relais.KindConflict, relais.Field("username"), "this username is taken")
			}
			return err
		}
		got, err := userByID(tx, u.ID)
		if err != nil {
			return err
		}
		u = got
		return tx.Journal("user.create", "user", u.ID, nil, u)
	})
	return u, err
}

// Authenticate checks a password sign-in.
func (db *DB) Authenticate(ctx context.Context, username, password string) (relais.User, error) {
	const op = "user.authenticate"
	var u relais.User
	var hash string
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT id, site, username, name, role, disabled, created_at, password_hash
		FROM app_user WHERE username = ?`), strings.ToLower(strings.TrimSpace(username))).
		Scan(&u.ID, &u.Site, &u.Username, &u.Name, &u.Role, &u.Disabled, ScanTime(&u.CreatedAt), &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return relais.User{}, relais.E(op, mapErr(err))
	}
	// Hash even when the user is unknown, so timing does not tell.
	ok := auth.CheckPassword(hash, password)
	if err != nil || hash == "" || !ok || u.Disabled {
		return relais.User{}, relais.E(op, relais.KindUnauthorized, "unknown username or wrong password")
	}
	return u, nil
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

func userByID(tx *Tx, id relais.ID) (relais.User, error) {
	var u relais.User
	err := tx.QueryRow(`SELECT id, site, username, name, role, disabled, created_at FROM app_user WHERE id = ?`, id).
		Scan(&u.ID, &u.Site, &u.Username, &u.Name, &u.Role, &u.Disabled, ScanTime(&u.CreatedAt))
	if err != nil {
		return u, relais.E("user.get", mapErr(err))
	}
	return u, nil
}

// Users lists the accounts, by username.
func (db *DB) Users(ctx context.Context) ([]relais.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, site, username, name, role, disabled, created_at FROM app_user ORDER BY username`)
	if err != nil {
		return nil, relais.E("user.list", mapErr(err))
	}
	defer rows.Close()
	var out []relais.User
	for rows.Next() {
		var u relais.User
		if err := rows.Scan(&u.ID, &u.Site, &u.Username, &u.Name, &u.Role, &u.Disabled, ScanTime(&u.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
