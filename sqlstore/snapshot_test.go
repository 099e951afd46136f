package sqlstore_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// A portable dump lists each table before the tables whose foreign keys
// name it, so a restore never holds a row whose parent is still to come;
// it restores the whole site, every row of every table.
func TestDumpRestoresParentsFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newProdFixture(t, dsn)
		pres := f.validatedCycles(t, f.newPatient(t), 1)
		if len(f.compounded(t, pres[0].ID)) == 0 {
			t.Fatal("the fixture made no preparation: the dump would not show the circuit's order")
		}
		var dump bytes.Buffer
		if _, err := f.db.WriteSnapshot(ctx, &dump, true); err != nil {
			t.Fatal(err)
		}
		var order []string
		sc := bufio.NewScanner(bytes.NewReader(dump.Bytes()))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var h struct{ Table string }
			if bytes.HasPrefix(sc.Bytes(), []byte(`{"table"`)) && json.Unmarshal(sc.Bytes(), &h) == nil {
				order = append(order, h.Table)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		// The schema's references along the circuit (migrations 0001–0007).
		for _, ref := range [][2]string{
			{"site", "patient"}, {"patient", "measurement"}, {"treatment", "prescription"},
			{"prescription", "prescription_line"}, {"prescription_line", "preparation"},
			{"preparation", "administration"}, {"preparation", "slip_item"}, {"delivery_slip", "slip_item"},
			{"administration", "billing_line"}, {"app_user", "app_session"}, {"drug", "product"}, {"product", "stock_lot"},
		} {
			p, c := slices.Index(order, ref[0]), slices.Index(order, ref[1])
			if p < 0 || c < 0 || p > c {
				t.Errorf("the dump writes %s at %d and %s at %d: a parent must come before its child", ref[0], p, ref[1], c)
			}
		}
		want, err := f.db.SnapshotTables(ctx)
		if err != nil {
			t.Fatal(err)
		}

		copyDB, _, err := sqlstore.RestoreSnapshot(ctx, bytes.NewReader(dump.Bytes()), sqlstore.PayloadJSONL, testdb.SQLite(t), sqlstore.Options{Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer copyDB.Close()
		got, err := copyDB.SnapshotTables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(want, got) {
			t.Errorf("rows per table, restored: %v; the source: %v", got, want)
		}

		rep, err := copyDB.VerifyJournal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Errorf("the restored journal does not verify: %+v", rep)
		}
	})
}
