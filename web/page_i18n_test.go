package web

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
)

// The catalogs: French and English say the same things, and every text a
// page asks for exists.

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	fr, en := catalogs()["fr"], catalogs()["en"]
	for k := range fr {
		if _, ok := en[k]; !ok {
			t.Errorf("en.json lacks %q", k)
		}
	}
	for k := range en {
		if _, ok := fr[k]; !ok {
			t.Errorf("fr.json lacks %q", k)
		}
	}
	for lang, m := range catalogs() {
		for k, v := range m {
			if v == "" {
				t.Errorf("%s.json: %q is empty", lang, k)
			}
		}
	}
}

// keyUse finds the keys templates and page code ask for by name.
var keyUse = regexp.MustCompile(`(?:\.T|\.Tf|\bT|\bTf)[ (]"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"`)

func TestEveryKeyUsedExists(t *testing.T) {
	var files []string
	fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	goFiles, _ := filepath.Glob("page*.go")
	files = append(files, goFiles...)
	seen := map[string]bool{}
	for _, name := range files {
		b, err := fs.ReadFile(templateFS, name)
		if err != nil {
			b, err = os.ReadFile(name)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
	}
	if len(seen) < 100 {
		t.Fatalf("found only %d keys: the pattern no longer matches the templates", len(seen))
	}
	var missing []string
	for k := range seen {
		if !hasText(k) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("key %q is used but in no catalog", k)
	}
}

// The values pages translate with Enum and Badge: every one the domain
// defines has its text.
func TestEveryDomainValueHasItsText(t *testing.T) {
	want := []string{}
	add := func(prefix string, vals ...string) {
		for _, v := range vals {
			want = append(want, prefix+"."+v)
		}
	}
	for _, r := range relais.Roles {
		add("role", string(r))
	}
	for _, s := range relais.VersionStatuses {
		add("status.version", string(s))
	}
	for _, s := range []relais.TreatmentStatus{relais.TreatmentPlanned, relais.TreatmentActive, relais.TreatmentCompleted, relais.TreatmentStopped} {
		add("status.treatment", string(s))
	}
	for _, s := range []relais.PrescriptionStatus{relais.PrescriptionDraft, relais.PrescriptionSigned, relais.PrescriptionCompleted, relais.PrescriptionCancelled} {
		add("status.prescription", string(s))
	}
	for _, s := range []relais.LineStatus{relais.LineProposed, relais.LineValidated, relais.LineRefused, relais.LineCancelled} {
		add("status.line", string(s))
	}
	for _, l := range []relais.CheckLevel{relais.LevelBlocking, relais.LevelAcknowledge, relais.LevelInfo} {
		add("level", string(l))
	}
	add("intent", relais.Intents...)
	for _, k := range relais.LineKinds {
		add("kind", string(k))
	}
	for _, c := range relais.DrugClasses {
		add("class", string(c))
	}
	add("class", clinical.ClassAnthracycline, clinical.ClassBleomycin)
	add("decision", relais.DecisionAccept, relais.DecisionAcceptWithIntervention, relais.DecisionRefuse)
	add("event.decision", relais.DecisionAccept, relais.DecisionAcceptWithIntervention, relais.DecisionRefuse)
	add("severity", relais.SeverityMild, relais.SeverityModerate, relais.SeveritySevere, relais.SeverityUnknown)
	for _, s := range []relais.IdentityStatus{relais.IdentityProvisional, relais.IdentityRecovered, relais.IdentityValidated, relais.IdentityQualified} {
		add("ins", string(s), string(s)+".help")
	}
	add("sex", string(relais.SexMale), string(relais.SexFemale), string(relais.SexUnknown))
	add("population", string(relais.Paediatric), string(relais.Adult))
	add("change", relais.ChangeModified, relais.ChangeAdded, relais.ChangeRemoved)
	add("event.version", relais.EventCreated, relais.EventEdited, relais.EventSubmitted, relais.EventReturned, relais.EventActivated, relais.EventRetired)
	for _, s := range relais.VersionStatuses {
		for _, to := range s.Next() {
			add("transition", string(to))
		}
	}
	for _, st := range []relais.PreparationStatus{relais.PrepToPrepare, relais.PrepWorksheetIssued, relais.PrepPrepared, relais.PrepChecked,
		relais.PrepReleased, relais.PrepRejected, relais.PrepDispensed, relais.PrepAdministered, relais.PrepNotAdministered, relais.PrepCancelled} {
		add("status.prep", string(st))
	}
	for _, st := range []relais.LeftoverStatus{relais.LeftoverOpen, relais.LeftoverPartlyUsed, relais.LeftoverUsedUp, relais.LeftoverDiscarded, relais.LeftoverExpired} {
		add("status.leftover", string(st))
	}
	add("mode", string(relais.ModeCompounded), string(relais.ModeDispensed))
	add("round", relais.RoundMorning, relais.RoundAfternoon, relais.RoundEvening)
	add("outcome", relais.OutcomeAdministered, relais.OutcomeReturned, relais.OutcomeDestroyed)
	add("event.outcome", relais.OutcomeAdministered, relais.OutcomeReturned, relais.OutcomeDestroyed)
	add("incident", relais.IncidentExtravasation, relais.IncidentReaction, relais.IncidentOther)
	for _, c := range boardColumns {
		add("board", c.Key)
	}
	for _, k := range []string{"notfound", "forbidden", "unauthorized", "refused", "unavailable", "internal"} {
		add("error", k+".title", k+".text")
	}
	for _, k := range want {
		if !hasText(k) {
			t.Errorf("no text for %q", k)
		}
	}
}

func TestCatalogFilesAreValidJSON(t *testing.T) {
	for _, l := range Languages {
		b, err := i18nFS.ReadFile("i18n/" + l + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("%s.json: %v", l, err)
		}
	}
}
