package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/relais-onco/relais"
)

// MaxBodyBytes bounds every request body. A protocol import, the largest
// legitimate body, is a few hundred kilobytes.
const MaxBodyBytes = 4 << 20

// Route describes one API operation: the mux pattern, the permission it
// needs, and what the OpenAPI document says of it. Every route declares a
// permission; Handle panics on one that does not, so a route without one
// cannot ship.
type Route struct {
	Method  string // GET, POST, …
	Path    string // under /api/v1, with {name} wildcards, e.g. "/patients/{id}"
	Perm    relais.Permission
	Tag     string // OpenAPI tag: Patients, Protocols, …
	Summary string
	In      any // zero value of the request body type, or nil
	Out     any // zero value of the response body type, or nil
	Status  int // success status; 200 when zero
	Query   []Param
}

// Param documents a query parameter.
type Param struct {
	Name, Description string
	Required          bool
}

// APIFunc handles an API request and returns the response body, or an error
// that is written as application/problem+json.
type APIFunc func(r *http.Request) (any, error)

// Handle registers an API route.
func (s *Server) Handle(rt Route, h APIFunc) {
	if rt.Perm == "" {
		panic(fmt.Sprintf("web: route %s %s declares no permission", rt.Method, rt.Path))
	}
	if rt.Status == 0 {
		rt.Status = http.StatusOK
	}
	s.routes = append(s.routes, rt)
	pattern := rt.Method + " /api/v1" + rt.Path
	s.mux.Handle(pattern, s.authorize(rt.Perm, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := h(r)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		writeJSON(w, rt.Status, out)
	})))
}

// HandleRaw registers an API route whose handler writes its own response
// (it must still answer errors with s.problem).
func (s *Server) HandleRaw(rt Route, h http.HandlerFunc) {
	if rt.Perm == "" {
		panic(fmt.Sprintf("web: route %s %s declares no permission", rt.Method, rt.Path))
	}
	if rt.Status == 0 {
		rt.Status = http.StatusOK
	}
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.Method+" /api/v1"+rt.Path, s.authorize(rt.Perm, h))
}

// Routes returns the registered API routes (for the OpenAPI document and the
// permission test).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// Decode reads a JSON request body into v strictly: at most MaxBodyBytes,
// valid UTF-8, no unknown field, no trailing data. Errors name the field.
func Decode(r *http.Request, v any) error {
	const op = "request.decode"
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return relais.E(op, relais.KindInvalid, "the request body could not be read", err)
	}
	if len(body) > MaxBodyBytes {
		return relais.E(op, relais.KindInvalid, fmt.Sprintf("the request body is larger than %d MiB: send less at once", MaxBodyBytes>>20))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return relais.E(op, relais.KindInvalid, "the request body is empty: a JSON object is expected")
	}
	if !utf8.Valid(body) {
		return relais.E(op, relais.KindInvalid, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(op, body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return relais.E(op, relais.KindInvalid, "unexpected data after the JSON object")
	}
	return nil
}

func jsonError(op string, body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(body, syn.Offset)
		return relais.E(op, relais.KindInvalid, fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, col, syn.Error()))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return &relais.Error{Op: op, Kind: relais.KindInvalid, Field: field,
			Message: fmt.Sprintf("expected %s, got a JSON %s", describeType(typ.Type), typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &relais.Error{Op: op, Kind: relais.KindInvalid, Field: name,
			Message: "unknown field: check its spelling against the API documentation at /api/v1/openapi.json"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return relais.E(op, relais.KindInvalid, "the JSON body ends too early")
	}
	return relais.E(op, relais.KindInvalid, "the request body is not the JSON expected: "+err.Error())
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer (within range)"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
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

// Problem is the body of an error response (RFC 9457).
type Problem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail"`
	Kind   string         `json:"kind"`
	Errors []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem is one field at fault.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// StatusOf maps an error kind to an HTTP status: the one place that does.
func StatusOf(k relais.Kind) int {
	switch k {
	case relais.KindInvalid:
		return http.StatusUnprocessableEntity
	case relais.KindNotFound:
		return http.StatusNotFound
	case relais.KindConflict, relais.KindTransition:
		return http.StatusConflict
	case relais.KindForbidden:
		return http.StatusForbidden
	case relais.KindUnauthorized:
		return http.StatusUnauthorized
	case relais.KindUnavailable:
		return http.StatusServiceUnavailable
	case relais.KindVersion:
		return http.StatusUpgradeRequired
	}
	return http.StatusInternalServerError
}

func (s *Server) problem(w http.ResponseWriter, r *http.Request, err error) {
	kind := relais.ErrorKind(err)
	status := StatusOf(kind)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Kind: kind.String(),
		Detail: relais.ErrorMessage(err)}
	for _, f := range relais.FieldErrors(err) {
		p.Errors = append(p.Errors, FieldProblem{Field: f.Field, Message: f.Message})
	}
	if status >= 500 {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if kind == relais.KindOther {
			p.Detail = "internal error: the request was not applied; the administrators can find it in the server log"
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

// PathID reads the {name} wildcard as an ID.
func PathID(r *http.Request, name string) (relais.ID, error) {
	return relais.ParseID(name, r.PathValue(name))
}
