package relais

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/relais-onco/relais/clinical"
)

// The treatment record starts with the patient: an identity that identity
// monitoring (identitovigilance) can trust, the measurements doses are
// computed from, and the notes professionals leave each other.
//
// Identity follows the Référentiel national d'identitovigilance (RNIV, volet
// 1 « Principes d'identification des usagers communs à tous les acteurs de
// santé », 2021) and the Référentiel INS of the Agence du numérique en santé
// (ANS, v2, 2022): strict traits (birth name, first names, birth date, sex,
// birthplace code), a used name, the INS (matricule + OID) and the status of
// the identity. A patient is never deleted: a duplicate is merged into the
// patient that survives (HL7 A40), a local id is changed with the old one kept
// (HL7 A47); both are transitions recorded in the journal.

// Sex is the RNIV trait "sexe": M, F, or U (unknown / undetermined).
type Sex string

const (
	SexMale    Sex = "M"
	SexFemale  Sex = "F"
	SexUnknown Sex = "U"
)

// IdentityStatus is the status of an identity in the RNIV (volet 1, §2.2):
// whether an identity document of high trust was checked, and whether the INS
// was obtained from the INSi teleservice.
//
//	                    no INSi call      INS from INSi
//	no document check   provisional       recovered
//	document checked    validated         qualified
//
// Only a qualified identity's INS may be used to share data (Référentiel INS).
type IdentityStatus string

const (
	IdentityProvisional IdentityStatus = "provisional" // identité provisoire
	IdentityRecovered   IdentityStatus = "recovered"   // identité récupérée
	IdentityValidated   IdentityStatus = "validated"   // identité validée
	IdentityQualified   IdentityStatus = "qualified"   // identité qualifiée
)

// Valid reports whether s is one of the four RNIV statuses.
func (s IdentityStatus) Valid() bool {
	switch s {
	case IdentityProvisional, IdentityRecovered, IdentityValidated, IdentityQualified:
		return true
	}
	return false
}

// HasINS reports whether an identity of this status carries an INS: the
// recovered and qualified ones are exactly those obtained from INSi.
func (s IdentityStatus) HasINS() bool { return s == IdentityRecovered || s == IdentityQualified }

// OIDs of the INS matricule (Référentiel INS, ANS): the authority that
// assigned it. The test OIDs are those of the INSi test identities; they are
// accepted so that qualification environments work, and show as such.
const (
	OIDNIR     = "1.2.250.1.213.1.4.8"  // NIR: numéro d'inscription au répertoire (INSEE)
	OIDNIA     = "1.2.250.1.213.1.4.10" // NIA: numéro d'identification d'attente (CNAV)
	OIDNIRTest = "1.2.250.1.213.1.4.9"  // test NIR
	OIDNIATest = "1.2.250.1.213.1.4.11" // test NIA
)

// INS is the national health identifier and the status of the identity it
// belongs to. Matricule and OID are both empty unless Status.HasINS().
type INS struct {
	Matricule string         `json:"matricule,omitempty" doc:"NIR or NIA: 15 characters, 13 + a 2-digit key (spaces allowed on input)"`
	OID       string         `json:"oid,omitempty" doc:"1.2.250.1.213.1.4.8 (NIR) or 1.2.250.1.213.1.4.10 (NIA); .9 and .11 for test identities"`
	Status    IdentityStatus `json:"status" doc:"provisional, recovered, validated or qualified (RNIV)"`
}

