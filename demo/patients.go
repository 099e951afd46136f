package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/relais-onco/relais"
)

// The demo's patients are fictitious: names drawn from common French names,
// identities provisional or, for some, "qualified" with matricules made under
// the INS *test* OID (1.2.250.1.213.1.4.9) so no real person can be meant.
// Their growth follows rough rules of thumb, not a growth chart: children's
// weight by the APLS formula 2 × (age + 4) kg (Advanced Paediatric Life
// Support, 6th ed., 2016) and height by 6 × age + 77 cm (Weech's rule,
// Weech AA, 1954), adults drawn between 155–190 cm and 50–95 kg.

var (
	lastNames  = []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Le Gall", "N'Diaye", "Saint-Martin", "Da Silva", "Nguyen", "Benali", "Faure", "Rousseau", "Blanc", "Guérin"}
	firstBoys  = []string{"Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Adam", "Raphaël", "Noé", "Léo", "Jean-Pierre", "Michel", "Alain", "Philippe"}
	firstGirls = []string{"Emma", "Jade", "Louise", "Alice", "Chloé", "Lina", "Léa", "Rose", "Anna", "Mila", "Marie-Claire", "Françoise", "Nathalie", "Isabelle"}
)

// Clinicians is the set of demo users who act on patients.
type Clinicians struct {
	Prescriber, Pharmacist context.Context
}

// PatientStore is what loading patients needs.
type PatientStore interface {
	relais.PatientService
	relais.TreatmentService
	relais.ProtocolService
}

type activeProtocol struct {
	Code       string
	Population relais.Population
	Version    relais.ID
}

// LoadPatients creates n patients with several cycles of history each, going
// through the whole circuit (prescription, signature, OK-to-treat,
// validation) at the dates of the past cycles, and leaves today's work in
// the worklists: some cycles to sign, some to validate.
func LoadPatients(ctx context.Context, s PatientStore, who Clinicians, n int, seed uint64, now time.Time) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	protos, err := s.Protocols(who.Prescriber, relais.ProtocolFilter{})
	if err != nil {
		return err
	}
	var paed, adult []activeProtocol
	for _, p := range protos {
		var active relais.ID
		for _, v := range p.Versions {
			if v.Status == relais.VersionActive {
				active = v.ID
			}
		}
		if active == "" {
			continue
		}
		p := activeProtocol{p.Code, p.Population, active}
		if p.Population == relais.Paediatric {
			paed = append(paed, p)
		} else {
			adult = append(adult, p)
		}
	}
	if len(paed) == 0 || len(adult) == 0 {
		return fmt.Errorf("demo: the protocol library needs active paediatric and adult protocols (found %d and %d)", len(paed), len(adult))
	}
	for i := 0; i < n; i++ {
		child := i%2 == 0 // paediatric oncology comes first
		sex := relais.SexMale
		if rng.IntN(2) == 0 {
			sex = relais.SexFemale
		}
		age := 1.5 + rng.Float64()*15
		pool := paed
		if !child {
			age = 25 + rng.Float64()*55
			pool = adult
		}
		proto := pool[i/2%len(pool)]
		if err := loadPatient(ctx, s, who, rng, i, child, age, sex, proto, now); err != nil {
			return fmt.Errorf("demo patient %d (%s): %w", i+1, proto.Code, err)
		}
	}
	return nil
}

