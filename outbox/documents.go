package outbox

import (
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Document is a document to send: a PDF about one patient.
type Document struct {
	Kind      string
	ID        relais.ID // unique per document (a new one for each version)
	SubjectID relais.ID // the prescription or preparation
	Patient   relais.Patient
	Title     string
	CreatedAt time.Time
	Author    string
	// LOINC code and name of the document type (TXA-2, OBX-3, XDM typeCode).
	TypeCode, TypeName string
	PDF                []byte
}

// Document types, by LOINC code (loinc.org).
const (
	loincPlanOfCare   = "18776-5" // Plan of care note
	loincMedAdminNarr = "29549-3" // Medication administered Narrative
)

func identityLines(d *textDoc, p relais.Patient) {
	d.strong("Patient : " + p.DisplayName())
	d.linef("Né·e le / born %s · sexe / sex %s · IPP %s", p.BirthDate, p.Sex, p.IPP)
	if p.INS.Status == relais.IdentityQualified {
		d.linef("INS %s (OID %s) · identité qualifiée / qualified identity", p.INS.Matricule, p.INS.OID)
	} else {
		d.linef("Identité / identity: %s (INS non transmis / INS not sent)", p.INS.Status)
	}
}

// TreatmentPlan is the document of a signed cycle: every line with its day,
// dose as prescribed (unrounded, with any modification and its reason),
// route and vehicle.
func TreatmentPlan(p relais.Patient, pr relais.Prescription, at time.Time) Document {
	d := &textDoc{title: fmt.Sprintf("Plan de traitement %s cycle %d", pr.Regimen, pr.Cycle)}
	d.heading(fmt.Sprintf("Plan de traitement / Treatment plan — %s, cycle %d", pr.Regimen, pr.Cycle))
	d.blank()
	identityLines(d, p)
	d.blank()
	d.linef("Début du cycle / cycle start: %s · statut / status: %s", pr.StartDate, pr.Status)
	if !pr.SignedAt.IsZero() {
		d.linef("Signé par / signed by %s le / on %s", pr.PrescriberName, pr.SignedAt.In(relais.DisplayZone).Format("02/01/2006 15:04"))
	}
	m := pr.Measurements
	d.linef("Taille / height %v cm · poids / weight %v kg · SC / BSA %v m²", m.HeightCm, m.WeightKg, m.BSAM2)
	d.blank()
	for _, l := range pr.Lines {
		d.strong(fmt.Sprintf("J%d (%s) — %d. %s", l.Day, l.Date, l.Seq, strings.ToUpper(l.INN)))
		s := fmt.Sprintf("   %v %s %s", l.Dose, l.Unit, l.Route)
		if l.Vehicle != "" {
			s += " · " + l.Vehicle
			if l.VolumeML > 0 {
				s += fmt.Sprintf(" %v mL", l.VolumeML)
			}
		}
		if l.DurationMin > 0 {
			s += fmt.Sprintf(" · %d min", l.DurationMin)
		}
		d.line(s)
		if l.Modification != nil {
			d.linef("   Dose calculée / computed %v %s, modifiée / modified: %s", l.Modification.ComputedDose, l.Unit, l.Modification.Reason)
		}
		if l.Validation != nil {
			d.linef("   Validation pharmaceutique / pharmaceutical validation: %s (%s)", l.Validation.Decision, l.Validation.By)
		}
	}
	return Document{Kind: KindTreatmentPlan, ID: relais.NewID(), SubjectID: pr.ID, Patient: p, Title: d.title, CreatedAt: at,
		Author: pr.PrescriberName, TypeCode: loincPlanOfCare, TypeName: "Plan of care note",
		PDF: d.render(at, "Relais "+pr.Site+" · "+p.IPP)}
}

// AdministrationReport is the document of one preparation given (or not).
func AdministrationReport(p relais.Patient, prep relais.Preparation, a relais.Administration, at time.Time) Document {
	d := &textDoc{title: "Compte rendu d'administration " + prep.INN}
	d.heading("Compte rendu d'administration / Administration report")
	d.blank()
	identityLines(d, p)
	d.blank()
	d.strong(fmt.Sprintf("%s %v %s %s", strings.ToUpper(prep.INN), prep.Dose, prep.Unit, prep.Route))
	if prep.RegisterNumber != "" {
		d.linef("Préparation / preparation n° %s du / of %s", prep.RegisterNumber, prep.AdministrationDate)
	}
	zone := func(t time.Time) string { return t.In(relais.DisplayZone).Format("02/01/2006 15:04") }
	if a.Outcome == relais.OutcomeAdministered {
		d.linef("Administré / given: %s → %s", zone(a.StartedAt), zone(a.EndedAt))
		if a.VolumeGivenML > 0 {
			d.linef("Volume administré / volume given: %v mL", a.VolumeGivenML)
		}
		if a.RateMLH > 0 {
			d.linef("Débit / rate: %v mL/h", a.RateMLH)
		}
		for _, in := range a.Interruptions {
			d.linef("Interruption %s → %s: %s", zone(in.From), zone(in.To), in.Reason)
		}
		for _, in := range a.Incidents {
			d.linef("Incident (%s) %s: %s %s", in.Kind, zone(in.At), in.Description, in.Action)
		}
		if a.SecondNurse != "" {
			d.linef("Double contrôle / second check: %s", a.SecondNurse)
		}
	} else {
		d.linef("Non administré / not given (%s): %s", a.Outcome, a.Reason)
	}
	d.linef("Enregistré par / recorded by %s le / on %s", a.RecordedBy, zone(a.RecordedAt))
	if a.Comment != "" {
		d.line("Commentaire / comment: " + a.Comment)
	}
	return Document{Kind: KindAdministrationReport, ID: relais.NewID(), SubjectID: prep.ID, Patient: p, Title: d.title,
		CreatedAt: at, Author: a.RecordedBy, TypeCode: loincMedAdminNarr, TypeName: "Medication administered Narrative",
		PDF: d.render(at, "Relais "+prep.Site+" · "+p.IPP)}
}
