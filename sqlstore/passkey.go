package sqlstore

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/relais-onco/relais"
)

// Passkeys. Adding and removing one is journaled on the "passkey" entity,
// whose image is what identifies the key (credential id, public key, name).
// The WebAuthn record's signature counter changes at every use and is kept
// in the credential column, outside the image and unjournaled: it is a
// clone-detection aid, not a change of state anyone decides.

// MaxPasskeys bounds the passkeys of one account.
const MaxPasskeys = 10

// AddPasskey registers a passkey.
func (db *DB) AddPasskey(ctx context.Context, p relais.Passkey) (relais.Passkey, error) {
	const op = "passkey.add"
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		p.Name = "passkey"
	}
	if err := checkName(op, p.Name); err != nil {
		return relais.Passkey{}, relais.Invalid(op, "name", "a passkey's name has at most 200 characters, without line breaks")
	}
	if p.CredentialID == "" || p.PublicKey == "" || !json.Valid(p.Credential) {
		return relais.Passkey{}, relais.E(op, relais.KindInvalid, "the passkey is incomplete")
	}
	var out relais.Passkey
	err := db.Write(ctx, op, func(tx *Tx) error {
		if _, err := userByID(tx, p.UserID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow("SELECT COUNT(*) FROM passkey WHERE user_id = ?", p.UserID).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n >= MaxPasskeys {
			return relais.E(op, relais.KindConflict, "this account already has 10 passkeys: remove one first")
		}
		p.ID = relais.NewID()
		if _, err := tx.Exec(`INSERT INTO passkey (id, site, user_id, name, credential_id, public_key, credential, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, tx.Site(), p.UserID, p.Name, p.CredentialID, p.PublicKey, string(p.Credential), T(tx.Now())); err != nil {
			if relais.ErrorKind(err) == relais.KindConflict {
				return relais.E(op, relais.KindConflict, "this passkey is already registered")
			}
			return err
		}
		var err error
		if out, err = passkeyByID(tx, p.ID); err != nil {
			return err
		}
		return tx.Journal(op, "passkey", p.ID, nil, out)
	})
	return out, err
}

// Passkeys lists an account's passkeys, with their WebAuthn records.
func (db *DB) Passkeys(ctx context.Context, userID relais.ID) ([]relais.Passkey, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT id, user_id, name, credential_id, public_key, created_at, credential, last_used_at
		FROM passkey WHERE user_id = ? ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, relais.E("passkey.list", mapErr(err))
	}
	defer rows.Close()
	out := []relais.Passkey{}
	for rows.Next() {
		var p relais.Passkey
		var cred string
		if err := rows.Scan(&p.ID, &p.UserID, &p.Name, &p.CredentialID, &p.PublicKey, ScanTime(&p.CreatedAt), &cred, ScanTime(&p.LastUsedAt)); err != nil {
			return nil, err
		}
		p.Credential = json.RawMessage(cred)
		out = append(out, p)
	}
	return out, rows.Err()
}

// PasskeyUsed stores a passkey's record after a sign-in (its counter).
func (db *DB) PasskeyUsed(ctx context.Context, id relais.ID, credential json.RawMessage) error {
	if !json.Valid(credential) {
		return relais.E("passkey.used", relais.KindInvalid, "the passkey record is not JSON")
	}
	_, err := db.w.ExecContext(ctx, db.rebind("UPDATE passkey SET credential = ?, last_used_at = ? WHERE id = ?"),
		string(credential), T(relais.Now()), id)
	return mapErr(err)
}

// RemovePasskey removes one of the account's passkeys.
func (db *DB) RemovePasskey(ctx context.Context, userID, id relais.ID) error {
	const op = "passkey.remove"
	return db.Write(ctx, op, func(tx *Tx) error {
		before, err := passkeyByID(tx, id)
		if err != nil {
			return err
		}
		if before.UserID != userID {
			return relais.E(op, relais.KindNotFound, "this account has no such passkey")
		}
		if _, err := tx.Exec("DELETE FROM passkey WHERE id = ?", id); err != nil {
			return err
		}
		return tx.Journal(op, "passkey", id, before, nil)
	})
}

// passkeyByID reads a passkey's journal image (without the WebAuthn record).
func passkeyByID(tx *Tx, id relais.ID) (relais.Passkey, error) {
	var p relais.Passkey
	err := tx.QueryRow("SELECT id, user_id, name, credential_id, public_key, created_at FROM passkey WHERE id = ?", id).
		Scan(&p.ID, &p.UserID, &p.Name, &p.CredentialID, &p.PublicKey, ScanTime(&p.CreatedAt))
	if err != nil {
		return p, getErr("passkey.get", "passkey", err)
	}
	return p, nil
}

func init() {
	registerEntity("passkey", "passkey", func(tx *Tx, id relais.ID) (any, error) { return passkeyByID(tx, id) })
}
