package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
	"github.com/relais-onco/relais/web"
)

// authFlags are the sign-in and TLS flags of `relais serve` (and demo):
// docs/security.md explains each.
type authFlags struct {
	tlsCert, tlsKey string
	publicURL       string
	sessionIdle     time.Duration
	sessionMax      time.Duration
	localLogin      bool
	trustedProxies  string

	oidcIssuer, oidcClientID, oidcSecretFile string
	oidcScopes, oidcRoleClaim, oidcRoles     string
	oidcUsernameClaim, oidcLabel             string
	oidcRevalidate                           time.Duration
}

func (a *authFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.tlsCert, "tls-cert", "", "serve HTTPS with the certificate chain in `FILE` (PEM); with --tls-key")
	fs.StringVar(&a.tlsKey, "tls-key", "", "the certificate's private key `FILE` (PEM)")
	fs.StringVar(&a.publicURL, "public-url", "", "the `URL` people type (https://relais.example.org), also behind a reverse proxy: passkeys, single sign-on and reset links need it")
	fs.DurationVar(&a.sessionIdle, "session-idle", web.DefaultSessionIdle, "end a session after this long without activity")
	fs.DurationVar(&a.sessionMax, "session-max", web.DefaultSessionMax, "end a session this long after sign-in, whatever the activity")
	fs.BoolVar(&a.localLogin, "local-login", true, "allow sign-in with a Relais password (false: single sign-on only)")
	fs.StringVar(&a.trustedProxies, "trusted-proxy", "", "reverse proxies whose X-Forwarded-For is believed: comma-separated `CIDRs`, e.g. 10.0.0.5/32")
	fs.StringVar(&a.oidcIssuer, "oidc-issuer", "", "single sign-on: the OpenID Connect provider's issuer `URL`")
	fs.StringVar(&a.oidcClientID, "oidc-client-id", "", "single sign-on: Relais's client `ID` at the provider")
	fs.StringVar(&a.oidcSecretFile, "oidc-client-secret-file", "", "single sign-on: `FILE` holding the client secret (or set RELAIS_OIDC_CLIENT_SECRET; never on the command line)")
	fs.StringVar(&a.oidcScopes, "oidc-scopes", "openid,profile", "single sign-on: comma-separated `scopes` to ask for")
	fs.StringVar(&a.oidcRoleClaim, "oidc-role-claim", "", "single sign-on: the `claim` holding groups or roles (dotted path, e.g. realm_access.roles)")
	fs.StringVar(&a.oidcRoles, "oidc-roles", "", "single sign-on: `VALUE=ROLE,…` mapping claim values to Relais roles, e.g. onco=prescriber,pui=pharmacist")
	fs.StringVar(&a.oidcUsernameClaim, "oidc-username-claim", "preferred_username", "single sign-on: the `claim` used as the Relais username")
	fs.StringVar(&a.oidcLabel, "oidc-label", "SSO", "single sign-on: the sign-in button's `text`, e.g. \"Pro Santé Connect\"")
	fs.DurationVar(&a.oidcRevalidate, "oidc-revalidate", 10*time.Minute, "single sign-on: check sessions with the provider this often")
}

// config builds the server's sign-in configuration.
func (a *authFlags) config() (web.AuthConfig, error) {
	cfg := web.AuthConfig{PublicURL: a.publicURL, SessionIdle: a.sessionIdle, SessionMax: a.sessionMax, DisableLocalLogin: !a.localLogin}
	for _, s := range splitList(a.trustedProxies) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return cfg, fmt.Errorf("--trusted-proxy %q: write addresses as CIDRs, e.g. 10.0.0.5/32", s)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	if a.oidcIssuer == "" {
		return cfg, nil
	}
	secret := os.Getenv("RELAIS_OIDC_CLIENT_SECRET")
	if a.oidcSecretFile != "" {
		b, err := os.ReadFile(a.oidcSecretFile)
		if err != nil {
			return cfg, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	roles := map[string]relais.Role{}
	for _, kv := range splitList(a.oidcRoles) {
		v, r, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(v) == "" {
			return cfg, fmt.Errorf("--oidc-roles: %q is not VALUE=ROLE", kv)
		}
		roles[strings.TrimSpace(v)] = relais.Role(strings.TrimSpace(r))
	}
	cfg.OIDC = &auth.OIDCConfig{Issuer: a.oidcIssuer, ClientID: a.oidcClientID, ClientSecret: secret,
		Scopes: splitList(a.oidcScopes), RoleClaim: a.oidcRoleClaim, RoleMap: roles,
		UsernameClaim: a.oidcUsernameClaim, Label: a.oidcLabel, Revalidate: a.oidcRevalidate}
	return cfg, nil
}

// tls returns the TLS settings for --tls-cert/--tls-key, nil for plain HTTP.
func (a *authFlags) tls() (*tls.Config, error) {
	switch {
	case a.tlsCert == "" && a.tlsKey == "":
		return nil, nil
	case a.tlsCert == "" || a.tlsKey == "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	return auth.ServerTLS(a.tlsCert, a.tlsKey)
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// configureAuth applies the flags to srv and starts the sweep of expired
// sessions; it returns the TLS settings (nil: plain HTTP).
func configureAuth(ctx context.Context, a authFlags, srv *web.Server, log *slog.Logger) (*tls.Config, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	tc, err := a.tls()
	if err != nil {
		return nil, err
	}
	if tc == nil && strings.HasPrefix(a.publicURL, "http://") && !strings.Contains(a.publicURL, "localhost") && !strings.Contains(a.publicURL, "127.0.0.1") {
		log.Warn("serving plain HTTP on a non-local address: passwords and sessions cross the network in clear; use --tls-cert/--tls-key or a reverse proxy with TLS (docs/security.md)")
	}
	if err := srv.ConfigureAuth(ctx, cfg); err != nil {
		return nil, err
	}
	go srv.SweepSessions(ctx, 10*time.Minute)
	return tc, nil
}
