package relais

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relais-onco/relais/clinical"
)

// A protocol document is one protocol version as a self-contained JSON file:
// what one site exports and another imports (docs/protocols.md documents it
// field by field). Drugs are named by INN, since drug ids differ between
// sites; the version's content sits at the top level so that error paths read
// as in the file: lines[3].dose.kind.

// DocumentFormat and DocumentFormatVersion identify the format.
const (
	DocumentFormat        = "relais.protocol"
	DocumentFormatVersion = 1
	// MaxDocumentBytes bounds a document; real ones are a few tens of kB.
	MaxDocumentBytes = 1 << 20
)

// ProtocolDocument is the import/export format of a protocol version.
type ProtocolDocument struct {
	Format        string     `json:"format"`         // always "relais.protocol"
	FormatVersion int        `json:"format_version"` // 1
	Code          string     `json:"code"`
	Name          string     `json:"name"`
	Indication    string     `json:"indication"`
	Population    Population `json:"population"`
	ProtocolContent
	// Drugs lists every INN the lines and limits name, with its class, so
	// the importing site can check its catalogue agrees.
	Drugs []DocumentDrug `json:"drugs"`
	// Origin says where the document was exported from; an import records
	// it on the new version and otherwise ignores it.
	Origin *DocumentOrigin `json:"origin,omitempty"`
}

// DocumentDrug is a drug a document names.
type DocumentDrug struct {
	INN   string    `json:"inn"`
	Class DrugClass `json:"class"`
}

// DocumentOrigin is the provenance of an exported version.
type DocumentOrigin struct {
	Site        string        `json:"site"`
	Version     int           `json:"version"`
	Status      VersionStatus `json:"status"`
	ContentHash string        `json:"content_hash,omitempty"`
	Author      string        `json:"author,omitempty"`
	Approver    string        `json:"approver,omitempty"`
	ApprovedAt  time.Time     `json:"approved_at,omitzero"`
	ExportedAt  time.Time     `json:"exported_at,omitzero"`
	ExportedBy  string        `json:"exported_by,omitempty"`
}

// NewDocument builds the document of version v of protocol p. classes gives
// each INN's class; line ids and drug ids are left out.
func NewDocument(p Protocol, v ProtocolVersion, classes map[string]DrugClass, origin *DocumentOrigin) ProtocolDocument {
	doc := ProtocolDocument{
		Format: DocumentFormat, FormatVersion: DocumentFormatVersion,
		Code: p.Code, Name: p.Name, Indication: p.Indication, Population: p.Population,
		ProtocolContent: v.Content.Portable(),
		Origin:          origin,
	}
	for _, inn := range doc.ProtocolContent.INNs() {
		doc.Drugs = append(doc.Drugs, DocumentDrug{INN: inn, Class: classes[inn]})
	}
	return doc
}

// Portable returns a deep copy of c without the site's line and drug ids.
func (c ProtocolContent) Portable() ProtocolContent {
	out := c.Clone()
	for i := range out.Lines {
		out.Lines[i].ID = ""
		out.Lines[i].DrugID = ""
	}
	return out
}

// Clone returns a deep copy of c: a copy never shares a slice or a
// pointer with the original.
func (c ProtocolContent) Clone() ProtocolContent {
	out := c
	out.Days = slices.Clone(c.Days)
	out.Lines = slices.Clone(c.Lines)
	for i := range out.Lines {
		out.Lines[i].Days = slices.Clone(out.Lines[i].Days)
		out.Lines[i].Dose = cloneRule(out.Lines[i].Dose)
	}
	out.Criteria = slices.Clone(c.Criteria)
	for i := range out.Criteria {
		out.Criteria[i].Days = slices.Clone(out.Criteria[i].Days)
	}
	out.CumulativeLimits = slices.Clone(c.CumulativeLimits)
	return out
}

func cloneRule(r clinical.Rule) clinical.Rule {
	r.AgeBands = slices.Clone(r.AgeBands)
	r.Bands = slices.Clone(r.Bands)
	if r.GFR != nil {
		g := *r.GFR
		r.GFR = &g
	}
	if r.Infant != nil {
		in := *r.Infant
		r.Infant = &in
	}
	if r.Adjustment != nil {
		a := *r.Adjustment
		if a.Percent != nil {
			p := *a.Percent
			a.Percent = &p
		}
		if a.Value != nil {
			v := *a.Value
			a.Value = &v
		}
		r.Adjustment = &a
	}
	return r
}

// INNs returns the INNs the lines and cumulative limits name, sorted, once
// each.
func (c ProtocolContent) INNs() []string {
	var out []string
	for _, l := range c.Lines {
		if inn := NormalizeINN(l.INN); inn != "" && !slices.Contains(out, inn) {
			out = append(out, inn)
		}
	}
	for _, cl := range c.CumulativeLimits {
		if inn := NormalizeINN(cl.INN); inn != "" && !slices.Contains(out, inn) {
			out = append(out, inn)
		}
	}
	slices.Sort(out)
	return out
}

