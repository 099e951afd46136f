package sqlstore_test

import (
	"bytes"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

func g(v float64) *float64 { return &v }

// The whole chain, on both engines: a validated line becomes a
// preparation, is issued, prepared from a leftover vial and new vials,
// checked, released, dispensed on a slip, administered after the bedside
// scan, and billed.
func TestProductionChainFromValidatedLineToBilling(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		db := f.db
		year := relais.RegisterYear(time.Now())
		num := func(n int) string { return fmt.Sprintf("%d-%06d", year, n) }

		// A leftover of doxorubicin from earlier: 10 mL at 2 mg/mL = 20 mg,
		// kept 24 h at 2–8 °C (fixture stability).
		old, err := db.RecordLeftover(f.tech, relais.LeftoverInput{LotID: f.lots["doxo50"].ID, RemainingVolumeML: 10, Storage: "2-8°C"})
		if err != nil {
			t.Fatal(err)
		}
		if old.RemainingQuantity != 20 || !old.Expiry.Equal(old.OpenedAt.Add(24*time.Hour)) {
			t.Fatalf("leftover = %+v", old)
		}

		pres := f.validatedCycles(t, f.patient, 1)[0]
		preps := f.preparationsOf(t, pres.ID)
		// Five preparations: four compounded, prednisone dispensed as is;
		// the ondansetron premedication comes from the ward's stock.
		if len(preps) != 5 || preps["prednisone"].Mode != relais.ModeDispensed || preps["doxorubicine"].Mode != relais.ModeCompounded {
			t.Fatalf("preparations = %v", keys(preps))
		}
		if _, ok := preps["ondansétron"]; ok {
			t.Fatal("a ward-stock premedication became a preparation")
		}
		for inn, p := range preps {
			if p.Status != relais.PrepToPrepare || p.RegisterNumber != "" {
				t.Fatalf("%s: %s %q", inn, p.Status, p.RegisterNumber)
			}
		}
		// Doxorubicin 100 mg: the leftover's 20 mg first (10 mL), then
		// ⌈80/50⌉ = 2 vials of 50 mg — one whole (25 mL), 30 mg (15 mL) of
		// the other, whose 20 mg left may be kept.
		dp := preps["doxorubicine"].Plan
		if dp == nil || len(dp.Draws) != 3 || dp.Draws[0].LeftoverID != old.ID || dp.Draws[0].VolumeML != 10 ||
			dp.Draws[1].VolumeML != 25 || dp.Draws[2].VolumeML != 15 || dp.DrawnQuantity != 100 || len(dp.Waste) != 1 ||
			dp.Waste[0].Quantity != 20 || !dp.Waste[0].Keepable || dp.Container != "syringe" {
			t.Fatalf("doxorubicin plan = %+v", dp)
		}
		// Rituximab 750 mg: 2 × 500 mg, 75 mL in 500 mL: 750/575 =
		// 1.304 mg/mL, inside 1–4 mg/mL.
		if rp := preps["rituximab"].Plan; rp.Blocked || rp.FinalVolumeML != 575 || rp.NewVials != 2 || rp.Stability.MaxConcentration != 4 {
			t.Fatalf("rituximab plan = %+v", rp)
		}

		// Worksheets, in this order: numbers 1 to 4 of the year.
		order := []string{"rituximab", "cyclophosphamide", "doxorubicine", "vincristine"}
		for i, inn := range order {
			p, err := db.IssueWorksheet(f.tech, preps[inn].ID)
			if err != nil {
				t.Fatalf("worksheet %s: %v", inn, err)
			}
			if p.RegisterNumber != num(i+1) || p.Status != relais.PrepWorksheetIssued || p.Plan.Draws[len(p.Plan.Draws)-1].Lot == "" {
				t.Fatalf("%s: %q %s %+v", inn, p.RegisterNumber, p.Status, p.Plan.Draws)
			}
			preps[inn] = p
		}
		if _, err := db.IssueWorksheet(f.tech, preps["rituximab"].ID); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("issuing twice: %v", err)
		}
		if _, err := db.IssueWorksheet(f.tech, preps["prednisone"].ID); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("a worksheet for an oral dose: %v", err)
		}
		if _, err := db.ReleasePreparation(f.pharma, preps["rituximab"].ID, relais.ReleaseRequest{}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("releasing before production: %v", err)
		}
		if _, err := db.IssueWorksheet(f.nurse, preps["prednisone"].ID); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("a nurse issuing a worksheet: %v", err)
		}

		// Production. Rituximab and cyclophosphamide as planned.
		f.produceAsPlanned(t, preps["rituximab"].ID)
		f.produceAsPlanned(t, preps["cyclophosphamide"].ID)
		// Doxorubicin weighed (density 1.0 g/mL, a test value): 10.0 g from
		// the leftover, 25.0 g and 15.2 g from new vials → 50.2 mL →
		// 100.4 mg: +0.4 %, within ±5 %. The second vial keeps
		// 25 − 15.2 = 9.8 mL: a new leftover.
		lot := f.lots["doxo50"].ID
		doxo, err := db.RecordProduction(f.tech, preps["doxorubicine"].ID, relais.ProductionRequest{
			Vials:     []relais.UsedVialInput{{LeftoverID: old.ID, MassG: g(10)}, {LotID: lot, MassG: g(25)}, {LotID: lot, MassG: g(15.2)}},
			Leftovers: []relais.LeftoverInput{{LotID: lot, RemainingVolumeML: 9.8, Storage: "2-8°C"}}})
		if err != nil {
			t.Fatal(err)
		}
		c := doxo.Production.Control
		if c.Method != "gravimetric" || c.ExpectedMassG != 50 || c.MeasuredMassG != 50.2 || c.Measured != 100.4 || c.DeviationPercent != 0.4 || !c.Within {
			t.Fatalf("doxorubicin control = %+v", c)
		}
		// Vincristine: 1.8 mL of the 2 mg/2 mL vial = 1.8 mg for 2 mg: −10 %.
		vcr, err := db.RecordProduction(f.tech, preps["vincristine"].ID, relais.ProductionRequest{
			Vials: []relais.UsedVialInput{{LotID: f.lots["vcr2"].ID, VolumeML: 1.8}}})
		if err != nil {
			t.Fatal(err)
		}
		if vcr.Production.Control.Within || vcr.Production.Control.DeviationPercent != -10 {
			t.Fatalf("vincristine control = %+v", vcr.Production.Control)
		}

		// Leftovers and stock follow.
		if l, _ := db.Leftover(f.tech, old.ID); l.Status != relais.LeftoverUsedUp || l.RemainingQuantity != 0 || len(l.Uses) != 1 || l.Uses[0].PreparationID != doxo.ID {
			t.Fatalf("old leftover = %+v", l)
		}
		newLeft, err := db.Leftover(f.tech, doxo.Production.LeftoverIDs[0])
		if err != nil || newLeft.RemainingVolumeML != 9.8 || newLeft.RemainingQuantity != 19.6 || newLeft.SourcePreparationID != doxo.ID || newLeft.Lot != "L-doxo50" {
			t.Fatalf("new leftover = %+v %v", newLeft, err)
		}
		if lots, _ := db.StockLots(f.tech, f.products["doxo50"].ID); lots[0].QuantityRemaining != 398 {
			t.Fatalf("doxorubicin 50 mg lot: %d left; want 400 − 2", lots[0].QuantityRemaining)
		}

		// The second person's check: not the one who prepared.
		if _, err := db.CheckPreparation(f.tech, doxo.ID, relais.CheckRequest{}); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("checking one's own preparation: %v", err)
		}
		for _, inn := range order {
			if _, err := db.CheckPreparation(f.tech2, preps[inn].ID, relais.CheckRequest{Comment: "étiquette et volume conformes"}); err != nil {
				t.Fatalf("check %s: %v", inn, err)
			}
		}
		// Release; the vincristine out of tolerance is blocked with its
		// numbers, then rejected and remade.
		for _, inn := range order[:3] {
			if _, err := db.ReleasePreparation(f.pharma, preps[inn].ID, relais.ReleaseRequest{}); err != nil {
				t.Fatalf("release %s: %v", inn, err)
			}
		}
		_, err = db.ReleasePreparation(f.pharma, vcr.ID, relais.ReleaseRequest{})
		if relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), "1.8 mg drawn for 2 mg validated: -10.00 % (tolerance ±5 %)") {
			t.Fatalf("release out of tolerance: %v", err)
		}
		if _, err := db.RejectPreparation(f.pharma, vcr.ID, "hors tolérance : −10 %"); err != nil {
			t.Fatal(err)
		}
		remade, err := db.RemakePreparation(f.pharma, vcr.ID)
		if err != nil || remade.Replaces != vcr.ID || remade.Status != relais.PrepToPrepare || remade.RegisterNumber != "" {
			t.Fatalf("remake: %+v %v", remade, err)
		}

		// Dispensing: one slip for the ward's morning round.
		today := relais.LocalDate(time.Now())
		slipIDs := []relais.ID{preps["rituximab"].ID, preps["cyclophosphamide"].ID, doxo.ID, preps["prednisone"].ID}
		if _, err := db.CreateSlip(f.tech, relais.SlipRequest{Ward: "Hématologie HDJ", RoundDate: today, Round: relais.RoundMorning,
			PreparationIDs: []relais.ID{vcr.ID}}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("dispensing a rejected preparation: %v", err)
		}
		slip, err := db.CreateSlip(f.tech, relais.SlipRequest{Ward: "Hématologie HDJ", RoundDate: today, Round: relais.RoundMorning, PreparationIDs: slipIDs})
		if err != nil {
			t.Fatal(err)
		}
		if slip.Number != fmt.Sprintf("BL-%d-000001", year) || len(slip.PreparationIDs) != 4 {
			t.Fatalf("slip = %+v", slip)
		}
		if slip, err = db.ReceiveSlip(f.nurse, slip.ID, relais.ReceiptRequest{}); err != nil || slip.Receipt == nil || slip.Receipt.By != "ide.test" {
			t.Fatalf("receipt: %+v %v", slip.Receipt, err)
		}

		// The day's plan: six lines in sequence from 09:00; ondansetron
		// from the ward's stock for 15 min, then rituximab for 240 min
		// (09:15–13:15) at 575 mL / 4 h = 143.8 mL/h.
		plan, err := db.AdministrationPlan(f.nurse, f.patient.ID, pres.Lines[0].Date)
		if err != nil || len(plan.Items) != 6 {
			t.Fatalf("plan: %+v %v", plan, err)
		}
		rtxItem := plan.Items[1]
		if plan.Items[0].Status != "ward_stock" || rtxItem.INN != "rituximab" || rtxItem.Start.In(relais.DisplayZone).Format("15:04") != "09:15" ||
			rtxItem.End.In(relais.DisplayZone).Format("15:04") != "13:15" || rtxItem.RateMLH != 143.8 || rtxItem.RegisterNumber != num(1) {
			t.Fatalf("plan item = %+v", rtxItem)
		}

		// The bedside: a mismatched label or wristband is refused and
		// nothing is recorded.
		start := time.Now().Add(-2 * time.Hour).UTC()
		admin := func(label, ipp, code string) relais.AdministrationRequest {
			return relais.AdministrationRequest{ScannedLabel: label, PatientIPP: ipp, StartedAt: start, EndedAt: start.Add(15 * time.Minute),
				VolumeGivenML: 50, IndicationCode: code}
		}
		_, err = db.RecordAdministration(f.nurse, doxo.ID, admin(relais.PreparationCode(preps["rituximab"].ID), f.patient.IPP, ""))
		if relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(relais.ErrorMessage(err), "MISMATCH") {
			t.Fatalf("wrong label: %v", err)
		}
		_, err = db.RecordAdministration(f.nurse, doxo.ID, admin(relais.PreparationCode(doxo.ID), "IPP-9999", ""))
		if relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(relais.ErrorMessage(err), "wristband") {
			t.Fatalf("wrong patient: %v", err)
		}
		if p, _ := db.Preparation(f.nurse, doxo.ID); p.Status != relais.PrepDispensed {
			t.Fatalf("after refused scans the preparation is %s", p.Status)
		}
		a, err := db.RecordAdministration(f.nurse, doxo.ID, admin(relais.PreparationCode(doxo.ID), f.patient.IPP, ""))
		if err != nil || a.Scan == nil || !a.Scan.Matched || a.RegisterNumber != num(3) {
			t.Fatalf("administration: %+v %v", a, err)
		}
		// Rituximab is on the liste en sus: the indication code is required.
		rtxReq := admin(relais.PreparationCode(preps["rituximab"].ID), f.patient.IPP, "")
		rtxReq.VolumeGivenML = 575
		rtxReq.Incidents = []relais.Incident{{Kind: relais.IncidentReaction, At: start.Add(5 * time.Minute), Description: "frissons", Action: "débit réduit"}}
		rtxReq.Interruptions = []relais.Interruption{{From: start.Add(5 * time.Minute), To: start.Add(10 * time.Minute), Reason: "réaction"}}
		if _, err := db.RecordAdministration(f.nurse, preps["rituximab"].ID, rtxReq); relais.ErrorKind(err) != relais.KindInvalid ||
			!strings.Contains(err.Error(), "indication code") {
			t.Fatalf("liste en sus without an indication: %v", err)
		}
		rtxReq.IndicationCode = "I000123"
		if a, err = db.RecordAdministration(f.nurse, preps["rituximab"].ID, rtxReq); err != nil || len(a.Incidents) != 1 || len(a.Interruptions) != 1 {
			t.Fatalf("rituximab: %+v %v", a, err)
		}
		// Cyclophosphamide was not given: destroyed, with its cost.
		if a, err = db.RecordNotAdministered(f.nurse, preps["cyclophosphamide"].ID, relais.NotAdministeredRequest{Outcome: relais.OutcomeDestroyed,
			Reason: "patient fébrile, cure reportée", CostEUR: 12.5}); err != nil || a.Outcome != relais.OutcomeDestroyed || a.CostEUR != 12.5 {
			t.Fatalf("not administered: %+v %v", a, err)
		}
		if _, err := db.CancelPreparation(f.pharma, doxo.ID, "x"); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("cancelling an administered preparation: %v", err)
		}

		// Billing: rituximab drew 500 + 250 mg of the 500 mg product, all
		// given: 750 / 500 = 1.5 UCD.
		lines, err := db.BillingLines(f.pharma, string(relais.LocalDate(start))[:7])
		if err != nil || len(lines) != 1 {
			t.Fatalf("billing: %+v %v", lines, err)
		}
		if b := lines[0]; b.UCD != f.products["rtx500"].UCD || b.Quantity != 1.5 || b.IndicationCode != "I000123" || b.IPP != f.patient.IPP {
			t.Fatalf("billing line = %+v", b)
		}
		var csv bytes.Buffer
		if err := relais.WriteFICHCOMP(&csv, "350005179", lines); err != nil || !strings.Contains(csv.String(), ";"+f.products["rtx500"].UCD+";1.500;I000123;"+num(1)) {
			t.Fatalf("FICHCOMP: %v\n%s", err, csv.String())
		}

		// The register: four numbers, the vincristine rejected; a closed
		// entry takes annotations only.
		reg, err := db.Register(f.pharma, today.AddDays(-1), today.AddDays(1))
		if err != nil || len(reg) != 4 {
			t.Fatalf("register: %+v %v", reg, err)
		}
		want := []relais.RegisterStatus{relais.RegisterReleased, relais.RegisterReleased, relais.RegisterReleased, relais.RegisterRejected}
		for i, e := range reg {
			if e.Number != num(i+1) || e.Status != want[i] || e.INN != order[i] {
				t.Errorf("entry %d = %s %s %s", i, e.Number, e.Status, e.INN)
			}
		}
		e, err := db.AnnotateRegister(f.pharma, num(3), relais.AnnotationRequest{Text: "lot du reliquat vérifié a posteriori"})
		if err != nil || len(e.Annotations) != 1 || e.Status != relais.RegisterReleased {
			t.Fatalf("annotate: %+v %v", e, err)
		}

		// The remade vincristine is cancelled; once prednisone is given,
		// every line is done and the prescription completes.
		if _, err := db.CancelPreparation(f.pharma, remade.ID, "dose reportée à la cure suivante"); err != nil {
			t.Fatal(err)
		}
		pred := preps["prednisone"]
		predReq := admin(relais.PreparationCode(pred.ID), f.patient.IPP, "")
		predReq.VolumeGivenML = 0
		if _, err := db.RecordAdministration(f.nurse, pred.ID, predReq); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.Prescription(f.doctor, pres.ID); p.Status != relais.PrescriptionCompleted {
			t.Fatalf("prescription is %s; want completed", p.Status)
		}

		// The stores' own checks and the audit find nothing wrong.
		if faults, err := db.CheckRegister(f.sys); err != nil || len(faults) != 0 {
			t.Fatalf("register check: %v %v", faults, err)
		}
		if faults, err := db.CheckLeftovers(f.sys); err != nil || len(faults) != 0 {
			t.Fatalf("leftover check: %v %v", faults, err)
		}
		rep, err := db.VerifyJournal(f.sys)
		if err != nil || !rep.OK() {
			t.Fatalf("audit: %v %+v", err, rep.Faults)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A gravimetric control out of tolerance blocks release with the numbers;
// a drug's own tolerance, set beforehand, applies to its next preparations.
func TestGravimetricOutOfToleranceBlocksRelease(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		pres := f.validatedCycles(t, f.patient, 2)
		doxo1 := f.preparationsOf(t, pres[0].ID)["doxorubicine"]
		doxo2 := f.preparationsOf(t, pres[1].ID)["doxorubicine"]
		lot := f.lots["doxo50"].ID
		// 100 mg = two 50 mg vials drawn whole, 25 mL each; at the test
		// density of 1.0 g/mL, 50 g expected. Weighed 25.0 + 21.0 = 46.0 g
		// → 46 mL → 92 mg: −8 %, outside ±5 %.
		weighed := relais.ProductionRequest{Vials: []relais.UsedVialInput{{LotID: lot, MassG: g(25)}, {LotID: lot, MassG: g(21)}}}
		for _, p := range []relais.Preparation{doxo1, doxo2} {
			if _, err := f.db.IssueWorksheet(f.tech, p.ID); err != nil {
				t.Fatal(err)
			}
		}
		p, err := f.db.RecordProduction(f.tech, doxo1.ID, weighed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.CheckPreparation(f.tech2, p.ID, relais.CheckRequest{}); err != nil {
			t.Fatal(err)
		}
		_, err = f.db.ReleasePreparation(f.pharma, p.ID, relais.ReleaseRequest{})
		if relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), "expected mass 50 g, weighed 46 g; 92 mg drawn for 100 mg validated: -8.00 % (tolerance ±5 %)") {
			t.Fatalf("release out of tolerance: %v", err)
		}
		if p, _ = f.db.Preparation(f.pharma, p.ID); p.Status != relais.PrepChecked || p.Release != nil {
			t.Fatalf("after the refused release: %s", p.Status)
		}
		if _, err := f.db.SetTolerance(f.tech, f.drugs["doxorubicine"].ID, 12); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("a technician setting a tolerance: %v", err)
		}
		if _, err := f.db.SetTolerance(f.pharma, f.drugs["doxorubicine"].ID, 12); err != nil {
			t.Fatal(err)
		}
		p2, err := f.db.RecordProduction(f.tech, doxo2.ID, weighed)
		if err != nil || !p2.Production.Control.Within || p2.Production.Control.TolerancePercent != 12 {
			t.Fatalf("with ±12 %%: %+v %v", p2.Production, err)
		}
		if _, err := f.db.CheckPreparation(f.tech2, p2.ID, relais.CheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.ReleasePreparation(f.pharma, p2.ID, relais.ReleaseRequest{}); err != nil {
			t.Fatal(err)
		}
	})
}

