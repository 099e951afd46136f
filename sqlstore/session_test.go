package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
	"github.com/relais-onco/relais/internal/testdb"
)

func TestSessionsLiveInTheDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, _ := adminCtx(t, db)
		u := newUser(t, db, ctx, "ide.petit", relais.RoleNurse, "right-password")
		secret, hash := auth.NewSecret(auth.PrefixSession)
		now := relais.Now()
		s := relais.Session{IDHash: hash, UserID: u.ID, Method: relais.MethodPassword, CreatedAt: now, LastSeenAt: now,
			ExpiresAt: now.Add(12 * time.Hour), RemoteAddr: "10.1.2.3", UserAgent: "test"}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(dump(t, db, "app_session"), secret) {
			t.Fatal("the session secret is stored in clear")
		}
		// Reopening the database (a restart) keeps the session.
		db.Close()
		db = open(t, dsn)
		got, gu, err := db.SessionByHash(ctx, hash)
		if err != nil || got.UserID != u.ID || gu.Username != "ide.petit" || !got.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("after reopening: %+v %+v %v", got, gu, err)
		}
		later := now.Add(10 * time.Minute)
		if err := db.TouchSession(ctx, hash, later); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := db.SessionByHash(ctx, hash); !got.LastSeenAt.Equal(later) {
			t.Fatalf("touch: last seen %v; want %v", got.LastSeenAt, later)
		}
		// Expired sessions are swept: idle since before the cut.
		if n, err := db.DeleteExpiredSessions(ctx, later.Add(-time.Minute), now); err != nil || n != 0 {
			t.Fatalf("a live session swept: %d %v", n, err)
		}
		if n, err := db.DeleteExpiredSessions(ctx, later.Add(time.Minute), now); err != nil || n != 1 {
			t.Fatalf("an idle session kept: %d %v", n, err)
		}
		if _, _, err := db.SessionByHash(ctx, hash); relais.ErrorKind(err) != relais.KindNotFound {
			t.Fatalf("swept session: %v", err)
		}
		// Disabling an account ends its sessions in the same transaction.
		_, hash2 := auth.NewSecret(auth.PrefixSession)
		s.IDHash = hash2
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.SessionByHash(ctx, hash2); relais.ErrorKind(err) != relais.KindNotFound {
			t.Fatalf("session of a disabled account: %v", err)
		}
		// Sessions are not journaled.
		for _, a := range actions(t, db) {
			if strings.HasPrefix(a, "session") {
				t.Fatalf("session journaled: %s", a)
			}
		}
		auditOK(t, db)
	})
}

func TestCreateSessionRefusesIncomplete(t *testing.T) {
	db := open(t, testdb.SQLite(t))
	if err := db.CreateSession(context.Background(), relais.Session{IDHash: "short", Method: "password"}); relais.ErrorKind(err) != relais.KindInvalid {
		t.Fatalf("err = %v", err)
	}
}
