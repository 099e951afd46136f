// Package launch owns the contextual launch: a hospital's EHR opens a
// patient's page in Relais for the professional already signed in to the
// EHR, without a second sign-in (seed 003: « accès (ou création) … au
// dossier d'un patient … de façon transparente (sans réauthentification) sur
// la base des informations administratives présentes au sein du DPI »).
//
// The EHR posts a short-lived token: a JWT signed with the EHR's key (ES256,
// ES384, RS256 or PS256; never "none" nor a shared-secret HS*), optionally
// encrypted to the site's key (JWE), carrying who the user is, the patient's
// identity traits and INS, the purpose of the access, an expiry at most 60 s
// after issue, and a single-use id. This package verifies it, refuses
// replayed, expired, unsigned or wrongly signed tokens, and finds or creates
// the patient and the user's account; package web then opens the session
// and the page. docs/integration/launch.md is the integrators' description.
package launch

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/relais-onco/relais"
)

// Limits of a token.
const (
	MaxLifetime = 60 * time.Second // exp − iat
	ClockSkew   = 5 * time.Second  // tolerated between the EHR's clock and ours
	MaxTokenLen = 16 << 10
)

// SignatureAlgorithms are the JWS algorithms accepted: asymmetric only, so
// that Relais holds no secret able to forge an EHR's tokens.
var SignatureAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.PS256}

// KeyAlgorithms and ContentEncryptions are the JWE algorithms accepted for
// a token encrypted to the site's key.
var (
	KeyAlgorithms      = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES, jose.ECDH_ES_A256KW}
	ContentEncryptions = []jose.ContentEncryption{jose.A256GCM, jose.A128GCM}
)

// Claims is the content of a launch token.
type Claims struct {
	Issuer   string           `json:"iss"`           // the EHR's id, as configured
	Audience jwt.Audience     `json:"aud"`           // the site's id
	Subject  string           `json:"sub"`           // the user's id at the EHR
	IssuedAt *jwt.NumericDate `json:"iat"`           // required
	Expiry   *jwt.NumericDate `json:"exp"`           // required, ≤ iat + 60 s
	NotBefor *jwt.NumericDate `json:"nbf,omitempty"` // optional
	ID       string           `json:"jti"`           // single use
	User     User             `json:"user"`
	Patient  Patient          `json:"patient"`
	Purpose  string           `json:"purpose"` // care, pharmacy, consultation, … (relais.Purposes)
}

// User is who is launching.
type User struct {
	ID    string `json:"id,omitempty"`    // defaults to sub
	Name  string `json:"name"`            // display name, e.g. "Dr Claire Martin"
	Role  string `json:"role"`            // the EHR's role code, mapped by the site's configuration
	RPPS  string `json:"rpps,omitempty"`  // national professional id (11 digits)
	ADELI string `json:"adeli,omitempty"` // former professional id (9 characters)
}

// Patient carries the identity traits of the EHR's record.
type Patient struct {
	IPP            string      `json:"ipp,omitempty"`
	INS            *relais.INS `json:"ins,omitempty"`
	BirthName      string      `json:"birth_name"`
	UsedName       string      `json:"used_name,omitempty"`
	FirstNames     []string    `json:"first_names"`
	BirthDate      relais.Date `json:"birth_date"`
	Sex            relais.Sex  `json:"sex"`
	BirthplaceCode string      `json:"birthplace_code,omitempty"`
}

// refused is the error of a token that does not open Relais: unauthorized,
// with what the integrator should check.
func refused(format string, args ...any) error {
	return relais.E("launch.verify", relais.KindUnauthorized, fmt.Sprintf(format, args...))
}

// Verify checks a token's form, encryption, signature and claims at time
// now, against cfg. It does not check single use (Service.Launch does, in
// the database).
func Verify(cfg *Config, raw string, now time.Time) (Claims, *EHR, error) {
	var c Claims
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return c, nil, refused("no launch token: the EHR posts it in the form field \"token\"")
	}
	if len(raw) > MaxTokenLen {
		return c, nil, refused("the launch token is longer than %d bytes", MaxTokenLen)
	}
	encrypted := false
	var tok *jwt.JSONWebToken
	switch strings.Count(raw, ".") {
	case 4: // JWE compact: header.key.iv.ciphertext.tag
		if cfg.DecryptionKey == nil {
			return c, nil, refused("the token is encrypted but this site has no decryption key configured")
		}
		// Asymmetric encryption proves nothing of the sender (anyone may
		// encrypt to the site's public key): it only hides the content; the
		// signature inside is what is checked.
		jwe, err := jose.ParseEncryptedCompact(raw, KeyAlgorithms, ContentEncryptions)
		if err != nil {
			return c, nil, refused("the encrypted token cannot be read (%v): encrypt with RSA-OAEP-256 or ECDH-ES(+A256KW) and A256GCM, the signed JWT inside (cty \"JWT\")", err)
		}
		if cty, _ := jwe.Header.ExtraHeaders[jose.HeaderContentType].(string); !strings.EqualFold(cty, "JWT") {
			return c, nil, refused("the encrypted token must carry a signed JWT (header cty \"JWT\")")
		}
		inner, err := jwe.Decrypt(cfg.DecryptionKey)
		if err != nil {
			return c, nil, refused("the token is not encrypted to this site's key")
		}
		if tok, err = jwt.ParseSigned(string(inner), SignatureAlgorithms); err != nil {
			return c, nil, refused("the encrypted token does not hold a JWT signed with ES256, ES384, RS256 or PS256 (%v)", err)
		}
		encrypted = true
	case 2: // JWS compact
		var err error
		tok, err = jwt.ParseSigned(raw, SignatureAlgorithms)
		if err != nil {
			return c, nil, refused("the token is not a JWT signed with ES256, ES384, RS256 or PS256 (%v); unsigned tokens (alg none) and shared secrets (HS256) are refused", err)
		}
	default:
		return c, nil, refused("the token is not a compact JWT (3 parts) or JWE (5 parts)")
	}
	var unverified Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return c, nil, refused("the token's claims are not readable JSON: %v", err)
	}
	ehr, ok := cfg.EHRs[unverified.Issuer]
	if !ok {
		return c, nil, refused("the issuer %q is not an EHR configured at this site: IT adds it to the launch configuration", truncate(unverified.Issuer, 60))
	}
	if ehr.RequireEncryption && !encrypted {
		return c, nil, refused("EHR %s must encrypt its tokens to this site's key (require_encryption)", ehr.ID)
	}
	if err := verifySignature(tok, ehr, &c); err != nil {
		return c, nil, err
	}
	return c, ehr, checkClaims(cfg, ehr, &c, now)
}

