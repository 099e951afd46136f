package sqlstore_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// issueConcurrently issues the worksheets of ids from one goroutine each,
// all at once, and returns the numbers given.
func issueConcurrently(ctx context.Context, f *prodFixture, ids []relais.ID) ([]string, error) {
	var wg sync.WaitGroup
	numbers := make([]string, len(ids))
	errs := make([]error, len(ids))
	startLine := make(chan struct{})
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			p, err := f.db.IssueWorksheet(ctx, id)
			numbers[i], errs[i] = p.RegisterNumber, err
		}()
	}
	close(startLine)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return numbers, nil
}

// releaseConcurrently records, checks and releases each preparation from a
// goroutine of its own.
func releaseConcurrently(f *prodFixture, ids []relais.ID) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = func() error {
				p, err := f.db.Preparation(f.tech, id)
				if err != nil {
					return err
				}
				var req relais.ProductionRequest
				for _, d := range p.Plan.Draws {
					req.Vials = append(req.Vials, relais.UsedVialInput{LotID: d.LotID, VolumeML: d.VolumeML})
				}
				if _, err := f.db.RecordProduction(f.tech, id, req); err != nil {
					return fmt.Errorf("record: %w", err)
				}
				if _, err := f.db.CheckPreparation(f.tech2, id, relais.CheckRequest{}); err != nil {
					return fmt.Errorf("check: %w", err)
				}
				if _, err := f.db.ReleasePreparation(f.pharma, id, relais.ReleaseRequest{}); err != nil {
					return fmt.Errorf("release: %w", err)
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// thirtyTwo makes 32 compounded preparations to prepare: 8 cycles of a new
// patient, 4 compounded lines each.
func thirtyTwo(t testing.TB, f *prodFixture) []relais.ID {
	t.Helper()
	var ids []relais.ID
	for _, p := range f.validatedCycles(t, f.newPatient(t), 8) {
		ids = append(ids, f.compounded(t, p.ID)...)
	}
	if len(ids) != 32 {
		t.Fatalf("%d preparations; want 32", len(ids))
	}
	return ids
}

// The register stays gapless and unique when 32 worksheets are issued at
// once, and when the 32 preparations are then released at once.
func TestRegisterConcurrentIssuesAndReleases(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		ids := thirtyTwo(t, f)
		numbers, err := issueConcurrently(f.tech, f, ids)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(numbers)
		year := relais.RegisterYear(time.Now())
		for i, n := range numbers {
			if want := relais.FormatRegisterNumber(year, i+1); n != want {
				t.Fatalf("numbers = %v; want %s … %s, each once", numbers, relais.FormatRegisterNumber(year, 1), relais.FormatRegisterNumber(year, 32))
			}
		}
		if err := releaseConcurrently(f, ids); err != nil {
			t.Fatal(err)
		}
		reg, err := f.db.Register(f.pharma, relais.LocalDate(time.Now()), relais.LocalDate(time.Now()))
		if err != nil || len(reg) != 32 {
			t.Fatalf("register: %d entries, %v", len(reg), err)
		}
		for i, e := range reg {
			if e.Seq != i+1 || e.Status != relais.RegisterReleased {
				t.Fatalf("entry %d = %s %s", i, e.Number, e.Status)
			}
		}
		if faults, err := f.db.CheckRegister(f.sys); err != nil || len(faults) != 0 {
			t.Fatalf("register check: %v %v", faults, err)
		}
	})
}

