package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// adminCtx acts as a pharmacy administrator of chu-test.
func adminCtx(t *testing.T, db *sqlstore.DB) (context.Context, relais.User) {
	t.Helper()
	sys := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
	u, err := db.CreateUser(sys, relais.User{Username: "admin.pharma", Name: "Marc Leroy", Role: relais.RolePharmAdmin}, "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	return relais.WithActor(context.Background(), u.Actor()), u
}

func newUser(t *testing.T, db *sqlstore.DB, ctx context.Context, username string, role relais.Role, password string) relais.User {
	t.Helper()
	u, err := db.CreateUser(ctx, relais.User{Username: username, Name: "Test " + username, Role: role}, password)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// auditOK checks that the journal still describes every row: the images
// and loaders of the account entities agree.
func auditOK(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	rep, err := db.VerifyJournal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Faults {
		t.Errorf("audit: %s", f)
	}
}

// journalText is the whole journal as text, to look for secrets in it.
func journalText(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	es, err := db.JournalEntries(context.Background(), db.Site, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Action + " " + string(e.Before) + " " + string(e.After) + "\n")
	}
	return b.String()
}

func actions(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	es, err := db.JournalEntries(context.Background(), db.Site, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestLockoutAfterRepeatedFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, _ := adminCtx(t, db)
		u := newUser(t, db, ctx, "ide.petit", relais.RoleNurse, "right-password")
		// Failures count in a row: a success starts the count again.
		for i := 1; i < relais.LockoutAfter; i++ {
			db.Authenticate(context.Background(), "ide.petit", "wrong-password")
		}
		if _, err := db.Authenticate(context.Background(), "ide.petit", "right-password"); err != nil {
			t.Fatalf("after %d failures: %v", relais.LockoutAfter-1, err)
		}
		for i := 1; i < relais.LockoutAfter; i++ {
			_, err := db.Authenticate(context.Background(), "ide.petit", "wrong-password")
			var le *relais.LockedError
			if relais.ErrorKind(err) != relais.KindUnauthorized || errors.As(err, &le) {
				t.Fatalf("failure %d: %v; want a plain refusal", i, err)
			}
		}
		before := relais.Now()
		_, err := db.Authenticate(context.Background(), "ide.petit", "wrong-password")
		var le *relais.LockedError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "locked") {
			t.Fatalf("failure %d: %v; want a lock-out", relais.LockoutAfter, err)
		}
		if d := le.Until.Sub(before); d < relais.LockoutFor-time.Second || d > relais.LockoutFor+time.Minute {
			t.Fatalf("locked for %v; want %v", d, relais.LockoutFor)
		}
		// Locked: even the right password is refused, saying so.
		if _, err := db.Authenticate(context.Background(), "ide.petit", "right-password"); !errors.As(err, &le) {
			t.Fatalf("right password while locked: %v", err)
		}
		got, _ := db.UserByID(ctx, u.ID)
		if !got.Locked(relais.Now()) {
			t.Fatalf("account not locked: %+v", got)
		}
		if _, err := db.UnlockUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UnlockUser(ctx, u.ID); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("unlock twice: %v", err)
		}
		if _, err := db.Authenticate(context.Background(), "ide.petit", "right-password"); err != nil {
			t.Fatalf("after unlock: %v", err)
		}
		acts := actions(t, db)
		if !contains(acts, "user.lock") || !contains(acts, "user.unlock") {
			t.Fatalf("journal lacks the lock-out and unlock: %v", acts)
		}
		auditOK(t, db)
	})
}

func TestUnknownAndDisabledAccounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, _ := adminCtx(t, db)
		u := newUser(t, db, ctx, "dr.martin", relais.RolePrescriber, "right-password")
		_, errUnknown := db.Authenticate(context.Background(), "nobody", "right-password")
		_, errWrong := db.Authenticate(context.Background(), "dr.martin", "wrong-password")
		if errUnknown == nil || errWrong == nil || relais.ErrorMessage(errUnknown) != relais.ErrorMessage(errWrong) {
			t.Fatalf("unknown user and wrong password answer differently: %v / %v", errUnknown, errWrong)
		}
		if _, err := db.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(context.Background(), "dr.martin", "right-password"); !errors.Is(err, relais.ErrAccountDisabled) {
			t.Fatalf("disabled account: %v", err)
		}
		// A wrong password on a disabled account says nothing of the disabling.
		if _, err := db.Authenticate(context.Background(), "dr.martin", "wrong-password"); errors.Is(err, relais.ErrAccountDisabled) {
			t.Fatalf("disabled account revealed without its password: %v", err)
		}
		if _, err := db.SetUserDisabled(ctx, u.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(context.Background(), "dr.martin", "right-password"); err != nil {
			t.Fatal(err)
		}
		auditOK(t, db)
	})
}