func verifySignature(tok *jwt.JSONWebToken, ehr *EHR, c *Claims) error {
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	tried := 0
	for _, k := range ehr.Keys {
		if kid != "" && k.KeyID != "" && k.KeyID != kid {
			continue
		}
		tried++
		if err := tok.Claims(k.Key, c); err == nil {
			return nil
		}
	}
	if tried == 0 {
		return refused("EHR %s has no key with id %q configured at this site", ehr.ID, truncate(kid, 40))
	}
	return refused("the token's signature does not match the keys configured for EHR %s", ehr.ID)
}

func checkClaims(cfg *Config, ehr *EHR, c *Claims, now time.Time) error {
	if !c.Audience.Contains(cfg.Site) {
		return refused("the token is for %q, not for this site (%s): set aud to the site's id", strings.Join(c.Audience, ","), cfg.Site)
	}
	if c.IssuedAt == nil || c.Expiry == nil {
		return refused("the token must carry iat and exp")
	}
	iat, exp := c.IssuedAt.Time(), c.Expiry.Time()
	if exp.Sub(iat) > MaxLifetime {
		return refused("the token lives %s, longer than %s: set exp at most 60 s after iat", exp.Sub(iat), MaxLifetime)
	}
	if !exp.After(iat) {
		return refused("the token's exp is not after its iat")
	}
	if now.After(exp.Add(ClockSkew)) {
		return refused("the token expired at %s (it is %s): launch again from the EHR", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if iat.After(now.Add(ClockSkew)) {
		return refused("the token was issued in the future (%s): check the EHR server's clock", iat.UTC().Format(time.RFC3339))
	}
	if c.NotBefor != nil && c.NotBefor.Time().After(now.Add(ClockSkew)) {
		return refused("the token is not valid before %s", c.NotBefor.Time().UTC().Format(time.RFC3339))
	}
	if c.ID == "" || len(c.ID) > 128 {
		return refused("the token must carry a single-use id (jti) of at most 128 characters")
	}
	var errs []error
	op := "launch.claims"
	if c.User.ID == "" {
		c.User.ID = c.Subject
	}
	if c.User.ID == "" {
		errs = append(errs, relais.Invalid(op, "user.id", "the user's id at the EHR (sub or user.id) is required"))
	}
	if strings.TrimSpace(c.User.Name) == "" {
		errs = append(errs, relais.Invalid(op, "user.name", "the user's name is required (it is shown on everything they do)"))
	}
	if _, ok := ehr.Role(c.User.Role); !ok {
		errs = append(errs, relais.Invalid(op, "user.role", "role %q of EHR %s is not mapped to a Relais role: IT adds it to the launch configuration", truncate(c.User.Role, 40), ehr.ID))
	}
	if c.Purpose == "" {
		c.Purpose = "care"
	}
	found := false
	for _, p := range relais.Purposes {
		found = found || p == c.Purpose
	}
	if !found {
		errs = append(errs, relais.Invalid(op, "purpose", "purpose %q is not one of %s", truncate(c.Purpose, 30), strings.Join(relais.Purposes, ", ")))
	}
	if c.Patient.IPP == "" && (c.Patient.INS == nil || c.Patient.INS.Matricule == "") {
		errs = append(errs, relais.Invalid(op, "patient.ipp", "the patient's IPP (or INS) is required to find the record"))
	}
	if c.Patient.INS == nil {
		c.Patient.INS = &relais.INS{Status: relais.IdentityProvisional}
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.E("launch.verify", relais.KindUnauthorized, "the token's claims are incomplete: "+flatten(err), err)
	}
	return nil
}

func flatten(err error) string {
	var parts []string
	for _, f := range relais.FieldErrors(err) {
		parts = append(parts, f.Field+": "+f.Message)
	}
	if len(parts) == 0 {
		return relais.ErrorMessage(err)
	}
	return strings.Join(parts, "; ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// String shows the claims for logs, without the patient's identity.
func (c Claims) String() string {
	b, _ := json.Marshal(struct {
		Iss, Jti, User, Purpose string
	}{c.Issuer, c.ID, c.User.ID, c.Purpose})
	return string(b)
}
