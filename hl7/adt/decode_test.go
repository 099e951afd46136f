package adt

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
)

// publishedNIR is a NIR whose key is published: « 2 06 12 75 111 005 … sa
// clé est : 64 » (lbcd78.fr, « Calcul de la clé du n° de sécurité
// sociale », 2007). A woman born in December 2006 in Paris.
const publishedNIR = "206127511100564"

// msg builds an ADT message; pid is PID-1 onwards (without "PID|").
func msg(trigger, ctrl, pid string, more ...string) string {
	s := "MSH|^~\\&|DPI|CHG|RELAIS|CHU|20250314083000||ADT^" + trigger + "^ADT_A01|" + ctrl + "|P|2.5^FRA^2.10|||||FRA|UNICODE UTF-8\r" +
		"EVN||20250314083000\rPID|" + pid + "\r"
	for _, m := range more {
		s += m + "\r"
	}
	return s
}

// pid returns PID fields 1–32 with the given values set (1-based).
func pid(fields map[int]string) string {
	f := make([]string, 32)
	for n, v := range fields {
		f[n-1] = v
	}
	return strings.Join(f, "|")
}

const insRep = "^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"

func decode(t *testing.T, raw string, cfg Config) (Event, *hl7.Error) {
	t.Helper()
	m, err := hl7.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if he := CheckHeader(m, cfg); he != nil {
		t.Fatalf("header: %v", he)
	}
	return Decode(m, cfg)
}

func ptr[T any](v T) *T { return &v }