// ParseDocument reads a protocol document strictly and checks it on its own:
// unknown fields, wrong types, duplicate keys and every rule of
// ValidateContent are reported together, each with its path. Nothing about
// the importing site is checked here (its catalogue is the store's job).
func ParseDocument(data []byte) (ProtocolDocument, error) {
	doc, err := DecodeDocument(data)
	if err != nil {
		return doc, err
	}
	if err := doc.Validate("protocol.import"); err != nil {
		return doc, err
	}
	return doc, nil
}

// DecodeDocument reads a protocol document strictly (as ParseDocument) but
// does not validate it: an import validates it together with the checks
// against the site's catalogue, so that every fault comes back at once.
func DecodeDocument(data []byte) (ProtocolDocument, error) {
	const op = "protocol.import"
	var doc ProtocolDocument
	if len(data) > MaxDocumentBytes {
		return doc, E(op, KindInvalid, fmt.Sprintf("the document is larger than %d kB: is it a protocol document?", MaxDocumentBytes>>10))
	}
	if !utf8.Valid(data) {
		return doc, E(op, KindInvalid, "the document is not valid UTF-8: save it as UTF-8")
	}
	if err := DecodeStrict(op, data, &doc); err != nil {
		return doc, err
	}
	return doc, nil
}

// DecodeStrict decodes the JSON document data into v (a pointer) with none
// of encoding/json's leniency: unknown fields, names in another case,
// duplicate keys, null for a value and wrong types are all refused, and all
// reported at once, each with its path (lines[3].dose.kind).
func DecodeStrict(op string, data []byte, v any) error {
	if !utf8.Valid(data) {
		return E(op, KindInvalid, "the JSON is not valid UTF-8: send it as UTF-8")
	}
	tree, err := readJSON(data)
	if err != nil {
		return E(op, KindInvalid, err.Error())
	}
	var errs []error
	checkShape(op, tree, reflect.TypeOf(v).Elem(), "", &errs)
	if len(errs) > 0 {
		return Errors(op, errs)
	}
	if err := json.Unmarshal(data, v); err != nil {
		// checkShape accepts only what Unmarshal accepts; reaching here is a
		// bug, reported rather than hidden.
		return E(op, KindInvalid, "the JSON could not be read: "+err.Error())
	}
	return nil
}

// Validate checks a document on its own.
func (doc ProtocolDocument) Validate(op string) error {
	if err := doc.CheckFormat(op); err != nil {
		return err
	}
	return Errors(op, doc.Faults(op))
}

// CheckFormat checks that doc is a protocol document of a format version
// this Relais reads; nothing else is worth checking when it is not.
func (doc ProtocolDocument) CheckFormat(op string) error {
	if doc.Format != DocumentFormat {
		return Invalid(op, "format", "this is not a Relais protocol document (format must be %q)", DocumentFormat)
	}
	if doc.FormatVersion != DocumentFormatVersion {
		return &Error{Op: op, Kind: KindVersion, Field: "format_version",
			Message: fmt.Sprintf("this Relais reads protocol documents of format version %d, not %d: export it again from a matching Relais", DocumentFormatVersion, doc.FormatVersion)}
	}
	return nil
}

// Faults lists every fault of a document of a known format, each with its
// path.
func (doc ProtocolDocument) Faults(op string) []error {
	errs := ValidateHeader(op, "", doc.Code, doc.Name, doc.Indication, doc.Population)
	errs = append(errs, ValidateContent(op, "", doc.ProtocolContent)...)
	for i, l := range doc.Lines {
		if l.ID != "" {
			errs = append(errs, Invalid(op, fmt.Sprintf("lines[%d].id", i), "a document carries no line ids (they are made at import): remove it"))
		}
		if l.DrugID != "" {
			errs = append(errs, Invalid(op, fmt.Sprintf("lines[%d].drug_id", i), "a document names drugs by inn; drug ids belong to one site: remove it"))
		}
	}
	listed := map[string]int{}
	for i, d := range doc.Drugs {
		p := fmt.Sprintf("drugs[%d].", i)
		inn := NormalizeINN(d.INN)
		if inn == "" {
			errs = append(errs, Invalid(op, p+"inn", "each drug needs its INN"))
			continue
		}
		if j, dup := listed[inn]; dup {
			errs = append(errs, Invalid(op, p+"inn", "%s is already listed in drugs[%d]", inn, j))
		}
		listed[inn] = i
		if !d.Class.Valid() {
			errs = append(errs, Invalid(op, p+"class", "unknown class %q: use one of %s", d.Class, joinClasses()))
		}
	}
	used := doc.ProtocolContent.INNs()
	for i, l := range doc.Lines {
		if inn := NormalizeINN(l.INN); inn != "" {
			if _, ok := listed[inn]; !ok {
				errs = append(errs, Invalid(op, fmt.Sprintf("lines[%d].inn", i), "%s is not listed in drugs: add it there with its class", inn))
			}
		}
	}
	for i, cl := range doc.CumulativeLimits {
		if inn := NormalizeINN(cl.INN); inn != "" {
			if _, ok := listed[inn]; !ok {
				errs = append(errs, Invalid(op, fmt.Sprintf("cumulative_limits[%d].inn", i), "%s is not listed in drugs: add it there with its class", inn))
			}
		}
	}
	for i, d := range doc.Drugs {
		if inn := NormalizeINN(d.INN); inn != "" && !slices.Contains(used, inn) {
			errs = append(errs, Invalid(op, fmt.Sprintf("drugs[%d].inn", i), "%s is not used by any line or limit: remove it", inn))
		}
	}
	return errs
}