func loadPatient(ctx context.Context, s PatientStore, who Clinicians, rng *rand.Rand, i int, child bool, age float64, sex relais.Sex, proto activeProtocol, now time.Time) error {
	doc, ph := who.Prescriber, who.Pharmacist
	names := firstBoys
	if sex == relais.SexFemale {
		names = firstGirls
	}
	first := names[rng.IntN(len(names))]
	if child { // the first ten are children's names of today
		first = names[rng.IntN(10)]
	}
	v, err := s.ProtocolVersion(doc, proto.Version)
	if err != nil {
		return err
	}
	length := v.Content.Cycles.LengthDays
	if length <= 0 {
		length = 21
	}
	done := 1 + rng.IntN(max(1, min(v.Content.Cycles.Count-1, 5))) // cycles already given
	start := now.AddDate(0, 0, -length*done)
	birth := start.AddDate(-int(age), -int(math.Mod(age, 1)*12), -rng.IntN(28))
	in := relais.PatientInput{
		IPP:        fmt.Sprintf("%08d", 40012000+i*37),
		INS:        relais.INS{Status: relais.IdentityProvisional},
		BirthName:  lastNames[i%len(lastNames)],
		FirstNames: []string{first},
		BirthDate:  relais.Date(birth.Format(time.DateOnly)),
		Sex:        sex,
	}
	if i%3 == 0 {
		in.INS = testINS(sex, birth, i)
	}
	p, err := s.CreatePatient(doc, in)
	if err != nil {
		return err
	}
	if i%7 == 3 {
		if _, err := s.AddAllergy(doc, p.ID, relais.AllergyInput{Substance: "amoxicilline", Reaction: "urticaire", Severity: relais.SeverityModerate}); err != nil {
			return err
		}
	}
	tr, err := s.Include(doc, relais.IncludeRequest{PatientID: p.ID, ProtocolVersionID: v.ID, Intent: "curative",
		StartDate: relais.Date(start.Format(time.DateOnly))})
	if err != nil {
		return err
	}
	height, weight := size(rng, child, age, sex)
	for cycle := 1; cycle <= done+1 && cycle <= v.Content.Cycles.Count; cycle++ {
		day1 := start.AddDate(0, 0, length*(cycle-1))
		measured := day1.Add(-20 * time.Hour)
		weight *= 1 + (rng.Float64()-0.6)*0.04 // small drift, mostly down under treatment
		weight = math.Round(weight*10) / 10
		for _, m := range []struct {
			kind string
			v    float64
		}{{"height_cm", height}, {"weight_kg", weight}, {"creatinine_umol_l", creatinine(rng, child, age)},
			{"neutrophils_g_l", 1.6 + rng.Float64()*3}, {"platelets_g_l", 120 + rng.Float64()*250}, {"haemoglobin_g_dl", 9 + rng.Float64()*4}} {
			if _, err := s.RecordMeasurement(doc, p.ID, relais.MeasurementInput{Kind: m.kind, Value: &m.v, MeasuredAt: measured, Source: relais.SourceLab}); err != nil {
				return fmt.Errorf("%s: %w", m.kind, err)
			}
		}
		pr, err := s.Prescribe(doc, tr.ID, relais.PrescribeRequest{Cycle: cycle, StartDate: relais.Date(day1.Format(time.DateOnly))})
		if err != nil {
			return err
		}
		if cycle == 2 && i%5 == 1 { // a dose reduction, with its reason
			for _, l := range pr.Lines {
				if l.Kind == string(relais.LineChemo) && l.Rule.Kind != "" {
					pct := -20.0
					if pr, err = s.ModifyLine(doc, pr.ID, l.ID, relais.ModifyLineRequest{Percent: &pct, Reason: "Neutropénie fébrile à la cure précédente"}); err != nil {
						return err
					}
					break
				}
			}
		}
		for _, c := range pr.Checks {
			if c.Level == relais.LevelAcknowledge && c.Ack == nil {
				if pr, err = s.Acknowledge(doc, pr.ID, relais.AcknowledgeRequest{Code: c.Code, LineID: c.LineID, Reason: "Vu en consultation"}); err != nil {
					return err
				}
			}
		}
		if cycle == done+1 && i%3 == 0 {
			continue // today's cycle left to sign
		}
		if pr, err = s.Sign(doc, pr.ID); err != nil {
			return err
		}
		for _, d := range pr.Days {
			if !d.Date.Time().Before(now.Truncate(24*time.Hour).AddDate(0, 0, 1)) {
				continue // future days get their OK-to-treat on the day
			}
			ok, err := s.GiveOKToTreat(doc, pr.ID, relais.OKToTreatRequest{Day: d.Day})
			if relais.ErrorKind(err) == relais.KindConflict { // a criterion not met: the prescriber decides
				ok, err = s.GiveOKToTreat(doc, pr.ID, relais.OKToTreatRequest{Day: d.Day, Override: true,
					Comment: "Critère limite, vu avec le patient et discuté en RCP : feu vert maintenu"})
			}
			if err != nil {
				return err
			}
			pr = ok
			if cycle == done+1 && i%3 == 1 {
				continue // today's lines left to validate
			}
			var day relais.ValidateLinesRequest
			for _, l := range pr.Lines {
				if l.Day == d.Day && l.Status == relais.LineProposed {
					day.Lines = append(day.Lines, relais.LineDecision{LineID: l.ID, ValidateLineRequest: relais.ValidateLineRequest{Decision: relais.DecisionAccept}})
				}
			}
			if len(day.Lines) > 0 {
				if pr, err = s.ValidateLines(ph, pr.ID, day); err != nil {
					return err
				}
			}
		}
	}
	if i%4 == 0 {
		if _, err := s.AddNote(doc, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient,
			Text: "Bonne tolérance clinique. Parents informés du calendrier des cures.", Shareable: true}); err != nil {
			return err
		}
	}
	return nil
}

// size returns a plausible height and weight for the age.
func size(rng *rand.Rand, child bool, age float64, sex relais.Sex) (float64, float64) {
	if child {
		h := 6*age + 77 + (rng.Float64()-0.5)*8
		w := 2*(age+4) + (rng.Float64()-0.5)*4
		if age > 10 { // APLS applies to 1–10 years; above, 3.3 × age (APLS 6th ed.)
			w = 3.3*age + (rng.Float64()-0.5)*6
		}
		return math.Round(h), math.Round(w*10) / 10
	}
	h := 155 + rng.Float64()*35
	if sex == relais.SexMale {
		h += 5
	}
	return math.Round(math.Min(h, 195)), math.Round((50+rng.Float64()*45)*10) / 10
}

// creatinine returns a normal serum creatinine for the age, µmol/L.
func creatinine(rng *rand.Rand, child bool, age float64) float64 {
	if child {
		return math.Round(20 + age*3 + rng.Float64()*8)
	}
	return math.Round(60 + rng.Float64()*30)
}

// testINS makes a qualified identity under the INS test OID, with a valid
// NIR key, from the sex and birth date.
func testINS(sex relais.Sex, birth time.Time, i int) relais.INS {
	s := "1"
	if sex == relais.SexFemale {
		s = "2"
	}
	first13 := fmt.Sprintf("%s%02d%02d%s%03d%03d", s, birth.Year()%100, int(birth.Month()), "33", 63+i%400, 100+i)
	key, err := relais.NIRKey(first13)
	if err != nil {
		return relais.INS{Status: relais.IdentityProvisional}
	}
	return relais.INS{Matricule: fmt.Sprintf("%s%02d", first13, key), OID: relais.OIDNIRTest, Status: relais.IdentityQualified}
}