func TestDecodeIdentity(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[int]string
		cfg    Config
		want   Identity
		ipp    string
	}{
		{
			name: "qualified INS, birth and used names, birthplace",
			fields: map[int]string{3: "IPP1^^^CHG^PI~" + publishedNIR + insRep, 5: "DUPONT^Marie^Marie Claire^^^^L~MARTIN^Marie^^^^^D",
				7: "20061214", 8: "F", 11: "^^^^^^H~^^^^^^BDL^^75111", 32: "QUAL"},
			ipp: "IPP1",
			want: Identity{INS: &relais.INS{Matricule: publishedNIR, OID: relais.OIDNIR, Status: relais.IdentityQualified},
				BirthName: "DUPONT", UsedName: ptr("MARTIN"), FirstNames: []string{"Marie", "Claire"}, BirthDate: "2006-12-14",
				Sex: relais.SexFemale, Birthplace: ptr("75111")},
		},
		{
			name:   "provisional, no INS, further first names in XPN-3",
			fields: map[int]string{3: "IPP2^^^CHG^PI", 5: "LE GALL^Yann^Erwan Loïc^^^^L", 7: "20150301", 8: "M", 32: "PROV"},
			ipp:    "IPP2",
			want: Identity{INS: &relais.INS{Status: relais.IdentityProvisional}, BirthName: "LE GALL",
				FirstNames: []string{"Yann", "Erwan", "Loïc"}, BirthDate: "2015-03-01", Sex: relais.SexMale},
		},
		{
			name:   "no PID-32 and no INS: status left as it is",
			fields: map[int]string{3: "IPP3^^^CHG^PI", 5: "DURAND^Léa", 7: "20100102", 8: "U"},
			ipp:    "IPP3",
			want:   Identity{BirthName: "DURAND", FirstNames: []string{"Léa"}, BirthDate: "2010-01-02", Sex: relais.SexUnknown},
		},
		{
			name:   "doubtful identity is provisional whatever else",
			fields: map[int]string{3: "IPP4^^^CHG^PI", 5: "X^Y^^^^^L", 7: "20100102", 8: "F", 32: "VALI~DOUTE"},
			ipp:    "IPP4",
			want: Identity{INS: &relais.INS{Status: relais.IdentityProvisional}, BirthName: "X", FirstNames: []string{"Y"},
				BirthDate: "2010-01-02", Sex: relais.SexFemale, Notes: []string{"PID-32 marks the identity DOUTE: taken as provisional"}},
		},
		{
			name:   "HL7 null clears the used name and the birthplace",
			fields: map[int]string{3: "IPP5^^^CHG^PI", 5: "X^Y^^^^^L~\"\"^^^^^^D", 7: "20100102", 8: "F", 11: "^^^^^^BDL^^\"\""},
			ipp:    "IPP5",
			want: Identity{BirthName: "X", UsedName: ptr(""), FirstNames: []string{"Y"}, BirthDate: "2010-01-02",
				Sex: relais.SexFemale, Birthplace: ptr("")},
		},
		{
			name:   "the site's assigning authority picks the IPP among several PI",
			fields: map[int]string{3: "OTHER9^^^CLINIQUE&1.2.3&ISO^PI~IPP6^^^CHG&1.2.250.1.71.9&ISO^PI", 5: "X^Y^^^^^L", 7: "20100102", 8: "F"},
			cfg:    Config{IPPAuthority: "1.2.250.1.71.9"},
			ipp:    "IPP6",
			want:   Identity{BirthName: "X", FirstNames: []string{"Y"}, BirthDate: "2010-01-02", Sex: relais.SexFemale},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, he := decode(t, msg("A28", "1", pid(tc.fields)), tc.cfg)
			if he != nil {
				t.Fatal(he)
			}
			if ev.IPP != tc.ipp || ev.Action != ActionUpsert {
				t.Errorf("IPP %q action %s", ev.IPP, ev.Action)
			}
			if !reflect.DeepEqual(tc.want, ev.Identity) {
				w, _ := json.Marshal(tc.want)
				g, _ := json.Marshal(ev.Identity)
				t.Errorf("identity:\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestDecodeINSWithoutStatus(t *testing.T) {
	ev, he := decode(t, msg("A28", "1", pid(map[int]string{3: "I^^^C^PI~" + publishedNIR + insRep, 5: "A^B^^^^^L", 7: "20061201", 8: "F"})), Config{})
	if he != nil {
		t.Fatal(he)
	}
	if ev.Identity.INS.Status != relais.IdentityRecovered || len(ev.Identity.Notes) != 1 {
		t.Errorf("INS %+v notes %q: an INS without status is recovered, and the log says so", ev.Identity.INS, ev.Identity.Notes)
	}
}

func TestDecodeFaultsAreLocated(t *testing.T) {
	ok := map[int]string{3: "I^^^C^PI", 5: "A^B^^^^^L", 7: "20100102", 8: "F"}
	with := func(n int, v string) map[int]string {
		m := map[int]string{}
		for k, x := range ok {
			m[k] = x
		}
		m[n] = v
		return m
	}
	for _, tc := range []struct {
		name string
		raw  string
		cfg  Config
		loc  hl7.Location
		code string
	}{
		{"no IPP", msg("A28", "1", pid(with(3, publishedNIR+insRep))), Config{}, hl7.Location{Segment: "PID", Seq: 3, Field: 3}, hl7.CodeRequiredMissing},
		{"IPP of another authority", msg("A28", "1", pid(with(3, "I^^^OTHER^PI"))), Config{IPPAuthority: "CHG"}, hl7.Location{Segment: "PID", Seq: 3, Field: 3}, hl7.CodeRequiredMissing},
		{"no birth name", msg("A28", "1", pid(with(5, "A^B^^^^^D"))), Config{}, hl7.Location{Segment: "PID", Seq: 3, Field: 5, Comp: 1}, hl7.CodeRequiredMissing},
		{"bad date", msg("A28", "1", pid(with(7, "20101302"))), Config{}, hl7.Location{Segment: "PID", Seq: 3, Field: 7, Comp: 1}, hl7.CodeDataType},
		{"bad sex", msg("A28", "1", pid(with(8, "X"))), Config{}, hl7.Location{Segment: "PID", Seq: 3, Field: 8, Comp: 1}, hl7.CodeTableValue},
		{"no PID", "MSH|^~\\&|A|B|C|D|2025||ADT^A28|1|P|2.5\rEVN||2025\r", Config{}, hl7.Location{Segment: "PID"}, hl7.CodeSegmentSequence},
		{"A40 without MRG", msg("A40", "1", pid(ok)), Config{}, hl7.Location{Segment: "MRG"}, hl7.CodeSegmentSequence},
		{"A47 with the same IPP", msg("A47", "1", pid(ok), "MRG|I^^^C^PI"), Config{}, hl7.Location{Segment: "MRG", Seq: 4, Field: 1, Rep: 1, Comp: 1}, hl7.CodeDataType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, he := decode(t, tc.raw, tc.cfg)
			if he == nil {
				t.Fatal("decoded without fault")
			}
			if he.Location != tc.loc || he.Code != tc.code || he.Reject || he.Message == "" {
				t.Errorf("got %+v, want %+v code %s", *he, tc.loc, tc.code)
			}
		})
	}
}

func TestCheckHeaderRejects(t *testing.T) {
	for _, tc := range []struct {
		msh   string
		field int
		code  string
	}{
		{"MSH|^~\\&|A|B|C|D|2025||ORU^R01|1|P|2.5", 9, hl7.CodeUnsupportedType},
		{"MSH|^~\\&|A|B|C|D|2025||ADT|1|P|2.5", 9, hl7.CodeRequiredMissing},
		{"MSH|^~\\&|A|B|C|D|2025||ADT^A28||P|2.5", 10, hl7.CodeRequiredMissing},
		{"MSH|^~\\&|A|B|C|D|2025||ADT^A28|1|T|2.5", 11, hl7.CodeUnsupportedProcID},
		{"MSH|^~\\&|A|B|C|D|2025||ADT^A28|1|P|2.1", 12, hl7.CodeUnsupportedVersion},
	} {
		m, err := hl7.Parse([]byte(tc.msh + "\r"))
		if err != nil {
			t.Fatal(err)
		}
		he := CheckHeader(m, Config{})
		if he == nil || !he.Reject || he.Field != tc.field || he.Code != tc.code {
			t.Errorf("%s: got %v, want a reject at MSH-%d code %s", tc.msh, he, tc.field, tc.code)
		}
	}
}

func TestTriggers(t *testing.T) {
	base := pid(map[int]string{3: "I^^^C^PI", 5: "A^B^^^^^L", 7: "20100102", 8: "F"})
	for trig, want := range map[string]Action{"A01": ActionUpsert, "A04": ActionUpsert, "A05": ActionUpsert, "A08": ActionUpsert,
		"A28": ActionUpsert, "A31": ActionUpsert, "A11": ActionNone, "A03": ActionNone, "A40": ActionMerge, "A47": ActionChangeIPP} {
		ev, he := decode(t, msg(trig, "1", base, "MRG|OLD^^^C^PI"), Config{})
		if he != nil || ev.Action != want {
			t.Errorf("%s: %s %v, want %s", trig, ev.Action, he, want)
		}
		if want == ActionMerge || want == ActionChangeIPP {
			if ev.PriorIPP != "OLD" {
				t.Errorf("%s: prior IPP %q", trig, ev.PriorIPP)
			}
		}
	}
	_ = fmt.Sprint
}