func TestAccountFieldsAreChecked(t *testing.T) {
	db := open(t, testdb.SQLite(t))
	ctx, admin := adminCtx(t, db)
	cases := []struct {
		name  string
		u     relais.User
		field string
	}{
		{"sql in username", relais.User{Username: "x'; DROP TABLE app_user; --", Name: "X", Role: relais.RoleNurse}, "username"},
		{"path in username", relais.User{Username: "../../etc/passwd", Name: "X", Role: relais.RoleNurse}, "username"},
		{"empty name", relais.User{Username: "a.b", Name: " ", Role: relais.RoleNurse}, "name"},
		{"line break in name", relais.User{Username: "a.b", Name: "A\nB", Role: relais.RoleNurse}, "name"},
		{"system role", relais.User{Username: "a.b", Name: "A", Role: relais.RoleSystem}, "role"},
		{"unknown role", relais.User{Username: "a.b", Name: "A", Role: "root"}, "role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := db.CreateUser(ctx, c.u, "")
			fs := relais.FieldErrors(err)
			if len(fs) == 0 || fs[0].Field != c.field {
				t.Fatalf("err = %v; want a fault on %s", err, c.field)
			}
		})
	}
	if _, err := db.SetUserDisabled(ctx, admin.ID, true); relais.ErrorKind(err) != relais.KindConflict {
		t.Fatalf("an administrator disabled their own account: %v", err)
	}
}

