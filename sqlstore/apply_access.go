package sqlstore

import (
	"github.com/relais-onco/relais"
)

// Appliers of sites, accounts and what belongs to them. Secrets never travel
// in the journal (it is replicated): on a copy an account has no password
// until one is set there (or the copy started from a snapshot, which
// carries the hashes), and an API token, a reset link or a passkey applied
// from an image gets a placeholder that matches no secret — it is listed,
// and can be revoked, but signs no one in.

// unusableSecret is stored where a secret's hash is required but the image
// does not carry it: a real hash is 64 hexadecimal digits, never this.
func unusableSecret(id relais.ID) string { return "not-replicated:" + string(id) }

func init() {
	registerApplier("site", applySite)
	registerApplier("user", applyUser)
	registerApplier("external_identity", applyExternalIdentity)
	registerApplier("api_token", applyToken)
	registerApplier("passkey", applyPasskey)
	registerApplier("access_grant", applyGrant)
	registerApplier("password_reset", applyReset)
}

// applySite keeps created_at, which the image does not carry.
func applySite(tx *Tx, id relais.ID, after []byte) error {
	var s relais.Site
	if err := decodeImage("site", id, after, &s); err != nil {
		return err
	}
	if err := checkImageID("site", id, relais.ID(s.ID)); err != nil {
		return err
	}
	return upsert(tx, "site", []string{"id", "name", "kind", "public_key", "created_at"},
		[]any{s.ID, s.Name, s.Kind, s.PublicKey, T(tx.Now())}, "created_at")
}

// applyUser keeps the password hash and the count of failed sign-ins, which
// are not in the image.
func applyUser(tx *Tx, id relais.ID, after []byte) error {
	var u relais.User
	if err := decodeImage("user", id, after, &u); err != nil {
		return err
	}
	if err := checkImageID("user", id, u.ID); err != nil {
		return err
	}
	return upsert(tx, "app_user", []string{"id", "site", "username", "name", "role", "disabled", "locked_until", "identity_provider",
		"created_at", "password_hash"},
		[]any{u.ID, u.Site, u.Username, u.Name, u.Role, u.Disabled, NT(u.LockedUntil), u.IdentityProvider, T(u.CreatedAt), ""},
		"password_hash")
}

func applyExternalIdentity(tx *Tx, id relais.ID, after []byte) error {
	var e externalIdentity
	if err := decodeImage("external_identity", id, after, &e); err != nil {
		return err
	}
	if err := checkImageID("external_identity", id, e.ID); err != nil {
		return err
	}
	return upsert(tx, "external_identity", []string{"id", "site", "issuer", "subject", "user_id", "created_at"},
		[]any{e.ID, e.Site, e.Issuer, e.Subject, e.UserID, T(e.CreatedAt)})
}

func applyToken(tx *Tx, id relais.ID, after []byte) error {
	var t relais.APIToken
	if err := decodeImage("api_token", id, after, &t); err != nil {
		return err
	}
	if err := checkImageID("api_token", id, t.ID); err != nil {
		return err
	}
	return upsert(tx, "api_token", []string{"id", "site", "user_id", "name", "token_hash", "permissions", "created_by",
		"created_at", "expires_at", "revoked_at"},
		[]any{t.ID, tx.Site(), t.UserID, t.Name, unusableSecret(id), joinPerms(t.Permissions), t.CreatedBy, T(t.CreatedAt),
			T(t.ExpiresAt), NT(t.RevokedAt)}, "site", "token_hash")
}

// applyPasskey: a passkey is the one entity Relais removes (null image).
func applyPasskey(tx *Tx, id relais.ID, after []byte) error {
	if isNull(after) {
		_, err := tx.Exec("DELETE FROM passkey WHERE id = ?", id)
		return err
	}
	var p relais.Passkey
	if err := decodeImage("passkey", id, after, &p); err != nil {
		return err
	}
	if err := checkImageID("passkey", id, p.ID); err != nil {
		return err
	}
	return upsert(tx, "passkey", []string{"id", "site", "user_id", "name", "credential_id", "public_key", "created_at", "credential"},
		[]any{p.ID, tx.Site(), p.UserID, p.Name, p.CredentialID, p.PublicKey, T(p.CreatedAt), ""}, "site", "credential")
}

func applyGrant(tx *Tx, id relais.ID, after []byte) error {
	var g relais.AccessGrant
	if err := decodeImage("access_grant", id, after, &g); err != nil {
		return err
	}
	if err := checkImageID("access_grant", id, g.ID); err != nil {
		return err
	}
	return upsert(tx, "access_grant", []string{"id", "site", "user_id", "username", "user_site", "patient_id", "reason",
		"created_at", "expires_at", "reviewed_at", "reviewed_by", "review_note"},
		[]any{g.ID, tx.Site(), g.UserID, g.Username, g.UserSite, g.PatientID, g.Reason, T(g.CreatedAt), T(g.ExpiresAt),
			NT(g.ReviewedAt), g.ReviewedBy, g.ReviewNote}, "site")
}

func applyReset(tx *Tx, id relais.ID, after []byte) error {
	var r relais.PasswordReset
	if err := decodeImage("password_reset", id, after, &r); err != nil {
		return err
	}
	if err := checkImageID("password_reset", id, r.ID); err != nil {
		return err
	}
	return upsert(tx, "password_reset", []string{"id", "site", "user_id", "token_hash", "issued_by", "created_at", "expires_at",
		"used_at", "revoked_at"},
		[]any{r.ID, tx.Site(), r.UserID, unusableSecret(id), r.IssuedBy, T(r.CreatedAt), T(r.ExpiresAt), NT(r.UsedAt),
			NT(r.RevokedAt)}, "site", "token_hash")
}
