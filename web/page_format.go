package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
)

// How pages write dates, times, numbers and the domain's bilingual texts,
// and how they show a refused form again with its errors.

// templateFuncs are the language-neutral helpers; what depends on the
// language is a method of page ($.Date, $.Num…).
var templateFuncs = template.FuncMap{
	"args": func(v ...any) []any { return v },
	"add":  func(a, b int) int { return a + b },
	"sub":  func(a, b int) int { return a - b },
	"json": func(v any) (string, error) {
		b, err := json.MarshalIndent(v, "", "  ")
		return string(b), err
	},
	"str": func(v any) string { return fmt.Sprint(v) },
	"idattr": func(parts ...any) string {
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteString(fmt.Sprint(p))
		}
		return b.String()
	},
}

// Date writes a calendar date as DD/MM/YYYY.
func (p *page) Date(d relais.Date) string {
	if d == "" {
		return "—"
	}
	t, err := time.Parse(time.DateOnly, string(d))
	if err != nil {
		return string(d)
	}
	return t.Format("02/01/2006")
}

// Time writes an instant in the display zone as DD/MM/YYYY HH:MM.
func (p *page) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(relais.DisplayZone).Format("02/01/2006 15:04")
}

// ISOTime is an instant for a <time datetime> attribute.
func (p *page) ISOTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Num writes a number exactly as stored (never rounded here), with the
// decimal comma in French.
func (p *page) Num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if p.Lang == "fr" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// NumP writes an optional number.
func (p *page) NumP(v *float64) string {
	if v == nil {
		return "—"
	}
	return p.Num(*v)
}

// Ago writes how long ago t was: "il y a 3 j 4 h".
func (p *page) Ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return p.Tf("time.ago", p.Bi(relais.ElapsedSince(t, p.Now).Text))
}

// Bi picks this language's half of a domain text written "français /
// English".
func (p *page) Bi(s string) string {
	fr, en, ok := strings.Cut(s, " / ")
	if !ok {
		return s
	}
	if p.Lang == "en" {
		return en
	}
	return fr
}

// Step writes a derivation step in the page's language.
func (p *page) Step(s clinical.Step) string {
	if p.Lang == "en" {
		return s.EN
	}
	return s.FR
}

// Check writes a check's reason in the page's language.
func (p *page) Check(c relais.Check) string {
	if p.Lang == "en" {
		return c.EN
	}
	return c.FR
}

// Enum translates a domain value: $.Enum "status.prescription" .Status.
func (p *page) Enum(prefix string, v any) string {
	key := prefix + "." + fmt.Sprint(v)
	if hasText(key) {
		return p.T(key)
	}
	return fmt.Sprint(v)
}

// Rule writes a dose rule briefly: "50 mg/m²", "AUC 5", "1,5 mg/m² (max 2 mg)".
func (p *page) Rule(r clinical.Rule) string {
	var s string
	switch r.Kind {
	case "per_m2":
		s = p.Num(r.Dose) + " " + r.Unit + "/m²"
	case "per_kg":
		s = p.Num(r.Dose) + " " + r.Unit + "/kg"
	case "auc":
		s = "AUC " + p.Num(r.AUC)
	case "flat":
		s = p.Num(r.Dose) + " " + r.Unit
	case "age_band":
		s = p.T("rule.age_band")
	case "":
		return "—"
	default:
		s = r.Kind
	}
	if r.MaxDose > 0 {
		s += " " + p.Tf("rule.max", p.Num(r.MaxDose)+" "+r.Unit)
	}
	return s
}

// formState is a refused form, shown again: which form, what was typed,
// and the errors, each beside its field.
type formState struct {
	ID      string
	Values  url.Values
	Summary string
	Fields  map[string]string
	Errors  []fieldMsg
}

type fieldMsg struct{ Field, Label, Message string }

// refuse records err on form id, with the values typed, so that the page
// shows them again.
func (p *page) refuse(id string, values url.Values, err error) {
	f := &formState{ID: id, Values: values, Fields: map[string]string{}}
	f.Summary = p.T("form.refused")
	fes := relais.FieldErrors(err)
	for _, fe := range fes {
		msg := userMessage(p.Lang, fe)
		if _, dup := f.Fields[fe.Field]; dup {
			f.Fields[fe.Field] += " " + msg
		} else {
			f.Fields[fe.Field] = msg
		}
		f.Errors = append(f.Errors, fieldMsg{Field: fe.Field, Label: p.fieldLabel(fe.Field), Message: msg})
	}
	if len(fes) == 0 {
		f.Summary += " " + userMessage(p.Lang, err)
	}
	p.Form = f
}

func (p *page) fieldLabel(field string) string {
	key := "field." + field
	if hasText(key) {
		return p.T(key)
	}
	if strings.HasPrefix(field, "checks.") {
		return p.T("field.checks")
	}
	return field
}

// userMessage is an error's message for the user: the catalog's
// translation of the domain message when there is one, else the domain's
// own message (which says what to do).
func userMessage(lang string, err error) string {
	msg := relais.ErrorMessage(err)
	if relais.ErrorKind(err) == relais.KindOther {
		return Translate(lang, "error.internal.text")
	}
	if key := "msg." + msg; hasText(key) {
		return Translate(lang, key)
	}
	// A bedside mismatch is said first in the nurse's language, whatever
	// the details that follow.
	if strings.HasPrefix(msg, "MISMATCH") {
		return Translate(lang, "msg.mismatch") + " " + msg
	}
	return msg
}

// FormFailed reports whether form id was refused.
func (p *page) FormFailed(id string) bool { return p.Form != nil && p.Form.ID == id }