// A cancelled prescription cancels its preparations not yet released; they
// keep their numbers, shown as cancelled, and no number is skipped or
// reused afterwards.
func TestCancelledPreparationsKeepTheirNumbers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		pres := f.validatedCycles(t, f.patient, 1)[0]
		preps := f.preparationsOf(t, pres.ID)
		for _, inn := range []string{"rituximab", "doxorubicine"} {
			if _, err := f.db.IssueWorksheet(f.tech, preps[inn].ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.db.CancelPrescription(f.doctor, pres.ID, "patient hospitalisé en réanimation"); err != nil {
			t.Fatal(err)
		}
		after := map[string]relais.Preparation{}
		all, _ := f.db.Preparations(f.pharma, relais.PreparationFilter{})
		for _, p := range all {
			after[p.INN] = p
		}
		year := relais.RegisterYear(time.Now())
		if p := after["doxorubicine"]; p.Status != relais.PrepCancelled || p.RegisterNumber != relais.FormatRegisterNumber(year, 2) ||
			p.Cancellation == nil || !strings.Contains(p.Cancellation.Reason, "réanimation") {
			t.Fatalf("doxorubicin after cancellation = %+v", p)
		}
		if p := after["cyclophosphamide"]; p.Status != relais.PrepCancelled || p.RegisterNumber != "" {
			t.Fatalf("cyclophosphamide = %s %q", p.Status, p.RegisterNumber)
		}
		reg, err := f.db.Register(f.pharma, relais.LocalDate(time.Now()), relais.LocalDate(time.Now()))
		if err != nil || len(reg) != 2 || reg[0].Status != relais.RegisterCancelled || reg[1].Status != relais.RegisterCancelled {
			t.Fatalf("register = %+v %v", reg, err)
		}
		// The next number follows on.
		next := f.validatedCycles(t, f.newPatient(t), 1)[0]
		p, err := f.db.IssueWorksheet(f.tech, f.preparationsOf(t, next.ID)["vincristine"].ID)
		if err != nil || p.RegisterNumber != relais.FormatRegisterNumber(year, 3) {
			t.Fatalf("next number %q, %v", p.RegisterNumber, err)
		}
		if faults, err := f.db.CheckRegister(f.sys); err != nil || len(faults) != 0 {
			t.Fatalf("register check: %v %v", faults, err)
		}
		rep, err := f.db.VerifyJournal(f.sys)
		if err != nil || !rep.OK() {
			t.Fatalf("audit: %v %+v", err, rep.Faults)
		}
	})
}

// Reserved blocks and voided numbers (the crisis node's numbers, issue 9)
// keep the register gapless; the database refuses renumbering and deletion
// even from outside Relais, and CheckRegister finds a counter moved by hand.
func TestRegisterReservationsAndTampering(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		pres := f.validatedCycles(t, f.patient, 1)[0]
		preps := f.preparationsOf(t, pres.ID)
		year := relais.RegisterYear(time.Now())
		if _, err := f.db.IssueWorksheet(f.tech, preps["rituximab"].ID); err != nil {
			t.Fatal(err)
		}
		block, err := f.db.ReserveRegisterBlock(f.pharma, 3, "crisis node of the pharmacy")
		if err != nil || len(block) != 3 || block[0].Number != relais.FormatRegisterNumber(year, 2) || block[0].Kind != relais.RegisterReserved {
			t.Fatalf("reserve: %+v %v", block, err)
		}
		p, err := f.db.IssueWorksheet(f.tech, preps["doxorubicine"].ID)
		if err != nil || p.RegisterNumber != relais.FormatRegisterNumber(year, 5) {
			t.Fatalf("after the block: %q %v", p.RegisterNumber, err)
		}
		if _, err := f.db.VoidRegisterNumber(f.pharma, block[2].Number, "crisis over: not used"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.VoidRegisterNumber(f.pharma, p.RegisterNumber, "x"); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("voiding a preparation's number: %v", err)
		}
		if faults, err := f.db.CheckRegister(f.sys); err != nil || len(faults) != 0 {
			t.Fatalf("register check: %v %v", faults, err)
		}
		raw := f.db.SQL()
		ctx := context.Background()
		for _, q := range []string{
			"UPDATE register_entry SET seq = 99 WHERE number = '" + p.RegisterNumber + "'",
			"DELETE FROM register_entry WHERE number = '" + block[0].Number + "'",
		} {
			if _, err := raw.ExecContext(ctx, q); err == nil {
				t.Errorf("the database accepted %q", q)
			}
		}
		if _, err := raw.ExecContext(ctx, "UPDATE register_counter SET last_seq = last_seq + 1"); err != nil {
			t.Fatal(err)
		}
		faults, err := f.db.CheckRegister(f.sys)
		if err != nil || len(faults) != 1 || faults[0].Check != "register.counter" || !strings.Contains(faults[0].Message, "skipped") {
			t.Fatalf("faults = %v %v", faults, err)
		}
		// A register replayed without its counter (a standby, a
		// reintegration) goes on from its last number.
		if _, err := raw.ExecContext(ctx, "DELETE FROM register_counter"); err != nil {
			t.Fatal(err)
		}
		if p, err = f.db.IssueWorksheet(f.tech, preps["vincristine"].ID); err != nil || p.RegisterNumber != relais.FormatRegisterNumber(year, 6) {
			t.Fatalf("after the counter was lost: %q %v", p.RegisterNumber, err)
		}
		if faults, err := f.db.CheckRegister(f.sys); err != nil || len(faults) != 0 {
			t.Fatalf("register check: %v %v", faults, err)
		}
	})
}