// MarshalDocument encodes a document as it is exported: indented, UTF-8 as
// is, with a final newline.
func MarshalDocument(doc ProtocolDocument) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The strict reader. encoding/json stops at the first unknown field, matches
// names case-insensitively, keeps the last of duplicate keys and lets null
// through: a protocol document gets none of that leniency, and every fault is
// reported, not only the first.

// jsonObject keeps an object's members in document order.
type jsonObject struct {
	keys []string
	vals map[string]any
}

const maxDepth = 64

func readJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, data, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON document")
	}
	return v, nil
}

func readValue(dec *json.Decoder, data []byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("the document nests deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(data, dec, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &jsonObject{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, syntaxError(data, dec, err)
				}
				k, _ := kt.(string)
				if _, dup := obj.vals[k]; dup {
					line, col := position(data, dec.InputOffset())
					return nil, fmt.Errorf("key %q appears twice in the same object (line %d, column %d)", k, line, col)
				}
				v, err := readValue(dec, data, depth+1)
				if err != nil {
					return nil, err
				}
				obj.keys = append(obj.keys, k)
				obj.vals[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(data, dec, err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := readValue(dec, data, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(data, dec, err)
			}
			return arr, nil
		}
		return nil, syntaxError(data, dec, fmt.Errorf("unexpected %v", t))
	default:
		return t, nil // string, json.Number, bool, nil
	}
}

func syntaxError(data []byte, dec *json.Decoder, err error) error {
	if err == io.EOF {
		return errors.New("the document is empty or ends too early")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		line, _ := position(data, int64(len(data)))
		return fmt.Errorf("the document ends too early (at line %d): it was cut, or a bracket or brace is missing", line)
	}
	var se *json.SyntaxError
	off := dec.InputOffset()
	if errors.As(err, &se) {
		off = se.Offset
	}
	line, col := position(data, off)
	return fmt.Errorf("malformed JSON at line %d, column %d: %v", line, col, err)
}

func position(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(b)); i++ {
		if b[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return
}

var timeType = reflect.TypeOf(time.Time{})

// checkShape compares a JSON value with the Go type it will be decoded
// into, appending one error per fault.
func checkShape(op string, v any, t reflect.Type, path string, errs *[]error) {
	bad := func(format string, args ...any) {
		field := path
		if field == "" {
			field = "(body)"
		}
		*errs = append(*errs, Invalid(op, field, format, args...))
	}
	if v == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return
		}
		bad("null is not allowed here: give %s or leave the field out", describe(t))
		return
	}
	if t == timeType {
		s, ok := v.(string)
		if !ok {
			bad("expected a date and time (RFC 3339 text), got %s", jsonKind(v))
		} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			bad("%q is not a date and time: write it as 2026-01-31T09:30:00Z", truncate(s, 40))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(op, v, t.Elem(), path, errs)
	case reflect.String:
		if _, ok := v.(string); !ok {
			bad("expected %s, got %s", describe(t), jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			bad("expected true or false, got %s", jsonKind(v))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := v.(json.Number)
		if !ok {
			bad("expected a whole number, got %s", jsonKind(v))
			return
		}
		if _, err := strconv.ParseInt(string(n), 10, 32); err != nil {
			bad("expected a whole number, got %s", truncate(string(n), 30))
		}
	case reflect.Float64, reflect.Float32:
		n, ok := v.(json.Number)
		if !ok {
			bad("expected a number, got %s", jsonKind(v))
			return
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			bad("the number %s is out of range", truncate(string(n), 30))
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			bad("expected a list, got %s", jsonKind(v))
			return
		}
		for i, x := range arr {
			checkShape(op, x, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Struct:
		obj, ok := v.(*jsonObject)
		if !ok {
			bad("expected an object, got %s", jsonKind(v))
			return
		}
		fields := jsonFields(t)
		for _, k := range obj.keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			ft, ok := fields[k]
			if !ok {
				*errs = append(*errs, Invalid(op, p, "unknown field: check its spelling against the documentation (docs/protocols.md, /api/v1/openapi.json)"))
				continue
			}
			checkShape(op, obj.vals[k], ft, p, errs)
		}
	default:
		bad("this field cannot be read from a document")
	}
}

// jsonFields maps the JSON names of t's fields (embedded structs flattened,
// as encoding/json does) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, ft := range jsonFields(f.Type) {
				out[k] = ft
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "an object"
	}
	return "a value"
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the text %q", truncate(x, 30))
	case json.Number:
		return "the number " + truncate(string(x), 30)
	case bool:
		return fmt.Sprintf("%v", x)
	case []any:
		return "a list"
	case *jsonObject:
		return "an object"
	}
	return "null"
}
