package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/relais-onco/relais"
)

// Passkeys (WebAuthn) are the preferred second factor of a local account:
// after the password, the browser signs a fresh challenge with a key that
// never leaves the person's authenticator (a security key, a phone, the
// workstation's platform authenticator). Phishing a password is no longer
// enough, and nothing secret is stored on the server.

// Passkeys runs WebAuthn ceremonies for one relying party: this site's
// public URL.
type Passkeys struct {
	w *webauthn.WebAuthn
}

// PasskeyCeremony is a ceremony in progress: what the finish step checks
// against (the challenge, the user). It is kept server-side between the
// two steps.
type PasskeyCeremony = webauthn.SessionData

// NewPasskeys configures WebAuthn for publicURL (e.g.
// https://relais.chu-aquitaine.fr): its host is the relying party ID and its
// origin the only origin accepted.
func NewPasskeys(publicURL, displayName string) (*Passkeys, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("--public-url %q: passkeys need the address people type, e.g. https://relais.example.org", publicURL)
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: displayName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		// A second factor after a password: presence is enough; a PIN or
		// a fingerprint is welcome but not required.
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &Passkeys{w: w}, nil
}

// passkeyUser adapts an account and its passkeys to the library.
type passkeyUser struct {
	u     relais.User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte                         { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string                       { return p.u.Username }
func (p passkeyUser) WebAuthnDisplayName() string                { return p.u.Name }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

func newPasskeyUser(u relais.User, keys []relais.Passkey) (passkeyUser, error) {
	pu := passkeyUser{u: u}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return pu, fmt.Errorf("passkey %s cannot be read: %w", k.ID, err)
		}
		pu.creds = append(pu.creds, c)
	}
	return pu, nil
}

// BeginRegistration starts adding a passkey to u: the options for
// navigator.credentials.create (JSON) and the ceremony to keep.
func (p *Passkeys) BeginRegistration(u relais.User, existing []relais.Passkey) (json.RawMessage, *PasskeyCeremony, error) {
	pu, err := newPasskeyUser(u, existing)
	if err != nil {
		return nil, nil, err
	}
	opts, cer, err := p.w.BeginRegistration(pu, webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()))
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(opts)
	return b, cer, err
}

// FinishRegistration checks the authenticator's answer and returns the
// passkey to keep (without ID: the store gives it one).
func (p *Passkeys) FinishRegistration(u relais.User, existing []relais.Passkey, cer *PasskeyCeremony, name string, body []byte) (relais.Passkey, error) {
	pu, err := newPasskeyUser(u, existing)
	if err != nil {
		return relais.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return relais.Passkey{}, ceremonyError("the passkey's answer cannot be read", err)
	}
	c, err := p.w.CreateCredential(pu, *cer, parsed)
	if err != nil {
		return relais.Passkey{}, ceremonyError("the passkey was not accepted", err)
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return relais.Passkey{}, err
	}
	return relais.Passkey{UserID: u.ID, Name: name,
		CredentialID: base64.RawURLEncoding.EncodeToString(c.ID),
		PublicKey:    base64.RawURLEncoding.EncodeToString(c.PublicKey),
		Credential:   raw}, nil
}

// BeginLogin starts the second factor for u: the options for
// navigator.credentials.get (JSON) and the ceremony to keep.
func (p *Passkeys) BeginLogin(u relais.User, keys []relais.Passkey) (json.RawMessage, *PasskeyCeremony, error) {
	pu, err := newPasskeyUser(u, keys)
	if err != nil {
		return nil, nil, err
	}
	if len(pu.creds) == 0 {
		return nil, nil, errors.New("this account has no passkey")
	}
	opts, cer, err := p.w.BeginLogin(pu)
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(opts)
	return b, cer, err
}

// FinishLogin checks the authenticator's signature and returns which
// passkey signed, with its updated record (counter) to store.
func (p *Passkeys) FinishLogin(u relais.User, keys []relais.Passkey, cer *PasskeyCeremony, body []byte) (relais.ID, json.RawMessage, error) {
	pu, err := newPasskeyUser(u, keys)
	if err != nil {
		return "", nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return "", nil, ceremonyError("the passkey's answer cannot be read", err)
	}
	c, err := p.w.ValidateLogin(pu, *cer, parsed)
	if err != nil {
		return "", nil, ceremonyError("the passkey's signature was not accepted", err)
	}
	if c.Authenticator.CloneWarning {
		return "", nil, errors.New("this passkey's counter went backwards: it may have been copied; it is refused — ask an administrator")
	}
	for i, k := range keys {
		if bytes.Equal(pu.creds[i].ID, c.ID) {
			raw, err := json.Marshal(c)
			return k.ID, raw, err
		}
	}
	return "", nil, errors.New("the passkey used is not one of this account's")
}

// ceremonyError keeps the library's detail (for the log) under a message for
// the person.
func ceremonyError(msg string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%s: %s (%s)", msg, pe.Details, pe.DevInfo)
	}
	return fmt.Errorf("%s: %w", msg, err)
}
