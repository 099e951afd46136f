package continuity

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/pdfdoc"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// The downtime pack (seed 001: "old worksheets, paper"): one PDF with what
// the pharmacy and the wards need to go on for 72 hours with no computer at
// all — for every preparation of the next three days: its compounding
// worksheet (once issued) and label (once prepared); each patient's
// administration plan for each day; the delivery slips already made. Every
// page carries the time of the data it shows (the last journal entry the
// standby applied), so nobody mistakes an old pack for a new one.
//
// The documents are drawn by pdfdoc from the same mapping as the site's
// own PDFs (web.WorksheetData, LabelData, PlanData, SlipData).

// PackSummary says what a downtime pack holds.
type PackSummary struct {
	Path         string    `json:"path"`
	DataTime     time.Time `json:"data_time"`
	From, To     relais.Date
	Preparations int      `json:"preparations"`
	Worksheets   int      `json:"worksheets"`
	Labels       int      `json:"labels"`
	Plans        int      `json:"plans"`
	Slips        int      `json:"slips"`
	Pages        int      `json:"pages"`
	Skipped      []string `json:"skipped,omitempty"` // documents that could not be drawn, and why
}

// DowntimePack writes the pack of the 72 hours from now into dir, as
// downtime-YYYYMMDD-HHMM.pdf (and downtime-latest.pdf, replaced
// atomically), and returns what it holds.
func DowntimePack(ctx context.Context, db *sqlstore.DB, dir string, now time.Time) (PackSummary, error) {
	const op = "continuity.pack"
	var sum PackSummary
	ctx = relais.WithActor(ctx, relais.SystemActor(db.Site))
	head, err := db.Head(ctx, db.Site)
	if err != nil {
		return sum, err
	}
	sum.DataTime = head.Time
	if sum.DataTime.IsZero() {
		sum.DataTime = now
	}
	ph, err := db.Pharmacy(ctx)
	if err != nil {
		return sum, err
	}
	st := pdfdoc.Stamp{DataTime: sum.DataTime, Version: relais.Version, Lang: "fr",
		Pharmacy: pdfdoc.Pharmacy{Name: ph.Name, Address: ph.Address, Phone: ph.Phone}}
	first := relais.LocalDate(now)
	days := []relais.Date{first}
	for i := 1; i <= 3; i++ { // 72 hours from now span four calendar days at most
		days = append(days, relais.Date(now.In(relais.DisplayZone).AddDate(0, 0, i).Format(time.DateOnly)))
	}
	sum.From, sum.To = days[0], days[len(days)-1]
	p, err := pdfdoc.NewPack(fmt.Sprintf("Dossier de continuité — du %s au %s — données du %s", sum.From, sum.To,
		sum.DataTime.In(relais.DisplayZone).Format("02/01/2006 15:04")), st)
	if err != nil {
		return sum, relais.E(op, err)
	}
	skip := func(what string, err error) { sum.Skipped = append(sum.Skipped, what+": "+err.Error()) }
	for _, day := range days {
		preps, err := db.Preparations(ctx, relais.PreparationFilter{Date: day})
		if err != nil {
			return sum, err
		}
		var ids []relais.ID
		patients := map[relais.ID]bool{}
		for _, pr := range preps {
			if pr.Status == relais.PrepCancelled || pr.Status == relais.PrepRejected {
				continue
			}
			ids = append(ids, pr.ID)
			patients[pr.PatientID] = true
		}
		sum.Preparations += len(ids)
		ds, err := db.Dossiers(ctx, ids)
		if err != nil {
			return sum, err
		}
		for _, d := range ds {
			if d.Preparation.RegisterNumber != "" {
				ws, err := web.WorksheetData(d, "fr")
				if err == nil {
					ws.Stamp = st
					err = p.AddWorksheet(ws)
				}
				if err != nil {
					skip("fiche "+d.Preparation.Display(), err)
				} else {
					sum.Worksheets++
				}
			}
			if d.Preparation.Production != nil {
				lb, err := web.LabelData(d)
				if err == nil {
					lb.Stamp = st
					err = p.AddLabel(lb, pdfdoc.Label100x50)
				}
				if err != nil {
					skip("étiquette "+d.Preparation.Display(), err)
				} else {
					sum.Labels++
				}
			}
		}
		pids := make([]relais.ID, 0, len(patients))
		for id := range patients {
			pids = append(pids, id)
		}
		sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
		for _, id := range pids {
			plan, err := db.AdministrationPlan(ctx, id, day)
			if err != nil {
				skip("plan "+string(id)+" "+string(day), err)
				continue
			}
			pat, err := db.Patient(ctx, id)
			if err != nil {
				return sum, err
			}
			pd, err := web.PlanData(plan, pat, "", "fr")
			if err == nil {
				pd.Stamp = st
				err = p.AddAdministrationPlan(pd)
			}
			if err != nil {
				skip("plan "+pat.IPP+" "+string(day), err)
				continue
			}
			sum.Plans++
		}
		slips, err := db.Slips(ctx, day)
		if err != nil {
			return sum, err
		}
		for _, sl := range slips {
			sds, err := db.Dossiers(ctx, sl.PreparationIDs)
			if err != nil {
				return sum, err
			}
			sd := web.SlipData(sl, sds)
			sd.Stamp = st
			if err := p.AddDeliverySlip(sd); err != nil {
				skip("bordereau "+sl.Number, err)
				continue
			}
			sum.Slips++
		}
	}
	if p.Documents() == 0 {
		return sum, relais.E(op, relais.KindNotFound, fmt.Sprintf("nothing to print from %s to %s: no preparation, plan or slip", sum.From, sum.To))
	}
	sum.Pages = p.Pages()
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		return sum, relais.E(op, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return sum, relais.E(op, err)
	}
	sum.Path = filepath.Join(dir, "downtime-"+now.In(relais.DisplayZone).Format("20060102-1504")+".pdf")
	if err := writeAtomic(sum.Path, buf.Bytes()); err != nil {
		return sum, relais.E(op, err)
	}
	if err := writeAtomic(filepath.Join(dir, "downtime-latest.pdf"), buf.Bytes()); err != nil {
		return sum, relais.E(op, err)
	}
	return sum, nil
}

// writeAtomic writes path through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
