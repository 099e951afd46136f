package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

func TestAPITokens(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, _ := adminCtx(t, db)
		svc := newUser(t, db, ctx, "export.nuit", relais.RolePharmacist, "")
		tok, secret, err := db.CreateToken(ctx, relais.TokenInput{UserID: svc.ID, Name: "nightly export",
			Permissions: []relais.Permission{relais.PermCatalogueRead, relais.PermProtocolRead, relais.PermCatalogueRead}, ExpiresIn: 30})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "relais_tok_") || len(tok.Permissions) != 2 || tok.CreatedBy != "admin.pharma" {
			t.Fatalf("token = %+v (secret %d chars)", tok, len(secret))
		}
		if strings.Contains(dump(t, db, "api_token"), secret) || strings.Contains(journalText(t, db), secret) {
			t.Fatal("the token's secret is stored in clear")
		}
		got, u, err := db.AuthenticateToken(context.Background(), secret)
		if err != nil || got.ID != tok.ID || u.ID != svc.ID || !got.Allows(relais.PermProtocolRead) || got.Allows(relais.PermValidate) {
			t.Fatalf("authenticate: %+v %+v %v", got, u, err)
		}
		for _, bad := range []string{"", "relais_tok_", secret + "x", strings.Replace(secret, "relais_tok_", "relais_tok_A", 1)[:len(secret)], "' OR 1=1 --"} {
			if _, _, err := db.AuthenticateToken(context.Background(), bad); relais.ErrorKind(err) != relais.KindUnauthorized {
				t.Fatalf("secret %q: %v", bad, err)
			}
		}
		// A token cannot widen its account's permissions.
		_, _, err = db.CreateToken(ctx, relais.TokenInput{UserID: svc.ID, Name: "wide", Permissions: []relais.Permission{relais.PermPrescriptionSign}, ExpiresIn: 1})
		if fs := relais.FieldErrors(err); len(fs) == 0 || fs[0].Field != "permissions[0]" {
			t.Fatalf("a prescriber's permission for a pharmacist's token: %v", err)
		}
		for _, in := range []relais.TokenInput{
			{UserID: svc.ID, Name: "x", Permissions: []relais.Permission{relais.PermCatalogueRead}, ExpiresIn: 0},
			{UserID: svc.ID, Name: "x", Permissions: []relais.Permission{relais.PermCatalogueRead}, ExpiresIn: 10000},
			{UserID: svc.ID, Name: "", Permissions: []relais.Permission{relais.PermCatalogueRead}, ExpiresIn: 1},
			{UserID: svc.ID, Name: "x", Permissions: nil, ExpiresIn: 1},
			{UserID: svc.ID, Name: "x", Permissions: []relais.Permission{"root"}, ExpiresIn: 1},
			{UserID: "../../etc", Name: "x", Permissions: []relais.Permission{relais.PermCatalogueRead}, ExpiresIn: 1},
		} {
			if _, _, err := db.CreateToken(ctx, in); relais.ErrorKind(err) != relais.KindInvalid {
				t.Errorf("%+v: %v", in, err)
			}
		}
		if _, err := db.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.AuthenticateToken(context.Background(), secret); relais.ErrorKind(err) != relais.KindUnauthorized || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("revoked token: %v", err)
		}
		// A disabled account's tokens stop working.
		tok2, secret2, err := db.CreateToken(ctx, relais.TokenInput{UserID: svc.ID, Name: "other", Permissions: []relais.Permission{relais.PermCatalogueRead}, ExpiresIn: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetUserDisabled(ctx, svc.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.AuthenticateToken(context.Background(), secret2); relais.ErrorKind(err) != relais.KindUnauthorized {
			t.Fatalf("token of a disabled account: %v", err)
		}
		list, err := db.Tokens(ctx)
		if err != nil || len(list) != 2 || list[0].ID != tok2.ID {
			t.Fatalf("tokens = %+v, %v", list, err)
		}
		if !contains(actions(t, db), "token.create") || !contains(actions(t, db), "token.revoke") {
			t.Fatal("token changes not journaled")
		}
		auditOK(t, db)
	})
}
