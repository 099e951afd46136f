package continuity

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// The drill end to end: a site followed by a standby, cut off; a crisis
// declared; preparations released in crisis; the work reintegrated; both
// databases checked. RELAIS_DRILL_PREPARATIONS sets the crisis work
// (default 20; docs/continuity.md reports 900 too).
func TestDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole exercise")
	}
	n := 20
	if v, err := strconv.Atoi(os.Getenv("RELAIS_DRILL_PREPARATIONS")); err == nil && v > 0 {
		n = v
	}
	rep, err := Drill(context.Background(), DrillOptions{Preparations: n, WorkFor: 2 * time.Second, Wait: 2 * time.Second})
	t.Log("\n" + rep.String())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatal("the drill failed its correctness targets")
	}
	if rep.Released != n || rep.Replayed+rep.Unchanged != rep.CrisisEntries || rep.Queued != 0 {
		t.Errorf("released %d of %d; %d of %d entries replayed, %d queued (no conflict was made)", rep.Released, n, rep.Replayed+rep.Unchanged, rep.CrisisEntries, rep.Queued)
	}
	if rep.Voided != 10 { // the drill reserves 10 more than it uses
		t.Errorf("%d reserved numbers voided, want the 10 the crisis did not use", rep.Voided)
	}
	// The standby polls with a 2 s wait and the cut is noticed within one
	// more: its data can never be older than that at the declaration.
	if rep.RPO > 10*time.Second || rep.RPO < 0 {
		t.Errorf("RPO %s", rep.RPO)
	}
}
