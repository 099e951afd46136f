package pdfdoc

import (
	"fmt"
	"io"
	"testing"
)

// productionDay is a large unit's day: 300 preparations, each with its
// worksheet and label, handed over on 10 delivery slips of 30.
func productionDay() ([]WorksheetData, []LabelData, []SlipData) {
	const n, perSlip = 300, 30
	var ws []WorksheetData
	var ls []LabelData
	var ss []SlipData
	for i := 0; i < n; i++ {
		reg := fmt.Sprintf("2026-%06d", 1000+i)
		id := fmt.Sprintf("0193a5b2-7c4d-7e8f-9a0b-%012d", i)
		w := testWorksheet()
		w.RegisterNumber, w.PreparationID = reg, id
		w.Patient.LocalID = fmt.Sprintf("IPP-%08d", 400000+i)
		ws = append(ws, w)
		l := testLabel()
		l.RegisterNumber, l.PreparationID = reg, id
		l.Patient.LocalID = w.Patient.LocalID
		ls = append(ls, l)
		if i%perSlip == 0 {
			s := testSlip(0)
			s.Number = fmt.Sprintf("BL-2026-%04d", 400+i/perSlip)
			ss = append(ss, s)
		}
		s := &ss[len(ss)-1]
		s.Items = append(s.Items, SlipItem{RegisterNumber: reg, Patient: w.Patient, INN: w.INN,
			Dose: w.Dose, Volume: w.FinalVolume, Route: w.Route})
	}
	return ws, ls, ss
}

// BenchmarkProductionDay renders the day as separate PDFs, as they are
// printed: one op is the whole day (target: under 5 s).
func BenchmarkProductionDay(b *testing.B) {
	ws, ls, ss := productionDay()
	b.ReportAllocs()
	for b.Loop() {
		for i := range ws {
			if err := Worksheet(io.Discard, ws[i]); err != nil {
				b.Fatal(err)
			}
			if err := Label(io.Discard, ls[i], Label100x50); err != nil {
				b.Fatal(err)
			}
		}
		for i := range ss {
			if err := DeliverySlip(io.Discard, ss[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkProductionDayPack renders the same day as one pack (the
// downtime pack's shape).
func BenchmarkProductionDayPack(b *testing.B) {
	ws, ls, ss := productionDay()
	b.ReportAllocs()
	for b.Loop() {
		p, err := NewPack("Production", testStamp())
		if err != nil {
			b.Fatal(err)
		}
		for i := range ws {
			if err := p.AddWorksheet(ws[i]); err != nil {
				b.Fatal(err)
			}
			if err := p.AddLabel(ls[i], Label100x50); err != nil {
				b.Fatal(err)
			}
		}
		for i := range ss {
			if err := p.AddDeliverySlip(ss[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Output(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
