package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/relais-onco/relais/clinical"
)

// relais calc is the clinical engine for integrators and tests: one JSON
// request per line on standard input, one JSON answer per line on standard
// output, in order. docs/calc.md documents every request.

// maxCalcLine bounds one input line. A longer line gets an error answer and
// the reader skips to the next line: nothing is truncated silently.
const maxCalcLine = 1 << 20

func init() {
	register("calc", "compute BSA, GFR, doses and cumulative doses (JSON lines on stdin)", runCalc)
}

func runCalc(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("calc", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: relais calc < requests.jsonl\n\n"+
			"Reads one JSON request per line on standard input and writes one JSON answer per line:\n"+
			"  {\"value\": …, \"unit\": …, \"steps\": […]} or {\"error\": {\"code\", \"field\", \"message\"}}.\n"+
			"Requests: bsa, gfr, calvert, dose, cumulative (see docs/calc.md). Blank lines are skipped.\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitError{2, "relais calc takes no arguments: it reads JSON requests on standard input, one per line (see docs/calc.md)"}
	}
	if stdin == nil {
		return nil
	}
	r := bufio.NewReaderSize(stdin, 64<<10)
	w := bufio.NewWriter(stdout)
	for {
		line, tooLong, rerr := readCalcLine(r)
		var out []byte
		switch {
		case tooLong:
			out = calcErrorLine("malformed", "", fmt.Sprintf("the line is longer than %d MiB: it was skipped; send one request per line", maxCalcLine>>20), nil)
		case len(bytes.TrimSpace(line)) > 0:
			out = safeCalcLine(line)
		}
		if out != nil {
			if _, err := w.Write(out); err != nil {
				return fmt.Errorf("writing standard output: %w", err)
			}
			// One answer per request as soon as it is computed: an
			// integrator may be waiting for it before sending the next.
			if err := w.Flush(); err != nil {
				return fmt.Errorf("writing standard output: %w", err)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("reading standard input: %w", rerr)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// readCalcLine reads one line without its end of line. A line longer than
// maxCalcLine is consumed to its end and reported as tooLong.
func readCalcLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, e := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > maxCalcLine+2 { // +2: the "\r\n" itself
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if tooLong {
			line = nil
		}
		return line, tooLong, e
	}
}

// safeCalcLine answers one line; a fault in the engine becomes an error
// answer for that line, and the next line is still read.
func safeCalcLine(line []byte) (out []byte) {
	defer func() {
		if v := recover(); v != nil {
			out = calcErrorLine("internal", "", fmt.Sprintf("internal error while computing this line (%v): please report it", v), nil)
		}
	}()
	return calcLine(line)
}

// calcLine answers one request line with exactly one JSON line.
func calcLine(line []byte) []byte {
	v, err := calcRequest(line)
	if err != nil {
		var ce *calcErr
		if errors.As(err, &ce) {
			return calcErrorLine(ce.code, ce.field, ce.message, nil)
		}
		fes := clinical.FieldErrors(err)
		if len(fes) == 0 {
			return calcErrorLine("internal", "", err.Error(), nil)
		}
		return calcErrorLine("invalid", fes[0].Field, fes[0].Message, fes)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return calcErrorLine("internal", "", "the result could not be encoded: "+err.Error(), nil)
	}
	return b.Bytes()
}

// calcErr is an error of the request itself (code malformed or invalid).
type calcErr struct{ code, field, message string }

func (e *calcErr) Error() string { return e.field + ": " + e.message }

func malformed(format string, args ...any) error {
	return &calcErr{"malformed", "", fmt.Sprintf(format, args...)}
}

func invalidField(field, format string, args ...any) error {
	return &calcErr{"invalid", field, fmt.Sprintf(format, args...)}
}

type calcFieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

type calcErrorBody struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
	// Errors lists every field at fault when there are several; Field and
	// Message are the first of them.
	Errors []calcFieldError `json:"errors,omitempty"`
}

func calcErrorLine(code, field, message string, all []*clinical.Error) []byte {
	body := calcErrorBody{Code: code, Field: field, Message: message}
	if len(all) > 1 {
		for _, e := range all {
			body.Errors = append(body.Errors, calcFieldError{e.Field, e.Message})
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Error calcErrorBody `json:"error"`
	}{body}); err != nil {
		return []byte(`{"error":{"code":"internal","field":"","message":"the error could not be encoded"}}` + "\n")
	}
	return b.Bytes()
}

// The requests, as their JSON is read. Unknown fields are refused.
type (
	bsaRequest struct {
		Calc     string  `json:"calc"`
		Formula  string  `json:"formula,omitempty"`
		HeightCm float64 `json:"height_cm"`
		WeightKg float64 `json:"weight_kg"`
	}
	gfrRequest struct {
		Calc string `json:"calc"`
		clinical.GFRInput
	}
	calvertRequest struct {
		Calc        string   `json:"calc"`
		AUC         float64  `json:"auc"`
		GFRMLMin    *float64 `json:"gfr_ml_min"`
		GFRCapMLMin *float64 `json:"gfr_cap_ml_min,omitempty"`
	}
	doseRequest struct {
		Calc    string            `json:"calc"`
		Rule    *clinical.Rule    `json:"rule"`
		Patient *clinical.Patient `json:"patient"`
	}
	cumulativeRequest struct {
		Calc         string                    `json:"calc"`
		Class        string                    `json:"class"`
		Doses        []clinical.CumulativeDose `json:"doses"`
		LimitMgPerM2 *float64                  `json:"limit_mg_per_m2,omitempty"`
		LimitUnits   *float64                  `json:"limit_units,omitempty"`
	}
)

// Measurements for which an explicit 0 is refused even when the request
// does not need them: 0 cm, 0 kg or 0 µmol/L is never a measurement, and
// the Go API reads 0 as "not given".
var zeroRefused = map[string][]string{
	"gfr":  {"height_cm", "weight_kg", "creatinine_umol_l", "creatinine_mg_dl"},
	"dose": {"patient.height_cm", "patient.weight_kg", "patient.creatinine_umol_l", "patient.creatinine_mg_dl", "patient.gfr_ml_min"},
}

func calcRequest(line []byte) (any, error) {
	if !utf8.Valid(line) {
		return nil, malformed("the line is not valid UTF-8")
	}
	tree, err := parseJSONTree(line)
	if err != nil {
		return nil, err
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return nil, malformed("each line must be one JSON object, e.g. {\"calc\":\"bsa\",\"height_cm\":140,\"weight_kg\":32}")
	}
	kind, ok := obj["calc"].(string)
	if !ok {
		if _, present := obj["calc"]; present && obj["calc"] != nil {
			return nil, invalidField("calc", "calc must be a string: bsa, gfr, calvert, dose or cumulative")
		}
		return nil, invalidField("calc", "calc is required: bsa, gfr, calvert, dose or cumulative")
	}
	var req any
	switch kind {
	case "bsa":
		req = &bsaRequest{}
	case "gfr":
		req = &gfrRequest{}
	case "calvert":
		req = &calvertRequest{}
	case "dose":
		req = &doseRequest{}
	case "cumulative":
		req = &cumulativeRequest{}
	default:
		return nil, invalidField("calc", "unknown calc %q: use bsa, gfr, calvert, dose or cumulative", truncateRunes(kind, 40))
	}
	if err := checkShape(obj, reflect.TypeOf(req).Elem(), ""); err != nil {
		return nil, err
	}
	for _, path := range zeroRefused[kind] {
		if n, ok := lookup(obj, path).(json.Number); ok {
			if f, err := n.Float64(); err == nil && f == 0 {
				return nil, invalidField(path, "0 is not a measurement: omit %s when it is not known, or enter the value", path[strings.LastIndexByte(path, '.')+1:])
			}
		}
	}
	if err := json.Unmarshal(line, req); err != nil {
		return nil, invalidField("", "the request could not be read: %v", err)
	}

	switch q := req.(type) {
	case *bsaRequest:
		return clinical.BSA(q.Formula, q.HeightCm, q.WeightKg)
	case *gfrRequest:
		return clinical.GFR(q.GFRInput)
	case *calvertRequest:
		if q.GFRMLMin == nil {
			return nil, invalidField("gfr_ml_min", "the GFR in mL/min is required (0 for an anuric patient)")
		}
		capMLMin := 0.0
		if q.GFRCapMLMin != nil {
			if *q.GFRCapMLMin == 0 {
				return nil, invalidField("gfr_cap_ml_min", "a GFR cap of 0 mL/min is not a cap: omit gfr_cap_ml_min for no cap, or give the cap (e.g. 125)")
			}
			capMLMin = *q.GFRCapMLMin
		}
		return clinical.Calvert(q.AUC, *q.GFRMLMin, capMLMin)
	case *doseRequest:
		if q.Rule == nil {
			return nil, invalidField("rule", "the rule is required: the dose rule exactly as the protocol stores it, e.g. {\"kind\":\"per_m2\",\"dose\":1.5,\"unit\":\"mg\"}")
		}
		var p clinical.Patient
		if q.Patient != nil {
			p = *q.Patient
		}
		return clinical.Dose(*q.Rule, p)
	case *cumulativeRequest:
		if _, ok := obj["doses"]; !ok || q.Doses == nil {
			return nil, invalidField("doses", "doses is required: the list of doses given, [] when there are none")
		}
		var limit *float64
		switch q.Class {
		case clinical.ClassAnthracycline:
			if q.LimitUnits != nil {
				return nil, invalidField("limit_units", "an anthracycline limit is in doxorubicin-equivalent mg/m²: give limit_mg_per_m2")
			}
			if limit = q.LimitMgPerM2; limit == nil {
				return nil, invalidField("limit_mg_per_m2", "the lifetime limit in doxorubicin-equivalent mg/m² is required (e.g. 450)")
			}
		case clinical.ClassBleomycin:
			if q.LimitMgPerM2 != nil {
				return nil, invalidField("limit_mg_per_m2", "a bleomycin limit is in units: give limit_units")
			}
			if limit = q.LimitUnits; limit == nil {
				return nil, invalidField("limit_units", "the lifetime limit in units is required (e.g. 400)")
			}
		default:
			limit = new(float64) // Cumulative names the class at fault
		}
		return clinical.Cumulative(q.Class, q.Doses, *limit)
	}
	return nil, invalidField("calc", "unknown calc %q", kind)
}

// lookup returns the value at a dotted path of objects, or nil.
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// maxJSONDepth bounds nesting: no request needs more than 4 levels.
const maxJSONDepth = 32

// parseJSONTree reads one JSON value into maps, slices, json.Number,
// strings, bools and nil, refusing duplicate keys (which encoding/json would
// silently resolve to the last one: a patient with two weights is an error)
// and trailing data.
func parseJSONTree(line []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	v, err := readJSONValue(dec, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("unexpected data after the JSON object: send one request per line")
	}
	return v, nil
}

func readJSONValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, malformed("the JSON is nested more than %d levels deep", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntax(dec, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		m := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, jsonSyntax(dec, err)
			}
			k, _ := kt.(string)
			p := joinPath(path, k)
			if _, dup := m[k]; dup {
				return nil, invalidField(p, "the field %s is given twice: give it once", truncateRunes(k, 40))
			}
			v, err := readJSONValue(dec, p, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonSyntax(dec, err)
		}
		return m, nil
	case '[':
		var s []any
		for dec.More() {
			v, err := readJSONValue(dec, fmt.Sprintf("%s[%d]", path, len(s)), depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonSyntax(dec, err)
		}
		if s == nil {
			s = []any{}
		}
		return s, nil
	}
	return nil, malformed("unexpected %q", string(d))
}

func jsonSyntax(dec *json.Decoder, err error) error {
	if err == io.EOF {
		return malformed("the JSON ends too early: each line must be one complete JSON object")
	}
	return malformed("malformed JSON at byte %d: %s", dec.InputOffset()+1, strings.TrimPrefix(err.Error(), "json: "))
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkShape checks a parsed value against the Go type it will be decoded
// into: unknown fields and wrong JSON types are refused with their path
// ("rule.age_bands[1].dose"). null is accepted anywhere: it means absent.
func checkShape(v any, t reflect.Type, path string) error {
	if v == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return invalidField(path, "expected a JSON object, got %s", jsonKind(v))
		}
		fields := map[string]reflect.Type{}
		var names []string
		collectFields(t, fields, &names)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return invalidField(joinPath(path, k), "unknown field %q: the accepted fields here are %s", truncateRunes(k, 40), strings.Join(names, ", "))
			}
			if err := checkShape(m[k], ft, joinPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return invalidField(path, "expected a JSON array, got %s", jsonKind(v))
		}
		for i, e := range s {
			if err := checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return invalidField(path, "expected a number, got %s", jsonKind(v))
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return invalidField(path, "the number %s is out of range", truncateRunes(string(n), 40))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return invalidField(path, "expected a string, got %s", jsonKind(v))
		}
	}
	return nil
}

// collectFields lists the JSON names of t's fields, embedded structs
// flattened as encoding/json does.
func collectFields(t reflect.Type, into map[string]reflect.Type, names *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			collectFields(f.Type, into, names)
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
		*names = append(*names, name)
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "null"
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