// FormErr is the error beside field of form id, if any.
func (p *page) FormErr(id, field string) string {
	if !p.FormFailed(id) {
		return ""
	}
	return p.Form.Fields[field]
}

// FormVal is what was typed in field of form id, or def.
func (p *page) FormVal(id, field, def string) string {
	if !p.FormFailed(id) {
		return def
	}
	if v, ok := p.Form.Values[field]; ok && len(v) > 0 {
		return v[0]
	}
	return def
}

// Messages of the page's own checks (the catalogs translate them).
const (
	msgNotNumber   = "not a number: write it like 12.5 or 12,5"
	msgNotDateTime = "not a date and time: give the day and the hour"
)

// parseNumber reads a number typed with a decimal comma or point. It
// refuses what is not a finite number rather than guess.
func parseNumber(op, field, s string) (float64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, " ", ""))
	if s == "" {
		return 0, relais.Invalid(op, field, "a number is required")
	}
	if strings.Count(s, ",")+strings.Count(s, ".") > 1 {
		return 0, relais.Invalid(op, field, "%s", msgNotNumber)
	}
	v, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, relais.Invalid(op, field, "%s", msgNotNumber)
	}
	return v, nil
}

// parseLocalTime reads a datetime-local field (Europe/Paris wall clock).
func parseLocalTime(op, field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "02/01/2006 15:04"} {
		if t, err := time.ParseInLocation(layout, s, relais.DisplayZone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, relais.Invalid(op, field, "%s", msgNotDateTime)
}

// parseDateField reads a date field: YYYY-MM-DD (date inputs) or DD/MM/YYYY.
func parseDateField(field, s string) (relais.Date, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("02/01/2006", s); err == nil {
		return relais.Date(t.Format(time.DateOnly)), nil
	}
	return relais.ParseDate(field, s)
}

func itoa(n int) string { return strconv.Itoa(n) }

var levelIcons = map[relais.CheckLevel]string{relais.LevelBlocking: "✖", relais.LevelAcknowledge: "⚠", relais.LevelInfo: "ℹ"}

// Level shows a check's level with an icon and its name: never by colour
// alone.
func (p *page) Level(l relais.CheckLevel) template.HTML {
	return template.HTML(`<span class="lvl lvl-` + template.HTMLEscapeString(string(l)) + `"><span aria-hidden="true">` +
		levelIcons[l] + `</span> ` + template.HTMLEscapeString(p.Enum("level", l)) + `</span>`)
}

// Badge shows a status as text in a tinted box: $.Badge "status.prescription" .Status.
func (p *page) Badge(prefix string, v any) template.HTML {
	val := fmt.Sprint(v)
	class := strings.ReplaceAll(prefix, ".", "-") + "-" + val
	return template.HTML(`<span class="badge b-` + template.HTMLEscapeString(class) + `">` + template.HTMLEscapeString(p.Enum(prefix, val)) + `</span>`)
}

// Trend shows a measurement's trend as an arrow with its meaning spelt out
// for screen readers.
func (p *page) Trend(t string) template.HTML {
	arrows := map[string]string{"up": "↑", "down": "↓", "same": "→"}
	a, ok := arrows[t]
	if !ok {
		return ""
	}
	return template.HTML(`<span class="trend trend-` + t + `" title="` + template.HTMLEscapeString(p.T("trend."+t)) + `"><span aria-hidden="true">` + a +
		`</span><span class="sr">` + template.HTMLEscapeString(p.T("trend."+t)) + `</span></span>`)
}

// MeasureLabel names a measurement kind in the page's language.
func (p *page) MeasureLabel(kind string) string {
	if k, ok := relais.MeasurementKindOf(kind); ok {
		return p.Bi(k.Label)
	}
	return kind
}

// Msg writes a message the domain recorded in English (a status reason)
// in the page's language when the catalog knows it.
func (p *page) Msg(s string) string {
	if key := "msg." + s; hasText(key) {
		return p.T(key)
	}
	return s
}

// AgeText writes an age as people say it: months below 2 years, years
// from then on.
func (p *page) AgeText(a relais.Age) string {
	if a.Years < 2 {
		return p.Tf("age.months", a.Months)
	}
	return p.Tf("age.years", a.Years)
}

// AgeYears writes the decimal age a calculation used, in completed years
// (the exact value is in the derivation).
func (p *page) AgeYears(years float64) string {
	if years < 2 {
		return p.Tf("age.months", int(years*12))
	}
	return p.Tf("age.years", int(years))
}

// Infusion writes how a line is given: vehicle, volume, duration, rate.
func (p *page) Infusion(vehicle string, volumeML float64, durationMin int, rateMLH float64) string {
	var parts []string
	if vehicle != "" {
		parts = append(parts, vehicle)
	}
	if volumeML > 0 {
		parts = append(parts, p.Num(volumeML)+" mL")
	}
	if durationMin > 0 {
		parts = append(parts, strconv.Itoa(durationMin)+" min")
	}
	if rateMLH > 0 {
		parts = append(parts, p.Num(rateMLH)+" mL/h")
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " · ")
}

// Stale reports whether a measurement is too old to compute doses with
// without a second look, by the prescription checks' own thresholds
// (relais.DefaultCheckPolicy): weight and creatinine 7 days, height a year
// for adults and 3 months for children; other values 7 days.
func (p *page) Stale(kind string, at time.Time, ageYears int) bool {
	pol := relais.DefaultCheckPolicy
	max := pol.MaxWeightAge
	switch kind {
	case "height_cm":
		max = pol.MaxHeightAge
		if ageYears < 18 {
			max = pol.MaxHeightAgeChild
		}
	case "creatinine_umol_l":
		max = pol.MaxCreatinineAge
	}
	return !at.IsZero() && p.Now.Sub(at) > max
}