// An expired leftover is never proposed nor used; the end-of-day check
// moves it to expired and lists it.
func TestExpiredLeftoverIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		// Opened 24 h less 1.5 s ago: it expires 1.5 s from now.
		opened := time.Now().Add(-24*time.Hour + 1500*time.Millisecond)
		l, err := f.db.RecordLeftover(f.tech, relais.LeftoverInput{LotID: f.lots["doxo50"].ID, RemainingVolumeML: 10, Storage: "2-8°C", OpenedAt: opened})
		if err != nil {
			t.Fatal(err)
		}
		// At 25 °C the product has no stability data: refused, saying so.
		if _, err := f.db.RecordLeftover(f.tech, relais.LeftoverInput{LotID: f.lots["doxo50"].ID, RemainingVolumeML: 10, Storage: "25°C"}); relais.ErrorKind(err) != relais.KindInvalid ||
			!strings.Contains(err.Error(), "no stability data after opening at 25°C") {
			t.Fatalf("leftover at 25 °C: %v", err)
		}
		time.Sleep(time.Until(l.Expiry) + 100*time.Millisecond)
		pres := f.validatedCycles(t, f.patient, 1)[0]
		doxo := f.preparationsOf(t, pres.ID)["doxorubicine"]
		for _, d := range doxo.Plan.Draws {
			if d.Leftover {
				t.Fatalf("an expired leftover was proposed: %+v", doxo.Plan.Draws)
			}
		}
		if _, err := f.db.IssueWorksheet(f.tech, doxo.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.db.RecordProduction(f.tech, doxo.ID, relais.ProductionRequest{Vials: []relais.UsedVialInput{
			{LotID: f.lots["doxo50"].ID, VolumeML: 25}, {LotID: f.lots["doxo50"].ID, VolumeML: 15}, {LeftoverID: l.ID, VolumeML: 10}}})
		if relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(relais.ErrorMessage(err), "expired") || relais.FieldErrors(err)[0].Field != "vials[2].leftover_id" {
			t.Fatalf("using an expired leftover: %v", err)
		}
		// Nothing was half-written: the two vials taken before the leftover
		// are back in stock.
		if lots, _ := f.db.StockLots(f.tech, f.products["doxo50"].ID); lots[0].QuantityRemaining != 400 {
			t.Fatalf("stock moved to %d", lots[0].QuantityRemaining)
		}
		items, err := f.db.Leftovers(f.tech, relais.LeftoverFilter{InIsolator: true})
		if err != nil || len(items) != 1 || !items[0].Expired || items[0].Usable || items[0].Status != relais.LeftoverOpen {
			t.Fatalf("list = %+v %v", items, err)
		}
		check, err := f.db.IsolatorCheck(f.tech)
		if err != nil || len(check.ExpiredNow) != 1 || len(check.Items) != 1 || check.Items[0].Status != relais.LeftoverExpired {
			t.Fatalf("isolator check = %+v %v", check, err)
		}
		if d, err := f.db.DiscardLeftover(f.tech, l.ID, "périmé"); err != nil || d.Status != relais.LeftoverDiscarded {
			t.Fatalf("discard: %v", err)
		}
		if faults, err := f.db.CheckLeftovers(f.sys); err != nil || len(faults) != 0 {
			t.Fatalf("leftover check: %v %v", faults, err)
		}
	})
}

// BenchmarkRegisterConcurrentIssues times 32 worksheets issued at once (the
// preparations are made with the timer stopped) and checks the numbers.
func BenchmarkRegisterConcurrentIssues(b *testing.B) {
	for _, engine := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			f := newProdFixture(b, engine.dsn(b))
			issued := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ids := thirtyTwo(b, f)
				b.StartTimer()
				numbers, err := issueConcurrently(f.tech, f, ids)
				if err != nil {
					b.Fatal(err)
				}
				issued += len(numbers)
			}
			b.StopTimer()
			if faults, err := f.db.CheckRegister(f.sys); err != nil || len(faults) != 0 {
				b.Fatalf("after %d issues: %v %v", issued, faults, err)
			}
		})
	}
}
