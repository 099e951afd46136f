package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/relais-onco/relais"
)

// Single sign-on with OpenID Connect: the authorization code flow with PKCE
// (S256), a state bound to the browser and a nonce bound to the ID token. The
// hospital's identity provider, or the national health professional SSO (Pro
// Santé Connect, which is OpenID Connect), says who someone is; its claims
// say which Relais role they have, through a mapping the site configures.

// OIDCConfig configures single sign-on.
type OIDCConfig struct {
	Issuer       string   // e.g. https://auth.esante.gouv.fr/auth/realms/esante-wallet
	ClientID     string   // as registered at the provider
	ClientSecret string   // empty for a public client (PKCE only)
	RedirectURL  string   // PUBLIC_URL/auth/oidc/callback, as registered at the provider
	Scopes       []string // default: openid profile; add offline_access for refresh tokens
	// UsernameClaim names the claim used as the Relais username
	// (default preferred_username; Pro Santé Connect: preferred_username is
	// the RPPS/ADELI number). NameClaim gives the display name (default
	// name, or given_name + family_name).
	UsernameClaim string
	NameClaim     string
	// RoleClaim names the claim holding the person's groups or roles, as a
	// string or a list of strings; a dotted path reaches into objects
	// (realm_access.roles). RoleMap maps its values to Relais roles; values
	// not in the map are ignored, and a person whose values map to no role,
	// or to two different roles, is refused with a message that says so.
	RoleClaim string
	RoleMap   map[string]relais.Role
	// Label is the sign-in button's text, e.g. "Pro Santé Connect".
	Label string
	// Revalidate is how often a signed-in session is checked again with the
	// provider (with its refresh token): an account disabled there loses
	// access within this time. Default 10 minutes.
	Revalidate time.Duration
	// HTTPClient talks to the provider (default: http.DefaultClient with a
	// 15-second timeout).
	HTTPClient *http.Client
}

// OIDC is a configured OpenID Connect relying party.
type OIDC struct {
	cfg      OIDCConfig
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
}

// NewOIDC discovers the provider at cfg.Issuer and checks the configuration.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	var missing []string
	if cfg.Issuer == "" {
		missing = append(missing, "--oidc-issuer")
	}
	if cfg.ClientID == "" {
		missing = append(missing, "--oidc-client-id")
	}
	if cfg.RedirectURL == "" {
		missing = append(missing, "--public-url (the callback is PUBLIC_URL/auth/oidc/callback)")
	}
	if cfg.RoleClaim == "" || len(cfg.RoleMap) == 0 {
		missing = append(missing, "--oidc-role-claim and --oidc-roles (which claim values give which role)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("single sign-on needs %s", strings.Join(missing, ", "))
	}
	for v, r := range cfg.RoleMap {
		if !r.Valid() || r == relais.RoleSystem {
			return nil, fmt.Errorf("--oidc-roles: %q maps to %q, which is not a role (%s)", v, r, roleList())
		}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile"}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	if cfg.Revalidate <= 0 {
		cfg.Revalidate = 10 * time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Label == "" {
		cfg.Label = "SSO"
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("--oidc-issuer %s: discovery failed: %w", cfg.Issuer, err)
	}
	o := &OIDC{cfg: cfg, provider: p}
	o.verifier = p.Verifier(&oidc.Config{ClientID: cfg.ClientID})
	o.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes}
	return o, nil
}

func roleList() string {
	var s []string
	for _, r := range relais.Roles {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

// Config returns the configuration in use (with defaults filled in).
func (o *OIDC) Config() OIDCConfig { return o.cfg }

// OIDCFlow is one sign-in in progress: what the callback must find again.
type OIDCFlow struct {
	State    string
	Nonce    string
	Verifier string // PKCE code verifier
	Next     string // where to go once signed in
	Started  time.Time
}

// Begin starts a sign-in: the flow to keep until the callback, and the
// provider's URL to send the browser to.
func (o *OIDC) Begin(next string) (OIDCFlow, string) {
	f := OIDCFlow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: next, Started: time.Now()}
	url := o.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return f, url
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// OIDCResult is what a sign-in or a revalidation learnt.
type OIDCResult struct {
	Identity     relais.ExternalIdentity
	RefreshToken string // "" when the provider issued none (or did not rotate it)
}

// ErrRevoked says the provider refused the refresh: the account is disabled,
// its sessions at the provider ended, or its consent was withdrawn.
var ErrRevoked = errors.New("the identity provider no longer accepts this sign-in")

// Finish completes a sign-in: it exchanges the code (with the PKCE
// verifier), verifies the ID token and its nonce, reads the claims (ID token,
// then UserInfo) and maps them to an identity with a role.
func (o *OIDC) Finish(ctx context.Context, f OIDCFlow, code string) (OIDCResult, error) {
	ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return OIDCResult{}, fmt.Errorf("the identity provider refused the sign-in code: %w", scrub(err))
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return OIDCResult{}, errors.New("the identity provider sent no ID token")
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return OIDCResult{}, fmt.Errorf("the ID token is not valid: %w", err)
	}
	if idt.Nonce != f.Nonce {
		return OIDCResult{}, errors.New("the ID token does not answer this sign-in (nonce mismatch)")
	}
	id, err := o.identity(ctx, idt, tok)
	if err != nil {
		return OIDCResult{}, err
	}
	return OIDCResult{Identity: id, RefreshToken: tok.RefreshToken}, nil
}

// Refresh checks a session again with the provider using its refresh token.
// ErrRevoked (wrapped) means the provider refused; any other error means it
// could not be asked (down, unreachable) and says nothing about the account.
func (o *OIDC) Refresh(ctx context.Context, subject, refreshToken string) (OIDCResult, error) {
	ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	tok, err := o.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return OIDCResult{}, fmt.Errorf("%w (%s)", ErrRevoked, re.ErrorCode)
		}
		return OIDCResult{}, fmt.Errorf("the identity provider could not be asked: %w", scrub(err))
	}
	var idt *oidc.IDToken
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		if idt, err = o.verifier.Verify(ctx, raw); err != nil {
			return OIDCResult{}, fmt.Errorf("the refreshed ID token is not valid: %w", err)
		}
		if idt.Subject != subject {
			return OIDCResult{}, fmt.Errorf("%w (the refreshed ID token names someone else)", ErrRevoked)
		}
	}
	id, err := o.identity(ctx, idt, tok)
	if err != nil {
		return OIDCResult{}, err
	}
	if id.Subject != subject {
		return OIDCResult{}, fmt.Errorf("%w (the provider now names someone else)", ErrRevoked)
	}
	rt := tok.RefreshToken
	if rt == refreshToken {
		rt = ""
	}
	return OIDCResult{Identity: id, RefreshToken: rt}, nil
}