// A worksheet's plan promises the vials it names: the next worksheet
// issued names other vials, so that both productions can be recorded as
// planned. Before, both named the last vials of the lot that expires first,
// and the second production was refused for want of them (the load
// campaign at a tenth of the region, docs/campaigns.md).
func TestWorksheetsReserveTheVialsTheyName(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		// Three vials of Doxorubicine 50 mg/25 mL expiring before the
		// fixture's lot: the first expiry is taken first.
		early, err := f.db.ReceiveStock(f.pharma, relais.StockReceipt{ProductID: f.products["doxo50"].ID, Lot: "L-EARLY",
			Expiry: relais.LocalDate(time.Now()).AddDays(30), Quantity: 3})
		if err != nil {
			t.Fatal(err)
		}
		pres := f.validatedCycles(t, f.patient, 2)
		// 100 mg of doxorubicine each (50 mg/m² × 2.00 m²): two 50 mg vials.
		var ids []relais.ID
		lotsNamed := map[string]int{}
		for _, pr := range pres {
			p := f.preparationsOf(t, pr.ID)["doxorubicine"]
			p, err := f.db.IssueWorksheet(f.tech, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range p.Plan.Draws {
				lotsNamed[d.Lot]++
			}
			ids = append(ids, p.ID)
		}
		if want := map[string]int{"L-EARLY": 3, "L-doxo50": 1}; !maps.Equal(lotsNamed, want) {
			t.Fatalf("vials named by the two worksheets, by lot: %v, want %v", lotsNamed, want)
		}
		for _, id := range ids {
			f.produceAsPlanned(t, id)
		}
		lots, err := f.db.StockLots(f.tech, f.products["doxo50"].ID)
		if err != nil {
			t.Fatal(err)
		}
		left := map[string]int{}
		for _, l := range lots {
			left[l.Lot] = l.QuantityRemaining
		}
		if left[early.Lot] != 0 || left["L-doxo50"] != 399 {
			t.Fatalf("vials left after both productions: %v, want L-EARLY 0 and L-doxo50 399", left)
		}
	})
}