func TestPasswordResetLink(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, _ := adminCtx(t, db)
		u := newUser(t, db, ctx, "prep.bernard", relais.RoleTechnician, "old-password")
		// Five failures lock the account; the reset lifts the lock.
		for i := 0; i < relais.LockoutAfter; i++ {
			db.Authenticate(context.Background(), "prep.bernard", "wrong")
		}
		first, secret1, err := db.IssuePasswordReset(ctx, u.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if first.IssuedBy != "admin.pharma" || !first.ExpiresAt.After(first.CreatedAt) {
			t.Fatalf("reset = %+v", first)
		}
		_, secret2, err := db.IssuePasswordReset(ctx, u.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ResetPassword(context.Background(), secret1, "new-password-1"); relais.ErrorKind(err) != relais.KindUnauthorized {
			t.Fatalf("a replaced link still works: %v", err)
		}
		if _, err := db.ResetPassword(context.Background(), secret2, "short"); relais.ErrorKind(err) != relais.KindInvalid {
			t.Fatalf("a 5-character password: %v", err)
		}
		if _, err := db.ResetPassword(context.Background(), secret2, "new-password-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(context.Background(), "prep.bernard", "new-password-2"); err != nil {
			t.Fatalf("new password: %v", err)
		}
		if _, err := db.Authenticate(context.Background(), "prep.bernard", "old-password"); err == nil {
			t.Fatal("the old password still works")
		}
		if _, err := db.ResetPassword(context.Background(), secret2, "new-password-3"); relais.ErrorKind(err) != relais.KindUnauthorized {
			t.Fatalf("a link used twice: %v", err)
		}
		// An expired link.
		_, secret3, err := db.IssuePasswordReset(ctx, u.ID, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, err := db.ResetPassword(context.Background(), secret3, "new-password-4"); relais.ErrorKind(err) != relais.KindUnauthorized {
			t.Fatalf("an expired link: %v", err)
		}
		for _, sec := range []string{secret1, secret2, secret3} {
			if strings.Contains(journalText(t, db), sec) || strings.Contains(dump(t, db, "password_reset"), sec) {
				t.Fatal("a reset secret is stored in clear")
			}
		}
		acts := actions(t, db)
		for _, a := range []string{"password_reset.issue", "password_reset.revoke", "password_reset.use", "user.password_set"} {
			if !contains(acts, a) {
				t.Errorf("journal lacks %s: %v", a, acts)
			}
		}
		auditOK(t, db)
	})
}

// dump returns every row of table as text.
func dump(t *testing.T, db *sqlstore.DB, table string) string {
	t.Helper()
	rows, err := db.SQL().Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			b.WriteString(v.String + "|")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestSingleSignOnAccounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, _ := adminCtx(t, db)
		id := relais.ExternalIdentity{Issuer: "https://idp.example", Subject: "s-123", Username: "810001234567", Name: "Dr Claire Martin", Role: relais.RolePrescriber}
		u, err := db.ExternalSignIn(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if u.IdentityProvider != id.Issuer || u.Role != relais.RolePrescriber || u.Username != "810001234567" {
			t.Fatalf("JIT account = %+v", u)
		}
		again, err := db.ExternalSignIn(context.Background(), id)
		if err != nil || again.ID != u.ID {
			t.Fatalf("second sign-in made another account: %v %+v", err, again)
		}
		// The provider's groups changed: the role follows.
		id.Role = relais.RoleConsultant
		moved, err := db.ExternalSignIn(context.Background(), id)
		if err != nil || moved.Role != relais.RoleConsultant {
			t.Fatalf("role change: %v %+v", err, moved)
		}
		// An SSO account has no password to check or reset, and its role is
		// the provider's.
		if _, err := db.Authenticate(context.Background(), "810001234567", ""); relais.ErrorKind(err) != relais.KindUnauthorized {
			t.Fatalf("password sign-in of an SSO account: %v", err)
		}
		if _, _, err := db.IssuePasswordReset(ctx, u.ID, time.Hour); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("reset of an SSO account: %v", err)
		}
		role := relais.RolePharmacist
		if _, err := db.UpdateUser(ctx, u.ID, relais.UserUpdate{Role: &role}); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("role change of an SSO account in Relais: %v", err)
		}
		// Another subject claiming a taken username is refused.
		other := id
		other.Subject = "s-999"
		if _, err := db.ExternalSignIn(context.Background(), other); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("username taken: %v", err)
		}
		// Disabled in Relais: refused even though the provider vouches.
		if _, err := db.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExternalSignIn(context.Background(), id); !errors.Is(err, relais.ErrAccountDisabled) {
			t.Fatalf("disabled SSO account: %v", err)
		}
		acts := actions(t, db)
		if !contains(acts, "user.link_identity") || !contains(acts, "user.update") {
			t.Fatalf("journal: %v", acts)
		}
		auditOK(t, db)
	})
}

func TestPasskeysStore(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, admin := adminCtx(t, db)
		pk, err := db.AddPasskey(ctx, relais.Passkey{UserID: admin.ID, Name: "YubiKey", CredentialID: "Y3JlZC0x", PublicKey: "cGstMQ",
			Credential: []byte(`{"id":"Y3JlZC0x","authenticator":{"signCount":1}}`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddPasskey(ctx, relais.Passkey{UserID: admin.ID, Name: "again", CredentialID: "Y3JlZC0x", PublicKey: "cGstMQ",
			Credential: []byte(`{}`)}); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("same credential twice: %v", err)
		}
		// A use changes the counter, outside the journal, and the audit
		// still agrees.
		if err := db.PasskeyUsed(ctx, pk.ID, []byte(`{"id":"Y3JlZC0x","authenticator":{"signCount":2}}`)); err != nil {
			t.Fatal(err)
		}
		keys, err := db.Passkeys(ctx, admin.ID)
		if err != nil || len(keys) != 1 || !strings.Contains(string(keys[0].Credential), `"signCount":2`) || keys[0].LastUsedAt.IsZero() {
			t.Fatalf("passkeys = %+v, %v", keys, err)
		}
		auditOK(t, db)
		other := newUser(t, db, ctx, "ide.petit", relais.RoleNurse, "")
		if err := db.RemovePasskey(ctx, other.ID, pk.ID); relais.ErrorKind(err) != relais.KindNotFound {
			t.Fatalf("someone else's passkey removed: %v", err)
		}
		if err := db.RemovePasskey(ctx, admin.ID, pk.ID); err != nil {
			t.Fatal(err)
		}
		if keys, _ := db.Passkeys(ctx, admin.ID); len(keys) != 0 {
			t.Fatalf("after removal: %+v", keys)
		}
		auditOK(t, db)
	})
}