// identity merges the claims of the ID token (when there is one) and of the
// UserInfo endpoint (when the provider has one: Pro Santé Connect gives its
// claims there), then maps them.
func (o *OIDC) identity(ctx context.Context, idt *oidc.IDToken, tok *oauth2.Token) (relais.ExternalIdentity, error) {
	claims := map[string]any{}
	subject := ""
	if idt != nil {
		if err := idt.Claims(&claims); err != nil {
			return relais.ExternalIdentity{}, fmt.Errorf("the ID token's claims cannot be read: %w", err)
		}
		subject = idt.Subject
	}
	if o.provider.UserInfoEndpoint() != "" {
		ui, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			// go-oidc reports a refusal as "401 Unauthorized: …".
			if msg := err.Error(); strings.HasPrefix(msg, "401") || strings.HasPrefix(msg, "403") {
				return relais.ExternalIdentity{}, fmt.Errorf("%w (user info refused)", ErrRevoked)
			}
			return relais.ExternalIdentity{}, fmt.Errorf("the identity provider's user info could not be read: %w", scrub(err))
		}
		if subject != "" && ui.Subject != subject {
			return relais.ExternalIdentity{}, errors.New("the user info names someone other than the ID token")
		}
		subject = ui.Subject
		more := map[string]any{}
		if err := ui.Claims(&more); err != nil {
			return relais.ExternalIdentity{}, fmt.Errorf("the user info cannot be read: %w", err)
		}
		for k, v := range more {
			claims[k] = v
		}
	}
	if subject == "" {
		return relais.ExternalIdentity{}, errors.New("the identity provider did not say who signed in (no subject)")
	}
	id := relais.ExternalIdentity{Issuer: o.cfg.Issuer, Subject: subject}
	id.Username, _ = claimString(claims, o.cfg.UsernameClaim)
	if id.Username == "" {
		return id, fmt.Errorf("the identity provider sent no %q claim to use as the username: set --oidc-username-claim", o.cfg.UsernameClaim)
	}
	id.Name = displayName(claims, o.cfg.NameClaim)
	if id.Name == "" {
		id.Name = id.Username
	}
	role, err := o.MapRole(claims)
	if err != nil {
		return id, err
	}
	id.Role = role
	return id, nil
}

// RoleError says why claims map to no single role; its message is for the
// person signing in.
type RoleError struct{ Message string }

func (e *RoleError) Error() string { return e.Message }

// MapRole returns the Relais role the claims give.
func (o *OIDC) MapRole(claims map[string]any) (relais.Role, error) {
	values := claimStrings(claims, o.cfg.RoleClaim)
	found := map[relais.Role]bool{}
	for _, v := range values {
		if r, ok := o.cfg.RoleMap[v]; ok {
			found[r] = true
		}
	}
	switch len(found) {
	case 1:
		for r := range found {
			return r, nil
		}
	case 0:
		return "", &RoleError{Message: fmt.Sprintf(
			"your account at the identity provider gives you no Relais role (claim %q: %s): ask IT to add you to one of the groups mapped to a role",
			o.cfg.RoleClaim, quoteList(values))}
	}
	var rs []string
	for r := range found {
		rs = append(rs, string(r))
	}
	sort.Strings(rs)
	return "", &RoleError{Message: fmt.Sprintf(
		"your account at the identity provider gives you several Relais roles (%s): a Relais account has one; ask IT to keep only one",
		strings.Join(rs, ", "))}
}

func quoteList(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// claimAt follows a dotted path into the claims.
func claimAt(claims map[string]any, path string) any {
	var cur any = claims
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func claimString(claims map[string]any, path string) (string, bool) {
	s, ok := claimAt(claims, path).(string)
	return strings.TrimSpace(s), ok
}

func claimStrings(claims map[string]any, path string) []string {
	switch v := claimAt(claims, path).(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func displayName(claims map[string]any, nameClaim string) string {
	if nameClaim != "" {
		s, _ := claimString(claims, nameClaim)
		return s
	}
	if s, _ := claimString(claims, "name"); s != "" {
		return s
	}
	given, _ := claimString(claims, "given_name")
	family, _ := claimString(claims, "family_name")
	return strings.TrimSpace(given + " " + family)
}

// scrub keeps a token endpoint's error from carrying secrets into a log: the
// oauth2 package's RetrieveError holds the response body, which may echo
// what was sent.
func scrub(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("status %d, error %q", status, re.ErrorCode)
	}
	return err
}