// A treatment completes with the prescription of its last planned cycle,
// once no cycle is still open; its patient then leaves the prescribers'
// lists of patients under treatment. Earlier cycles completing leave it
// active.
func TestTreatmentCompletesWithItsLastCycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		start := relais.LocalDate(time.Now())
		tr, err := f.db.Include(f.doctor, relais.IncludeRequest{PatientID: f.patient.ID, ProtocolVersionID: f.versionID, Intent: "curative", StartDate: start})
		if err != nil {
			t.Fatal(err)
		}
		if tr.PlannedCycles != 8 {
			t.Fatalf("R-CHOP 21 plans %d cycles here; the test expects 8", tr.PlannedCycles)
		}
		// finish gives a prescription's dispensed prednisone, the others
		// being cancelled: every line is then over.
		finish := func(p relais.Prescription) {
			t.Helper()
			preps := f.preparationsOf(t, p.ID)
			for inn, prep := range preps {
				if inn != "prednisone" {
					if _, err := f.db.CancelPreparation(f.pharma, prep.ID, "cure reportée"); err != nil {
						t.Fatalf("cancel %s: %v", inn, err)
					}
				}
			}
			slip, err := f.db.CreateSlip(f.tech, relais.SlipRequest{Ward: "Hématologie HDJ", RoundDate: start, Round: relais.RoundMorning,
				PreparationIDs: []relais.ID{preps["prednisone"].ID}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.db.ReceiveSlip(f.nurse, slip.ID, relais.ReceiptRequest{}); err != nil {
				t.Fatal(err)
			}
			at := time.Now().Add(-time.Hour)
			if _, err := f.db.RecordAdministration(f.nurse, preps["prednisone"].ID, relais.AdministrationRequest{
				ScannedLabel: relais.PreparationCode(preps["prednisone"].ID), PatientIPP: f.patient.IPP, StartedAt: at, EndedAt: at.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.db.Prescription(f.doctor, p.ID); got.Status != relais.PrescriptionCompleted {
				t.Fatalf("cycle %d is %s; want completed", p.Cycle, got.Status)
			}
		}
		status := func() relais.Treatment {
			t.Helper()
			got, err := f.db.Treatment(f.doctor, tr.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		c7 := f.validatedCycle(t, tr.ID, 7, start)
		c8 := f.validatedCycle(t, tr.ID, 8, start.AddDays(21))
		// The last cycle done while cycle 7 is still open: not yet.
		finish(c8)
		if got := status(); got.Status != relais.TreatmentActive {
			t.Fatalf("cycle 8 completed with cycle 7 open: the treatment is %s", got.Status)
		}
		finish(c7)
		got := status()
		if got.Status != relais.TreatmentCompleted || got.StatusReason != "cycle 8 of 8 completed" {
			t.Fatalf("every cycle over: the treatment is %s (%q); want completed", got.Status, got.StatusReason)
		}
		if _, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 8, StartDate: start.AddDays(42)}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("prescribing on a completed treatment: %v", err)
		}
		wl, err := f.db.Worklist(f.doctor, relais.WorklistRequest{On: start, HorizonDays: 30, Lists: []string{relais.WorklistPatients}})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range wl.Patients {
			if it.PatientID == f.patient.ID {
				t.Fatalf("the patient of a completed treatment is still in the list of patients under treatment: %+v", it)
			}
		}
		if rep, err := f.db.VerifyJournal(f.sys); err != nil || !rep.OK() {
			t.Fatalf("audit: %v %+v", err, rep.Faults)
		}
	})
}
