package auth

import (
	"strings"
	"testing"

	"github.com/relais-onco/relais"
)

func TestSecretsAreRandomAndHashed(t *testing.T) {
	s1, h1 := NewSecret(PrefixToken)
	s2, h2 := NewSecret(PrefixToken)
	if s1 == s2 || h1 == h2 || !strings.HasPrefix(s1, PrefixToken) || len(h1) != 64 || strings.Contains(h1, s1[len(PrefixToken):]) {
		t.Fatalf("secrets %q %q, hashes %q %q", s1, s2, h1, h2)
	}
	if HashSecret(s1) != h1 {
		t.Fatal("the hash of a secret changes")
	}
	for _, c := range []struct {
		s    string
		want bool
	}{
		{s1, true},
		{s1[:len(s1)-1], false},
		{s1 + "A", false},
		{strings.Replace(s1, PrefixToken, PrefixSession, 1), false},
		{PrefixToken + strings.Repeat("!", 43), false},
		{"", false},
	} {
		if got := LooksLike(c.s, PrefixToken); got != c.want {
			t.Errorf("LooksLike(%q) = %v", c.s, got)
		}
	}
}

func TestSealOpensOnlyWithTheSameSecret(t *testing.T) {
	sealed, err := Seal("session-secret", "oidc-refresh", "refresh-token-value")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "refresh-token-value") {
		t.Fatal("sealed value shows the plaintext")
	}
	if got, err := Open("session-secret", "oidc-refresh", sealed); err != nil || got != "refresh-token-value" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := Open("other-secret", "oidc-refresh", sealed); err == nil {
		t.Fatal("opened with another secret")
	}
	if _, err := Open("session-secret", "other-purpose", sealed); err == nil {
		t.Fatal("opened for another purpose")
	}
	if _, err := Open("session-secret", "oidc-refresh", sealed[:len(sealed)-2]+"AA"); err == nil {
		t.Fatal("a tampered value opened")
	}
}

func TestPasswordLimits(t *testing.T) {
	if _, err := HashPassword(strings.Repeat("a", MaxPasswordBytes+1)); err == nil {
		t.Fatal("a password over the limit is hashed")
	}
	if _, err := HashPassword("ééééééé"); err == nil {
		t.Fatal("7 characters (14 bytes) accepted as 8")
	}
	if CheckPasswordOrDummy("", "anything") {
		t.Fatal("an account without a password accepts one")
	}
}

func TestRoleMapping(t *testing.T) {
	o := &OIDC{cfg: OIDCConfig{RoleClaim: "realm_access.roles", RoleMap: map[string]relais.Role{
		"onco": relais.RolePrescriber, "ide": relais.RoleNurse, "pharma": relais.RolePharmacist, "pharma-bis": relais.RolePharmacist}}}
	cases := []struct {
		name   string
		claims map[string]any
		want   relais.Role
		errHas string
	}{
		{"one group", map[string]any{"realm_access": map[string]any{"roles": []any{"onco", "tous"}}}, relais.RolePrescriber, ""},
		{"a string", map[string]any{"realm_access": map[string]any{"roles": "ide"}}, relais.RoleNurse, ""},
		{"two groups, one role", map[string]any{"realm_access": map[string]any{"roles": []any{"pharma", "pharma-bis"}}}, relais.RolePharmacist, ""},
		{"two roles", map[string]any{"realm_access": map[string]any{"roles": []any{"onco", "ide"}}}, "", "several Relais roles (nurse, prescriber)"},
		{"no mapped group", map[string]any{"realm_access": map[string]any{"roles": []any{"tous"}}}, "", `"tous"`},
		{"no claim", map[string]any{}, "", "none"},
		{"not strings", map[string]any{"realm_access": map[string]any{"roles": []any{1, true}}}, "", "no Relais role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := o.MapRole(c.claims)
			if got != c.want || (c.errHas == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.errHas)) {
				t.Fatalf("MapRole = %q, %v; want %q, error containing %q", got, err, c.want, c.errHas)
			}
		})
	}
}
