package relais

import (
	"context"
	"testing"
)

func TestAllowedNeedsRoleAndTokenScope(t *testing.T) {
	pharm := WithActor(context.Background(), Actor{Username: "ph", Role: RolePharmacist})
	token := WithScope(pharm, []Permission{PermCatalogueRead})
	cases := []struct {
		name string
		ctx  context.Context
		p    Permission
		want bool
	}{
		{"signed out, public", context.Background(), PermPublic, true},
		{"signed out, signed-in route", context.Background(), PermSignedIn, false},
		{"role has it", pharm, PermValidate, true},
		{"role lacks it", pharm, PermPrescriptionSign, false},
		{"token scope has it", token, PermCatalogueRead, true},
		{"token scope lacks it, role has it", token, PermValidate, false},
		{"token, signed-in route", token, PermSignedIn, true},
		{"token scope cannot widen the role", WithScope(pharm, []Permission{PermPrescriptionSign}), PermPrescriptionSign, false},
	}
	for _, c := range cases {
		if got := Allowed(c.ctx, c.p); got != c.want {
			t.Errorf("%s: Allowed(%s) = %v", c.name, c.p, got)
		}
	}
}
