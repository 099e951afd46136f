package loadtest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/relais-onco/relais"
)

// The ledger keeps every write the server acknowledged (a 2xx answer with
// the entity's id and state), so that after a crash the campaign can read
// each one back: an acknowledged write must survive a SIGKILL. States only
// move forward in the circuit, so for each entity the ledger keeps the
// furthest state acknowledged, and the entity read back must be at least
// there (it may be further: a write in flight when the server died may
// have been committed without its answer reaching us).

// Entity kinds in the ledger.
const (
	kindPatient        = "patient"
	kindMeasurement    = "measurement"
	kindTreatment      = "treatment"
	kindPrescription   = "prescription"
	kindPreparation    = "preparation"
	kindSlip           = "slip"
	kindAdministration = "administration"
)

// ack is one acknowledged write.
type ack struct {
	Kind   string    `json:"kind"`
	ID     relais.ID `json:"id"`
	Parent relais.ID `json:"parent,omitempty"` // a measurement's patient
	State  string    `json:"state"`
	Rank   int       `json:"rank"`
}

type ledger struct {
	mu     sync.Mutex
	acks   map[string]ack
	writes int // acknowledged writes, all of them
}

func newLedger() *ledger { return &ledger{acks: map[string]ack{}} }

func (l *ledger) record(a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	k := a.Kind + "/" + string(a.ID)
	if old, ok := l.acks[k]; ok && old.Rank >= a.Rank {
		return
	}
	l.acks[k] = a
}

func (l *ledger) snapshot() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ack, 0, len(l.acks))
	for _, a := range l.acks {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Ranks of the states the load acknowledges.
var (
	prescriptionRank = map[string]int{"draft": 1, "signed": 2, "ok_to_treat": 3, "validated": 4}
	preparationRank  = map[relais.PreparationStatus]int{relais.PrepToPrepare: 1, relais.PrepWorksheetIssued: 2, relais.PrepPrepared: 3,
		relais.PrepChecked: 4, relais.PrepReleased: 5, relais.PrepDispensed: 6, relais.PrepAdministered: 7}
	slipRank = map[string]int{"made": 1, "received": 2}
)

func prescriptionAck(p relais.Prescription, state string) ack {
	return ack{Kind: kindPrescription, ID: p.ID, State: state, Rank: prescriptionRank[state]}
}

func preparationAck(p relais.Preparation) ack {
	return ack{Kind: kindPreparation, ID: p.ID, State: string(p.Status), Rank: preparationRank[p.Status]}
}

// prescriptionState is how far a prescription read back went, in the
// ledger's terms (day 1 only: the load prescribes and validates day 1).
func prescriptionState(p relais.Prescription) (string, int) {
	state := "draft"
	if p.Status == relais.PrescriptionDraft {
		return state, prescriptionRank[state]
	}
	if p.Status != relais.PrescriptionSigned && p.Status != relais.PrescriptionCompleted {
		return string(p.Status), 0 // cancelled: the load never cancels
	}
	state = "signed"
	var day1 *relais.PrescriptionDay
	for i := range p.Days {
		if p.Days[i].Day == 1 {
			day1 = &p.Days[i]
		}
	}
	if day1 == nil || day1.OKToTreat == nil {
		return state, prescriptionRank[state]
	}
	state = "ok_to_treat"
	for _, l := range p.Lines {
		if l.Day == 1 && l.Status == relais.LineProposed {
			return state, prescriptionRank[state]
		}
	}
	return "validated", prescriptionRank["validated"]
}

// Missing is an acknowledged write not found, or found behind its
// acknowledged state, after a restart.
type Missing struct {
	Kind  string    `json:"kind"`
	ID    relais.ID `json:"id"`
	Want  string    `json:"want"`
	Found string    `json:"found"`
}

// verify reads every acknowledged write back through the API, one reader
// per client (each a pharmacist's session of its own: it may read
// patients, prescriptions and production, and has its own rate limit).
func (l *ledger) verify(ctx context.Context, readers []*client) (checked int, missing []Missing, err error) {
	acks := l.snapshot()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	ch := make(chan ack)
	for _, c := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range ch {
				found, ok, err := readBack(ctx, c, a)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case !ok:
					missing = append(missing, Missing{Kind: a.Kind, ID: a.ID, Want: a.State, Found: found})
				}
				mu.Unlock()
			}
		}()
	}
	for _, a := range acks {
		select {
		case ch <- a:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	if len(errs) > 0 {
		return len(acks), missing, fmt.Errorf("%d read-back(s) failed, the first: %w", len(errs), errs[0])
	}
	if ctx.Err() != nil {
		return len(acks), missing, ctx.Err()
	}
	slices.SortFunc(missing, func(a, b Missing) int {
		if a.Kind != b.Kind {
			if a.Kind < b.Kind {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return len(acks), missing, nil
}

// readBack reads one acknowledged entity: what was found, and whether it is
// at least where the acknowledgement left it. A 404 is a missing write.
func readBack(ctx context.Context, c *client, a ack) (string, bool, error) {
	const op = "verify"
	get := func(path string, out any) (bool, error) {
		for try := 0; ; try++ {
			err := c.api(ctx, op+"."+a.Kind, "GET", path, nil, out, 404, 429)
			switch {
			case isStatus(err, 404):
				return false, nil
			case isStatus(err, 429) && try < 30:
				// The API's rate limit (per session) also holds for the
				// verifier: it waits its turn, as a script should.
				if !sleep(ctx, time.Second) {
					return false, ctx.Err()
				}
				continue
			}
			return err == nil, err
		}
	}
	switch a.Kind {
	case kindPatient:
		var p relais.Patient
		ok, err := get("/patients/"+string(a.ID), &p)
		if err != nil || !ok {
			return "absent", false, err
		}
		return "exists", p.ID == a.ID, nil
	case kindMeasurement:
		var ms []relais.Measurement
		if ok, err := get("/patients/"+string(a.Parent)+"/measurements", &ms); err != nil || !ok {
			return "absent (patient)", false, err
		}
		for _, m := range ms {
			if m.ID == a.ID {
				return "exists", true, nil
			}
		}
		return "absent", false, nil
	case kindTreatment:
		var t relais.Treatment
		ok, err := get("/treatments/"+string(a.ID), &t)
		if err != nil || !ok {
			return "absent", false, err
		}
		return string(t.Status), true, nil
	case kindPrescription:
		var p relais.Prescription
		ok, err := get("/prescriptions/"+string(a.ID), &p)
		if err != nil || !ok {
			return "absent", false, err
		}
		state, rank := prescriptionState(p)
		return state, rank >= a.Rank, nil
	case kindPreparation:
		var p relais.Preparation
		ok, err := get("/preparations/"+string(a.ID), &p)
		if err != nil || !ok {
			return "absent", false, err
		}
		return string(p.Status), preparationRank[p.Status] >= a.Rank, nil
	case kindSlip:
		var s relais.DeliverySlip
		ok, err := get("/slips/"+string(a.ID), &s)
		if err != nil || !ok {
			return "absent", false, err
		}
		state := "made"
		if s.Receipt != nil {
			state = "received"
		}
		return state, slipRank[state] >= a.Rank, nil
	case kindAdministration:
		var ad relais.Administration
		ok, err := get("/preparations/"+string(a.ID)+"/administration", &ad)
		if err != nil || !ok {
			return "absent", false, err
		}
		return "recorded", true, nil
	}
	return "", false, fmt.Errorf("verify: unknown kind %q", a.Kind)
}