// NIRKey returns the control key of the first 13 characters of a NIR or NIA:
// 97 − (N mod 97), where N is the 13-digit number and, for people born in
// Corsica, department 2A counts as 19 and 2B as 18. This is the key the INSEE
// defines for the NIR (décret n° 82-103 du 22 janvier 1982 for the number;
// the key as documented by the INSEE and restated in the Référentiel INS of
// the ANS, which applies it to the NIA too).
func NIRKey(first13 string) (int, error) {
	if len(first13) != 13 {
		return 0, fmt.Errorf("a NIR has 13 characters before its key, not %d", len(first13))
	}
	s := first13
	switch strings.ToUpper(s[5:7]) {
	case "2A":
		s = s[:5] + "19" + s[7:]
	case "2B":
		s = s[:5] + "18" + s[7:]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strings.ContainsAny(s, "+-") {
		return 0, fmt.Errorf("a NIR is made of digits (and 2A or 2B for Corsica in positions 6–7)")
	}
	return int(97 - n%97), nil
}

// CleanMatricule removes the spaces people type in a NIR and upper-cases the
// Corsica letters; it changes nothing else.
func CleanMatricule(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// CheckMatricule checks a cleaned NIR or NIA: 15 characters and a matching
// key.
func CheckMatricule(m string) error {
	if len(m) != 15 {
		return fmt.Errorf("an INS matricule has 15 characters (13 + a 2-digit key), this one has %d", utf8.RuneCountInString(m))
	}
	key, err := NIRKey(m[:13])
	if err != nil {
		return err
	}
	given, err := strconv.Atoi(m[13:])
	if err != nil || m[13] < '0' || m[13] > '9' || m[14] < '0' || m[14] > '9' {
		return fmt.Errorf("the last 2 characters of an INS matricule are its key, in digits")
	}
	if given != key {
		return fmt.Errorf("the key %s does not match the first 13 characters (expected %02d): check the number on the INSi answer or the carte Vitale", m[13:], key)
	}
	return nil
}

func validOID(oid string) bool {
	switch oid {
	case OIDNIR, OIDNIA, OIDNIRTest, OIDNIATest:
		return true
	}
	return false
}

// PatientStatus: a patient is active, or merged into another (HL7 A40).
type PatientStatus string

const (
	PatientActive PatientStatus = "active"
	PatientMerged PatientStatus = "merged"
)

// Author is who wrote or recorded something, as shown beside it.
type Author struct {
	UserID ID     `json:"user_id"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
}

// AuthorOf returns the author record of an actor.
func AuthorOf(a Actor) Author {
	name := a.Name
	if name == "" {
		name = a.Username
	}
	return Author{UserID: a.UserID, Name: name, Role: a.Role}
}

// Voiding records why something entered in error no longer counts. Voided
// records stay, shown struck through: nothing is deleted.
type Voiding struct {
	By     Author    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Patient is one person's identity at the site that created the record.
type Patient struct {
	ID   ID     `json:"id"`
	Site string `json:"site" doc:"the site that created and keeps this record"`
	IPP  string `json:"ipp" doc:"local patient id (IPP), unique at the site"`
	// FormerIPPs are the local ids this patient had before an identifier
	// change (HL7 A47), oldest first: messages still carrying them are
	// recognised.
	FormerIPPs     []FormerIPP `json:"former_ipps"`
	INS            INS         `json:"ins"`
	BirthName      string      `json:"birth_name"`
	UsedName       string      `json:"used_name,omitempty"`
	FirstNames     []string    `json:"first_names" doc:"birth first names; the first is the usual one"`
	BirthDate      Date        `json:"birth_date"`
	Sex            Sex         `json:"sex"`
	BirthplaceCode string      `json:"birthplace_code,omitempty" doc:"INSEE COG code of the birth commune (5 characters), 99xxx when born abroad"`
	// Allergies include those recorded on patients merged into this one.
	Allergies     []Allergy `json:"allergies"`
	ReferringSite string    `json:"referring_site,omitempty" doc:"the site that refers the patient"`
	// SharedWith lists the sites that share the care (and so see the record),
	// with the information given to the patient or parents.
	SharedWith  []Sharing     `json:"shared_with"`
	Status      PatientStatus `json:"status"`
	MergedInto  ID            `json:"merged_into,omitempty"`
	MergedAt    time.Time     `json:"merged_at,omitzero"`
	MergeReason string        `json:"merge_reason,omitempty"`
	// MergedFrom lists the patients merged into this one (directly or
	// through a chain): their measurements, notes and allergies are read
	// with this patient's.
	MergedFrom []ID      `json:"merged_from"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// DisplayName is the name shown on screens and documents: USED (or BIRTH)
// name in capitals, usual first name, and the birth name when a used name
// differs (RNIV: "nom utilisé, prénom utilisé, né(e) …").
func (p Patient) DisplayName() string {
	var b strings.Builder
	name := p.BirthName
	if p.UsedName != "" {
		name = p.UsedName
	}
	b.WriteString(strings.ToUpper(name))
	if len(p.FirstNames) > 0 {
		b.WriteString(" ")
		b.WriteString(p.FirstNames[0])
	}
	if p.UsedName != "" && !strings.EqualFold(p.UsedName, p.BirthName) {
		b.WriteString(" (né·e " + strings.ToUpper(p.BirthName) + ")")
	}
	return b.String()
}

// FormerIPP is a local id a patient no longer carries.
type FormerIPP struct {
	IPP    string    `json:"ipp"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	By     Author    `json:"by"`
}

// Allergy severities.
const (
	SeverityMild     = "mild"
	SeverityModerate = "moderate"
	SeveritySevere   = "severe"
	SeverityUnknown  = "unknown"
)

// Allergy is a substance the patient reacts to.
type Allergy struct {
	ID         ID        `json:"id"`
	PatientID  ID        `json:"patient_id" doc:"the patient it was recorded on (differs after a merge)"`
	Substance  string    `json:"substance"`
	Reaction   string    `json:"reaction,omitempty"`
	Severity   string    `json:"severity" doc:"mild, moderate, severe or unknown"`
	RecordedBy Author    `json:"recorded_by"`
	At         time.Time `json:"at"`
	Voided     *Voiding  `json:"voided,omitempty"`
}

// Sharing is a site sharing the patient's care.
type Sharing struct {
	Site               string    `json:"site"`
	Since              time.Time `json:"since"`
	InformationGivenAt time.Time `json:"information_given_at" doc:"when the patient (or the parents) were told their record is shared"`
	InformationGivenBy string    `json:"information_given_by" doc:"the professional who told them"`
	RecordedBy         Author    `json:"recorded_by"`
}

// PatientInput is what creates a patient (the API, HL7 A28/A04 later).
type PatientInput struct {
	IPP            string   `json:"ipp"`
	INS            INS      `json:"ins"`
	BirthName      string   `json:"birth_name"`
	UsedName       string   `json:"used_name,omitempty"`
	FirstNames     []string `json:"first_names"`
	BirthDate      Date     `json:"birth_date"`
	Sex            Sex      `json:"sex"`
	BirthplaceCode string   `json:"birthplace_code,omitempty"`
	ReferringSite  string   `json:"referring_site,omitempty"`
}

// PatientUpdate changes identity traits; a nil field is left as it is. The
// local id changes only through ChangePatientIPP, which keeps the old one.
type PatientUpdate struct {
	INS            *INS      `json:"ins,omitempty"`
	BirthName      *string   `json:"birth_name,omitempty"`
	UsedName       *string   `json:"used_name,omitempty"`
	FirstNames     *[]string `json:"first_names,omitempty"`
	BirthDate      *Date     `json:"birth_date,omitempty"`
	Sex            *Sex      `json:"sex,omitempty"`
	BirthplaceCode *string   `json:"birthplace_code,omitempty"`
	ReferringSite  *string   `json:"referring_site,omitempty"`
}

// Apply returns p's identity as an input with the update's fields set, to be
// normalized and checked like a creation. strictChanged reports whether a
// strict trait (the ones INSi returns) changed.
func (u PatientUpdate) Apply(p Patient) (out PatientInput, strictChanged bool) {
	out = PatientInput{IPP: p.IPP, INS: p.INS, BirthName: p.BirthName, UsedName: p.UsedName,
		FirstNames: append([]string(nil), p.FirstNames...), BirthDate: p.BirthDate, Sex: p.Sex,
		BirthplaceCode: p.BirthplaceCode, ReferringSite: p.ReferringSite}
	if u.INS != nil {
		out.INS = *u.INS
	}
	if u.BirthName != nil {
		strictChanged = strictChanged || strings.TrimSpace(*u.BirthName) != p.BirthName
		out.BirthName = *u.BirthName
	}
	if u.UsedName != nil {
		out.UsedName = *u.UsedName
	}
	if u.FirstNames != nil {
		strictChanged = strictChanged || strings.Join(trimAll(*u.FirstNames), "\x00") != strings.Join(p.FirstNames, "\x00")
		out.FirstNames = *u.FirstNames
	}
	if u.BirthDate != nil {
		strictChanged = strictChanged || *u.BirthDate != p.BirthDate
		out.BirthDate = *u.BirthDate
	}
	if u.Sex != nil {
		strictChanged = strictChanged || *u.Sex != p.Sex
		out.Sex = *u.Sex
	}
	if u.BirthplaceCode != nil {
		strictChanged = strictChanged || strings.TrimSpace(*u.BirthplaceCode) != p.BirthplaceCode
		out.BirthplaceCode = *u.BirthplaceCode
	}
	if u.ReferringSite != nil {
		out.ReferringSite = *u.ReferringSite
	}
	return out, strictChanged
}

func trimAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// maxNameLen bounds names: longer input is refused, never cut.
const maxNameLen = 100

// Normalize trims the input's names and codes and cleans the INS matricule,
// then validates it at date today (the local calendar date). Every fault is
// reported, each naming its field.
func (in *PatientInput) Normalize(op string, today Date) error {
	in.IPP = strings.TrimSpace(in.IPP)
	in.BirthName = strings.TrimSpace(in.BirthName)
	in.UsedName = strings.TrimSpace(in.UsedName)
	in.FirstNames = trimAll(in.FirstNames)
	in.BirthplaceCode = strings.ToUpper(strings.TrimSpace(in.BirthplaceCode))
	in.ReferringSite = strings.TrimSpace(in.ReferringSite)
	in.INS.Matricule = CleanMatricule(in.INS.Matricule)
	in.INS.OID = strings.TrimSpace(in.INS.OID)

	var errs []error
	if err := CheckIPP(op, "ipp", in.IPP); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkName(op, "birth_name", in.BirthName, true)...)
	errs = append(errs, checkName(op, "used_name", in.UsedName, false)...)
	if len(in.FirstNames) == 0 {
		errs = append(errs, Invalid(op, "first_names", "at least one first name is required (the usual one first)"))
	}
	for i, f := range in.FirstNames {
		errs = append(errs, checkName(op, fmt.Sprintf("first_names[%d]", i), f, true)...)
	}
	errs = append(errs, CheckBirthDate(op, "birth_date", in.BirthDate, today)...)
	switch in.Sex {
	case SexMale, SexFemale, SexUnknown:
	default:
		errs = append(errs, Invalid(op, "sex", "sex must be M, F or U (unknown), not %q", truncate(string(in.Sex), 10)))
	}
	if in.BirthplaceCode != "" && !validBirthplace(in.BirthplaceCode) {
		errs = append(errs, Invalid(op, "birthplace_code", "%q is not an INSEE place code: 5 characters, e.g. 33063 (Bordeaux), 2A004 (Ajaccio) or 99134 (born in Spain)", truncate(in.BirthplaceCode, 12)))
	}
	errs = append(errs, CheckINS(op, in.INS)...)
	return Errors(op, errs)
}

// CheckBirthDate refuses a birth date that is not a date, is in the future
// or is before 1900.
func CheckBirthDate(op, field string, d Date, today Date) []error {
	if d == "" {
		return []error{Invalid(op, field, "the birth date is required (YYYY-MM-DD)")}
	}
	if _, err := ParseDate(field, string(d)); err != nil {
		return []error{E(op, err)}
	}
	if d > today {
		return []error{Invalid(op, field, "the birth date %s is in the future (today is %s)", d, today)}
	}
	if d < "1900-01-01" {
		return []error{Invalid(op, field, "the birth date %s is before 1900: check the year", d)}
	}
	return nil
}

// CheckINS checks the INS against the identity status: an INS comes with a
// recovered or qualified identity only, with a known OID and a right key.
func CheckINS(op string, ins INS) []error {
	var errs []error
	if !ins.Status.Valid() {
		errs = append(errs, Invalid(op, "ins.status", "the identity status must be provisional, recovered, validated or qualified, not %q", truncate(string(ins.Status), 20)))
	}
	if ins.Matricule == "" {
		if ins.OID != "" {
			errs = append(errs, Invalid(op, "ins.matricule", "an OID is given without the INS matricule it qualifies"))
		}
		if ins.Status.HasINS() {
			errs = append(errs, Invalid(op, "ins.matricule", "a %s identity has an INS (obtained from INSi): give its matricule and OID", ins.Status))
		}
		return errs
	}
	if err := CheckMatricule(ins.Matricule); err != nil {
		errs = append(errs, Invalid(op, "ins.matricule", "%s", err.Error()))
	}
	if !validOID(ins.OID) {
		errs = append(errs, Invalid(op, "ins.oid", "the OID must be %s (NIR) or %s (NIA), as INSi returns it; got %q", OIDNIR, OIDNIA, truncate(ins.OID, 40)))
	}
	if ins.Status.Valid() && !ins.Status.HasINS() {
		errs = append(errs, Invalid(op, "ins.status", "an identity with an INS is recovered or qualified (the INS comes from INSi), not %s", ins.Status))
	}
	return errs
}

func checkName(op, field, s string, required bool) []error {
	if s == "" {
		if required {
			return []error{Invalid(op, field, "this name is required")}
		}
		return nil
	}
	if utf8.RuneCountInString(s) > maxNameLen {
		return []error{Invalid(op, field, "this name is longer than %d characters: check it (names are never cut)", maxNameLen)}
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return []error{Invalid(op, field, "this name contains a control character")}
	}
	if NormalizeName(s) == "" {
		return []error{Invalid(op, field, "this name has no letter")}
	}
	return nil
}

func validBirthplace(c string) bool {
	if len(c) != 5 {
		return false
	}
	digits := func(s string) bool {
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	return digits(c) || ((c[:2] == "2A" || c[:2] == "2B") && digits(c[2:]))
}

// NormalizeName is the searchable form of a name: accents and ligatures
// folded to ASCII, lower case, and every run of spaces, hyphens, apostrophes
// and other punctuation turned into one space. "Le Gall", "LE-GALL" and
// "le  gall" all give "le gall"; "Noël-Müller" gives "noel muller".
// Letters outside the Latin alphabets are kept, lower-cased.
func NormalizeName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if f, ok := foldRune[r]; ok {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(f)
			continue
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		case unicode.Is(unicode.Mn, r): // a combining accent typed separately
		default:
			space = true
		}
	}
	return b.String()
}

// NameTokens returns the search tokens of names: each word of each name, and
// each multi-word name written as one word ("le gall" → "le", "gall",
// "legall"), so that "LEGALL" finds "Le Gall".
func NameTokens(names ...string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, n := range names {
		words := strings.Fields(NormalizeName(n))
		for _, w := range words {
			add(w)
		}
		if len(words) > 1 {
			add(strings.Join(words, ""))
		}
	}
	return out
}

// foldRune maps the accented Latin letters and ligatures of Latin-1,
// Latin Extended-A and the Romanian comma letters to ASCII.
var foldRune = func() map[rune]string {
	m := map[rune]string{}
	for _, p := range []struct{ from, to string }{
		{"ÀÁÂÃÄÅàáâãäåĀāĂăĄą", "a"},
		{"ÇçĆćĈĉĊċČč", "c"},
		{"ÐðĎďĐđ", "d"},
		{"ÈÉÊËèéêëĒēĔĕĖėĘęĚě", "e"},
		{"ĜĝĞğĠġĢģ", "g"},
		{"ĤĥĦħ", "h"},
		{"ÌÍÎÏìíîïĨĩĪīĬĭĮįİı", "i"},
		{"Ĵĵ", "j"},
		{"Ķķĸ", "k"},
		{"ĹĺĻļĽľĿŀŁł", "l"},
		{"ÑñŃńŅņŇňŉŊŋ", "n"},
		{"ÒÓÔÕÖØòóôõöøŌōŎŏŐő", "o"},
		{"ŔŕŖŗŘř", "r"},
		{"ŚśŜŝŞşŠšȘș", "s"},
		{"ŢţŤťŦŧȚț", "t"},
		{"ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų", "u"},
		{"Ŵŵ", "w"},
		{"ÝýÿŶŷŸ", "y"},
		{"ŹźŻżŽž", "z"},
	} {
		for _, r := range p.from {
			m[r] = p.to
		}
	}
	for r, s := range map[rune]string{'Æ': "ae", 'æ': "ae", 'Œ': "oe", 'œ': "oe", 'ß': "ss", 'Þ': "th", 'þ': "th", 'Ĳ': "ij", 'ĳ': "ij"} {
		m[r] = s
	}
	return m
}()

// CheckIPP checks a local patient id: 1 to 64 letters, digits, '-', '_' or
// '.', starting with a letter or a digit and without "..". EHRs number
// patients with digits and sometimes a prefix; anything else (a path, a
// quote, a space) is a mistake or an attack and is refused.
func CheckIPP(op, field, ipp string) error {
	if ipp == "" {
		return Invalid(op, field, "the local patient id (IPP) is required: copy it from the hospital's patient record")
	}
	ok := len(ipp) <= 64 && !strings.Contains(ipp, "..")
	for i, r := range ipp {
		alnum := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || (r != '-' && r != '_' && r != '.')) {
			ok = false
		}
	}
	if !ok {
		return Invalid(op, field, "the IPP is 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or a digit: copy it from the hospital's patient record")
	}
	return nil
}

// Age is a person's age on a date.
type Age struct {
	Years  int `json:"years"`  // completed years
	Months int `json:"months"` // completed months since birth (all of them: 2 years = 24)
	Days   int `json:"days"`   // days since birth
	// DecimalYears is Years plus the elapsed fraction of the current year of
	// life (days since the last birthday ÷ days between it and the next).
	DecimalYears float64 `json:"decimal_years"`
}

// AgeOn returns the age on date on of a person born on birth. Anniversaries
// falling on a day the month lacks (born on the 31st, or on 29 February) are
// reached on the month's last day.
func AgeOn(birth, on Date) (Age, error) {
	b, err := time.Parse(time.DateOnly, string(birth))
	if err != nil {
		return Age{}, Invalid("age", "birth_date", "%q is not a date (YYYY-MM-DD)", truncate(string(birth), 20))
	}
	d, err := time.Parse(time.DateOnly, string(on))
	if err != nil {
		return Age{}, Invalid("age", "date", "%q is not a date (YYYY-MM-DD)", truncate(string(on), 20))
	}
	if d.Before(b) {
		return Age{}, Invalid("age", "date", "%s is before the birth date %s", on, birth)
	}
	months := (d.Year()-b.Year())*12 + int(d.Month()-b.Month())
	if monthsAfter(b, months).After(d) {
		months--
	}
	years := months / 12
	last, next := monthsAfter(b, years*12), monthsAfter(b, (years+1)*12)
	frac := float64(d.Sub(last)/(24*time.Hour)) / float64(next.Sub(last)/(24*time.Hour))
	return Age{Years: years, Months: months, Days: int(d.Sub(b) / (24 * time.Hour)), DecimalYears: float64(years) + frac}, nil
}

// AgeAt returns the age at instant t, taking t's calendar date in
// DisplayZone (a child born in Paris turns one at midnight Paris time).
func AgeAt(birth Date, t time.Time) (Age, error) {
	return AgeOn(birth, Date(t.In(DisplayZone).Format(time.DateOnly)))
}

// Today is the current calendar date in DisplayZone.
func Today() Date { return Date(time.Now().In(DisplayZone).Format(time.DateOnly)) }

// monthsAfter returns b plus n months, clamped to the target month's last
// day (time.AddDate would roll 31 January + 1 month over to 3 March).
func monthsAfter(b time.Time, n int) time.Time {
	y, m := b.Year(), int(b.Month())-1+n
	y += m / 12
	m %= 12
	first := time.Date(y, time.Month(m+1), 1, 0, 0, 0, 0, time.UTC)
	lastDay := first.AddDate(0, 1, -1).Day()
	day := b.Day()
	if day > lastDay {
		day = lastDay
	}
	return time.Date(y, time.Month(m+1), day, 0, 0, 0, 0, time.UTC)
}

// PatientService manages patients: identity, allergies, sharing,
// measurements, notes, search, and the identity transitions HL7 ADT brings
// (merge, identifier change).
type PatientService interface {
	CreatePatient(ctx context.Context, in PatientInput) (Patient, error)
	Patient(ctx context.Context, id ID) (Patient, error)
	UpdatePatient(ctx context.Context, id ID, u PatientUpdate) (Patient, error)
	// SearchPatients finds patients by name, birth date, IPP or INS; terms
	// combine ("dupont 12/03/2015"). A merged patient found by its old
	// identifiers is answered with the patient it was merged into.
	SearchPatients(ctx context.Context, query string, limit int) ([]Patient, error)

	AddAllergy(ctx context.Context, patientID ID, in AllergyInput) (Patient, error)
	VoidAllergy(ctx context.Context, patientID, allergyID ID, reason string) (Patient, error)
	SharePatient(ctx context.Context, patientID ID, in SharingInput) (Patient, error)

	// ChangePatientIPP gives the patient a new local id and keeps the old
	// one in FormerIPPs (HL7 A47).
	ChangePatientIPP(ctx context.Context, id ID, newIPP, reason string) (Patient, error)
	// MergePatients merges the duplicate into the survivor (HL7 A40): the
	// duplicate becomes merged, nothing is deleted, and the survivor's reads
	// include the duplicate's measurements, notes and allergies.
	MergePatients(ctx context.Context, survivorID, duplicateID ID, reason string) (Patient, error)

	RecordMeasurement(ctx context.Context, patientID ID, in MeasurementInput) (Measurement, error)
	VoidMeasurement(ctx context.Context, id ID, reason string) (Measurement, error)
	// Measurements lists a patient's measurements, newest first, voided ones
	// included; kind "" means all kinds.
	Measurements(ctx context.Context, patientID ID, kind string) ([]Measurement, error)
	// CurrentValues returns the latest valid measurement of each kind, the
	// current BSA and GFR, each with its age.
	CurrentValues(ctx context.Context, patientID ID) (CurrentValues, error)

	AddNote(ctx context.Context, in NoteInput) (Note, error)
	// Notes lists the notes on a patient (and on its prescriptions and
	// preparations), each at its latest version with its history.
	Notes(ctx context.Context, patientID ID, filter NoteFilter) ([]NoteThread, error)
}

// AllergyInput records an allergy.
type AllergyInput struct {
	Substance string `json:"substance"`
	Reaction  string `json:"reaction,omitempty"`
	Severity  string `json:"severity" doc:"mild, moderate, severe or unknown"`
}

// Normalize trims and checks the input.
func (in *AllergyInput) Normalize(op string) error {
	in.Substance = strings.TrimSpace(in.Substance)
	in.Reaction = strings.TrimSpace(in.Reaction)
	var errs []error
	if in.Substance == "" {
		errs = append(errs, Invalid(op, "substance", "name the substance (INN, class or excipient)"))
	} else if utf8.RuneCountInString(in.Substance) > 200 {
		errs = append(errs, Invalid(op, "substance", "at most 200 characters"))
	}
	if utf8.RuneCountInString(in.Reaction) > 1000 {
		errs = append(errs, Invalid(op, "reaction", "at most 1000 characters: write more in a note"))
	}
	switch in.Severity {
	case SeverityMild, SeverityModerate, SeveritySevere, SeverityUnknown:
	default:
		errs = append(errs, Invalid(op, "severity", "severity must be mild, moderate, severe or unknown"))
	}
	return Errors(op, errs)
}

// SharingInput shares the patient's care with a site.
type SharingInput struct {
	Site               string    `json:"site"`
	InformationGivenAt time.Time `json:"information_given_at"`
	InformationGivenBy string    `json:"information_given_by"`
}

// ChangeIPPRequest is the body of an identifier change.
type ChangeIPPRequest struct {
	IPP    string `json:"ipp"`
	Reason string `json:"reason"`
}

// MergeRequest merges a duplicate into the patient of the URL.
type MergeRequest struct {
	DuplicateID ID     `json:"duplicate_id"`
	Reason      string `json:"reason"`
}

// Measurements.

// MeasurementKind describes one kind of measurement: its unit and the
// plausibility bounds outside which a value is refused. The bounds are not
// reference ranges: they catch typing and unit errors (a weight in grams, a
// creatinine in mg/dL typed as µmol/L), and are wide enough for a premature
// newborn and for a patient in renal failure or hyperleukocytosis.
type MeasurementKind struct {
	Kind  string  `json:"kind"`
	Unit  string  `json:"unit"`
	Label string  `json:"label"` // French / English
	Min   float64 `json:"min"`   // inclusive
	Max   float64 `json:"max"`   // inclusive
}

// MeasurementKinds is the documented list (docs/patients.md repeats it).
// Height, weight, creatinine and measured GFR share the bounds of the
// clinical calculations, so that a stored value is always one they accept.
var MeasurementKinds = []MeasurementKind{
	{"height_cm", "cm", "Taille / Height", clinical.BoundHeightCm.Min, clinical.BoundHeightCm.Max},
	{"weight_kg", "kg", "Poids / Weight", clinical.BoundWeightKg.Min, clinical.BoundWeightKg.Max},
	{"creatinine_umol_l", "µmol/L", "Créatinine sérique / Serum creatinine", clinical.BoundCreatinineUmolL.Min, clinical.BoundCreatinineUmolL.Max},
	{"gfr_measured_ml_min", "mL/min", "DFG mesuré / Measured GFR", clinical.BoundGFRMLMin.Min, clinical.BoundGFRMLMin.Max},
	{"leukocytes_g_l", "G/L", "Leucocytes / White cells", 0, 1000},
	{"neutrophils_g_l", "G/L", "Polynucléaires neutrophiles / Neutrophils", 0, 200},
	{"platelets_g_l", "G/L", "Plaquettes / Platelets", 0, 3000},
	{"haemoglobin_g_dl", "g/dL", "Hémoglobine / Haemoglobin", 1, 25},
	{"bilirubin_umol_l", "µmol/L", "Bilirubine totale / Total bilirubin", 0, 1500},
	{"alt_u_l", "U/L", "ALAT / ALT", 0, 20000},
	{"ast_u_l", "U/L", "ASAT / AST", 0, 20000},
	{"albumin_g_l", "g/L", "Albumine / Albumin", 5, 70},
}

// MeasurementKindOf returns the description of kind.
func MeasurementKindOf(kind string) (MeasurementKind, bool) {
	for _, k := range MeasurementKinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return MeasurementKind{}, false
}

func measurementKindNames() string {
	names := make([]string, len(MeasurementKinds))
	for i, k := range MeasurementKinds {
		names[i] = k.Kind
	}
	return strings.Join(names, ", ")
}

// Measurement sources.
const (
	SourceManual = "manual"
	SourceLab    = "lab"
	SourceHL7    = "hl7"
)

// Measurement is one value measured on a patient at a time. It is never
// changed: one entered in error is voided, with a reason.
type Measurement struct {
	ID         ID        `json:"id"`
	Site       string    `json:"site"`
	PatientID  ID        `json:"patient_id"`
	Kind       string    `json:"kind"`
	Value      float64   `json:"value"`
	Unit       string    `json:"unit"`
	MeasuredAt time.Time `json:"measured_at"`
	RecordedBy Author    `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
	Source     string    `json:"source" doc:"manual, lab or hl7"`
	Voided     *Voiding  `json:"voided,omitempty"`
}

// MeasurementInput records a measurement.
type MeasurementInput struct {
	Kind       string    `json:"kind"`
	Value      *float64  `json:"value"`
	Unit       string    `json:"unit,omitempty" doc:"must be the kind's unit when given"`
	MeasuredAt time.Time `json:"measured_at"`
	Source     string    `json:"source,omitempty" doc:"manual (when empty), lab or hl7"`
}

// clockSkew is how far in the future a measurement time may be (clocks of
// lab analysers and workstations drift).
const clockSkew = 5 * time.Minute

// Normalize checks the input against the kind's unit and bounds, at time now
// for a patient born on birth.
func (in *MeasurementInput) Normalize(op string, now time.Time, birth Date) error {
	var errs []error
	k, ok := MeasurementKindOf(in.Kind)
	if !ok {
		errs = append(errs, Invalid(op, "kind", "unknown kind %q: use one of %s", truncate(in.Kind, 30), measurementKindNames()))
	}
	if in.Value == nil {
		errs = append(errs, Invalid(op, "value", "the value is required"))
	} else if ok && (*in.Value < k.Min || *in.Value > k.Max) {
		errs = append(errs, Invalid(op, "value", "%v %s is outside the plausible range for %s (%v to %v %s): check the value and its unit",
			*in.Value, k.Unit, in.Kind, k.Min, k.Max, k.Unit))
	}
	if ok {
		if in.Unit == "" {
			in.Unit = k.Unit // the kind's name carries its unit
		} else if in.Unit != k.Unit {
			errs = append(errs, Invalid(op, "unit", "%s is recorded in %s, not %q: convert the value (Relais never converts silently)", in.Kind, k.Unit, truncate(in.Unit, 20)))
		}
	}
	if in.MeasuredAt.IsZero() {
		errs = append(errs, Invalid(op, "measured_at", "when was it measured? give a time, e.g. 2025-03-14T08:30:00+01:00"))
	} else {
		in.MeasuredAt = in.MeasuredAt.UTC().Truncate(time.Microsecond)
		if in.MeasuredAt.After(now.Add(clockSkew)) {
			errs = append(errs, Invalid(op, "measured_at", "%s is in the future", in.MeasuredAt.In(DisplayZone).Format("02/01/2006 15:04")))
		} else if birth != "" && in.MeasuredAt.Before(birth.Time().Add(-24*time.Hour)) {
			errs = append(errs, Invalid(op, "measured_at", "%s is before the patient's birth (%s)", in.MeasuredAt.In(DisplayZone).Format("02/01/2006"), birth))
		}
	}
	switch in.Source {
	case "":
		in.Source = SourceManual
	case SourceManual, SourceLab, SourceHL7:
	default:
		errs = append(errs, Invalid(op, "source", "source must be manual, lab or hl7"))
	}
	return Errors(op, errs)
}

// Elapsed is how old a value is, as shown beside it.
type Elapsed struct {
	Seconds int64  `json:"seconds"`
	Text    string `json:"text" doc:"e.g. « 3 j 4 h / 3 d 4 h »"`
}

// ElapsedSince returns the time from then to now, written for people.
func ElapsedSince(then, now time.Time) Elapsed {
	d := now.Sub(then)
	if d < 0 {
		d = 0
	}
	days := int64(d / (24 * time.Hour))
	hours := int64(d % (24 * time.Hour) / time.Hour)
	mins := int64(d % time.Hour / time.Minute)
	var fr, en string
	switch {
	case days > 0:
		fr, en = fmt.Sprintf("%d j %d h", days, hours), fmt.Sprintf("%d d %d h", days, hours)
	case hours > 0:
		fr, en = fmt.Sprintf("%d h %d min", hours, mins), fmt.Sprintf("%d h %d min", hours, mins)
	default:
		fr, en = fmt.Sprintf("%d min", mins), fmt.Sprintf("%d min", mins)
	}
	return Elapsed{Seconds: int64(d / time.Second), Text: fr + " / " + en}
}

// CurrentMeasurement is the latest valid measurement of a kind, with its age.
type CurrentMeasurement struct {
	Measurement
	Age Elapsed `json:"age"`
}

// CurrentValues are what a prescriber sees before computing doses: the
// latest valid measurement of each kind, the BSA and GFR derived from them,
// and beside each how old it is.
type CurrentValues struct {
	PatientID ID        `json:"patient_id"`
	At        time.Time `json:"at" doc:"when these values were computed"`
	Age       Age       `json:"age" doc:"the patient's age at that time"`
	// Values holds one measurement per kind recorded, in MeasurementKinds
	// order.
	Values []CurrentMeasurement `json:"values"`
	BSA    Derived              `json:"bsa"`
	GFR    Derived              `json:"gfr"`
}

// Value returns the current measurement of kind, if any.
func (c CurrentValues) Value(kind string) (CurrentMeasurement, bool) {
	for _, v := range c.Values {
		if v.Kind == kind {
			return v, true
		}
	}
	return CurrentMeasurement{}, false
}

// Derived is a value computed from measurements: its result with the
// derivation steps, or why it is unavailable; the measurements used, and the
// age of the oldest of them (a BSA is as old as its oldest input).
type Derived struct {
	Method      string           `json:"method"`
	Result      *clinical.Result `json:"result,omitempty"`
	Unavailable string           `json:"unavailable,omitempty" doc:"why it could not be computed (French / English)"`
	Inputs      []ID             `json:"inputs" doc:"the measurements used"`
	OldestInput time.Time        `json:"oldest_input_at,omitzero"`
	Age         *Elapsed         `json:"age,omitempty" doc:"age of the oldest input"`
}

// ComputeCurrentValues derives a patient's current values at time at from
// their measurements (voided ones are skipped):
//
//   - BSA by Mosteller (clinical.BSA) from the latest height and weight;
//   - GFR from the latest serum creatinine: bedside Schwartz (with the latest
//     height) when the patient was under 18 on the day the creatinine was
//     taken, CKD-EPI 2021 (with age in completed years and sex) from 18 on —
//     clinical.GFR. A measured GFR, when recorded, is among Values; it does
//     not replace the estimate.
//
// It does no I/O: the store reads, this computes.
func ComputeCurrentValues(p Patient, ms []Measurement, at time.Time) CurrentValues {
	cv := CurrentValues{PatientID: p.ID, At: at, Values: []CurrentMeasurement{}}
	cv.Age, _ = AgeAt(p.BirthDate, at)
	latest := map[string]Measurement{}
	for _, m := range ms {
		if m.Voided != nil {
			continue
		}
		if l, ok := latest[m.Kind]; !ok || m.MeasuredAt.After(l.MeasuredAt) || (m.MeasuredAt.Equal(l.MeasuredAt) && m.ID > l.ID) {
			latest[m.Kind] = m
		}
	}
	for _, k := range MeasurementKinds {
		if m, ok := latest[k.Kind]; ok {
			cv.Values = append(cv.Values, CurrentMeasurement{Measurement: m, Age: ElapsedSince(m.MeasuredAt, at)})
		}
	}
	height, hasHeight := latest["height_cm"]
	weight, hasWeight := latest["weight_kg"]
	creat, hasCreat := latest["creatinine_umol_l"]

	cv.BSA = Derived{Method: clinical.BSAMosteller, Inputs: []ID{}}
	switch {
	case !hasHeight || !hasWeight:
		cv.BSA.Unavailable = "taille et poids nécessaires / height and weight needed" + missing(!hasHeight, "height_cm", !hasWeight, "weight_kg")
	default:
		r, err := clinical.BSA(clinical.BSAMosteller, height.Value, weight.Value)
		cv.BSA.derive(r, err, at, height, weight)
	}

	cv.GFR = Derived{Inputs: []ID{}}
	switch {
	case !hasCreat:
		cv.GFR.Unavailable = "aucune créatinine enregistrée / no serum creatinine recorded"
		return cv
	}
	ageThen, err := AgeAt(p.BirthDate, creat.MeasuredAt)
	if err != nil {
		cv.GFR.Unavailable = "âge inconnu à la date de la créatinine / age unknown on the creatinine's date: " + ErrorMessage(err)
		return cv
	}
	years := float64(ageThen.Years)
	choice := clinical.Step{Code: "gfr.method_choice", Value: years, Unit: "years",
		Inputs: map[string]float64{"age_years": years}}
	if ageThen.Years < clinical.AdultAgeYears {
		cv.GFR.Method = clinical.GFRSchwartzBedside
		choice.FR = fmt.Sprintf("Âge %d ans le jour de la créatinine (moins de %d ans) : Schwartz au lit du patient", ageThen.Years, clinical.AdultAgeYears)
		choice.EN = fmt.Sprintf("Age %d years on the creatinine's day (under %d): bedside Schwartz", ageThen.Years, clinical.AdultAgeYears)
		if !hasHeight {
			cv.GFR.Unavailable = "la formule de Schwartz demande la taille / bedside Schwartz needs the height" + missing(true, "height_cm", false, "")
			return cv
		}
		r, err := clinical.GFR(clinical.GFRInput{Method: clinical.GFRSchwartzBedside, HeightCm: height.Value, CreatinineUmolL: creat.Value})
		cv.GFR.derive(r, err, at, creat, height)
	} else {
		cv.GFR.Method = clinical.GFRCKDEPI2021
		choice.FR = fmt.Sprintf("Âge %d ans le jour de la créatinine (%d ans ou plus) : CKD-EPI 2021", ageThen.Years, clinical.AdultAgeYears)
		choice.EN = fmt.Sprintf("Age %d years on the creatinine's day (%d or over): CKD-EPI 2021", ageThen.Years, clinical.AdultAgeYears)
		if p.Sex != SexMale && p.Sex != SexFemale {
			cv.GFR.Unavailable = "CKD-EPI 2021 demande le sexe (M ou F), inconnu ici / CKD-EPI 2021 needs the sex (M or F), unknown here"
			return cv
		}
		r, err := clinical.GFR(clinical.GFRInput{Method: clinical.GFRCKDEPI2021, AgeYears: &years, Sex: string(p.Sex), CreatinineUmolL: creat.Value})
		cv.GFR.derive(r, err, at, creat)
	}
	if cv.GFR.Result != nil {
		cv.GFR.Result.Steps = append([]clinical.Step{choice}, cv.GFR.Result.Steps...)
	}
	return cv
}

func missing(a bool, an string, b bool, bn string) string {
	var names []string
	if a {
		names = append(names, an)
	}
	if b {
		names = append(names, bn)
	}
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// derive fills d from a calculation and the measurements it used.
func (d *Derived) derive(r clinical.Result, err error, at time.Time, inputs ...Measurement) {
	for _, m := range inputs {
		d.Inputs = append(d.Inputs, m.ID)
		if d.OldestInput.IsZero() || m.MeasuredAt.Before(d.OldestInput) {
			d.OldestInput = m.MeasuredAt
		}
	}
	e := ElapsedSince(d.OldestInput, at)
	d.Age = &e
	if err != nil {
		d.Unavailable = "calcul impossible / cannot compute: " + err.Error()
		return
	}
	d.Result = &r
}

// Notes.

// Note targets.
const (
	NoteOnPatient      = "patient"
	NoteOnPrescription = "prescription"
	NoteOnPreparation  = "preparation"
)

// Note is a message between professionals about a patient, a prescription or
// a preparation. A note is never edited: a correction is a new note whose
// Corrects points at the note it replaces.
type Note struct {
	ID         ID        `json:"id"`
	Site       string    `json:"site"`
	TargetKind string    `json:"target_kind" doc:"patient, prescription or preparation"`
	TargetID   ID        `json:"target_id"`
	PatientID  ID        `json:"patient_id"`
	Text       string    `json:"text"`
	Author     Author    `json:"author"`
	At         time.Time `json:"at"`
	Corrects   ID        `json:"corrects,omitempty" doc:"the note this one corrects"`
	Shareable  bool      `json:"shareable" doc:"replicated to the sites sharing the care"`
}

// NoteInput writes a note, or corrects one (Corrects set).
type NoteInput struct {
	PatientID  ID     `json:"patient_id"`
	TargetKind string `json:"target_kind" doc:"patient, prescription or preparation"`
	TargetID   ID     `json:"target_id,omitempty" doc:"defaults to patient_id for a note on the patient"`
	Text       string `json:"text"`
	Corrects   ID     `json:"corrects,omitempty"`
	Shareable  bool   `json:"shareable,omitempty"`
}

// maxNoteLen bounds a note; a longer one is refused, never cut.
const maxNoteLen = 20000

// Normalize checks the input.
func (in *NoteInput) Normalize(op string) error {
	in.Text = strings.TrimSpace(in.Text)
	var errs []error
	if _, err := ParseID("patient_id", string(in.PatientID)); err != nil {
		errs = append(errs, E(op, err))
	}
	switch in.TargetKind {
	case NoteOnPatient:
		if in.TargetID == "" {
			in.TargetID = in.PatientID
		} else if in.TargetID != in.PatientID {
			errs = append(errs, Invalid(op, "target_id", "a note on the patient targets the patient itself: target_id must be patient_id or empty"))
		}
	case NoteOnPrescription, NoteOnPreparation:
		if _, err := ParseID("target_id", string(in.TargetID)); err != nil {
			errs = append(errs, E(op, err))
		}
	default:
		errs = append(errs, Invalid(op, "target_kind", "target_kind must be patient, prescription or preparation"))
	}
	if in.Corrects != "" {
		if _, err := ParseID("corrects", string(in.Corrects)); err != nil {
			errs = append(errs, E(op, err))
		}
	}
	if in.Text == "" {
		errs = append(errs, Invalid(op, "text", "the note is empty"))
	} else if n := utf8.RuneCountInString(in.Text); n > maxNoteLen {
		errs = append(errs, Invalid(op, "text", "the note has %d characters, more than %d: split it (notes are never cut)", n, maxNoteLen))
	}
	return Errors(op, errs)
}

// NoteThread is a note at its latest version, with the versions it replaced,
// newest first.
type NoteThread struct {
	Note    Note   `json:"note"`
	History []Note `json:"history"`
}

// NoteFilter narrows Notes to one target; empty fields match all.
type NoteFilter struct {
	TargetKind string
	TargetID   ID
}
