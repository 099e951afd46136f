package loadtest

import (
	"context"
	"testing"
	"time"

	"github.com/relais-onco/relais"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		target string
		force  bool
		ok     bool
	}{
		{"http://127.0.0.1:8080", false, true},
		{"http://[::1]:8080", false, true},
		{"http://localhost:8080", false, true},
		{"https://127.0.0.2:8443", false, true}, // all of 127/8 is loopback
		{"http://10.1.2.3:8080", false, false},
		{"http://192.168.0.10", false, false},
		{"http://10.1.2.3:8080", true, true}, // forced
		{"127.0.0.1:8080", false, false},     // no scheme
		{"ftp://127.0.0.1", false, false},
		{"", true, false},
	} {
		err := CheckLoopback(tc.target, tc.force)
		if (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q, force %v) = %v; want ok %v", tc.target, tc.force, err, tc.ok)
		}
		if err != nil && relais.ErrorKind(err) != relais.KindInvalid {
			t.Errorf("CheckLoopback(%q): %v is not a KindInvalid error", tc.target, err)
		}
	}
}

func TestBounds(t *testing.T) {
	for _, c := range []Config{
		{Target: "http://127.0.0.1:1", Users: 1001},
		{Target: "http://127.0.0.1:1", Duration: 3 * time.Hour},
	} {
		if err := c.defaults(); err == nil {
			t.Errorf("%d users for %s accepted; the load is bounded", c.Users, c.Duration)
		}
	}
	c := Config{Target: "http://127.0.0.1:1"}
	if err := c.defaults(); err != nil || c.Users != 10 || c.Duration != 30*time.Second || c.RSSLimitMB != 300 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

func TestMix(t *testing.T) {
	for _, n := range []int{1, 5, 20, 200} {
		roles := mix(n)
		if len(roles) != n {
			t.Fatalf("mix(%d) has %d people", n, len(roles))
		}
		count := map[relais.Role]int{}
		for _, r := range roles {
			count[r]++
		}
		if n >= 5 && (count[relais.RolePrescriber] == 0 || count[relais.RolePharmacist] == 0 || count[relais.RoleTechnician] < 2 || count[relais.RoleNurse] == 0) {
			t.Errorf("mix(%d) = %v: every role must be there, and two technicians", n, count)
		}
		if n == 200 && (count[relais.RolePrescriber] != 60 || count[relais.RolePharmacist] != 40 || count[relais.RoleTechnician] != 40 || count[relais.RoleNurse] != 60) {
			t.Errorf("mix(200) = %v; want 60 prescribers, 40 pharmacists, 40 technicians, 60 nurses", count)
		}
	}
}

func TestPercentiles(t *testing.T) {
	r := newRecorder()
	for i := 1; i <= 100; i++ {
		r.add("op", time.Duration(i)*time.Millisecond, outcomeOK, "")
	}
	r.add("op", time.Second, outcomeError, "boom")
	r.add("op", time.Millisecond, outcomeRefused, "")
	r.interrupted("op")
	ops, all, samples := r.results()
	o := ops[0]
	// 102 answered latencies: 1..100 ms, 1 ms again, 1000 ms. Nearest rank:
	// p50 is the 51st value (50 ms), p95 the 97th (96 ms), p99 the 101st (100 ms).
	if o.Count != 103 || o.Errors != 1 || o.Refused != 1 || o.Interrupted != 1 || o.P50MS != 50 || o.P95MS != 96 || o.P99MS != 100 || o.MaxMS != 1000 {
		t.Errorf("op = %+v", o)
	}
	if all.Count != o.Count || len(samples) != 1 || samples[0] != "boom" {
		t.Errorf("all = %+v, samples %q", all, samples)
	}
}

func TestLedgerKeepsTheFurthestState(t *testing.T) {
	l := newLedger()
	id := relais.ID("p1")
	l.record(ack{Kind: kindPreparation, ID: id, State: "prepared", Rank: preparationRank[relais.PrepPrepared]})
	l.record(ack{Kind: kindPreparation, ID: id, State: "worksheet_issued", Rank: preparationRank[relais.PrepWorksheetIssued]}) // late answer
	acks := l.snapshot()
	if len(acks) != 1 || acks[0].State != "prepared" || l.writes != 2 {
		t.Errorf("ledger = %+v (%d writes)", acks, l.writes)
	}
}

func TestPrescriptionState(t *testing.T) {
	ok := &relais.OKToTreat{}
	for _, tc := range []struct {
		p    relais.Prescription
		want string
	}{
		{relais.Prescription{Status: relais.PrescriptionDraft}, "draft"},
		{relais.Prescription{Status: relais.PrescriptionSigned, Days: []relais.PrescriptionDay{{Day: 1}}}, "signed"},
		{relais.Prescription{Status: relais.PrescriptionSigned, Days: []relais.PrescriptionDay{{Day: 1, OKToTreat: ok}},
			Lines: []relais.PrescriptionLine{{Day: 1, Status: relais.LineValidated}, {Day: 1, Status: relais.LineProposed}}}, "ok_to_treat"},
		{relais.Prescription{Status: relais.PrescriptionSigned, Days: []relais.PrescriptionDay{{Day: 1, OKToTreat: ok}, {Day: 8}},
			Lines: []relais.PrescriptionLine{{Day: 1, Status: relais.LineValidated}, {Day: 8, Status: relais.LineProposed}}}, "validated"},
		{relais.Prescription{Status: relais.PrescriptionCancelled}, "cancelled"},
	} {
		got, rank := prescriptionState(tc.p)
		if got != tc.want {
			t.Errorf("%+v: state %q, want %q", tc.p, got, tc.want)
		}
		if tc.want == "cancelled" && rank != 0 {
			t.Errorf("a cancelled prescription ranks %d: the load never cancels, so it must not satisfy any acknowledgement", rank)
		}
	}
}

func TestGate(t *testing.T) {
	g := newGate()
	e, err := g.wait(context.Background())
	if err != nil || g.crashedSince(e) {
		t.Fatalf("an open gate: %v, crashed %v", err, g.crashedSince(e))
	}
	g.crash()
	if !g.crashedSince(e) {
		t.Error("a request begun before the crash is not seen as cut")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := g.wait(ctx); err == nil {
		t.Error("a closed gate let a request through")
	}
	g.open()
	e2, err := g.wait(context.Background())
	if err != nil || e2 == e || g.crashedSince(e2) {
		t.Errorf("after reopening: epoch %d (before %d), %v", e2, e, err)
	}
}
