package web

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// The OpenAPI document is built from the registered routes and the Go types
// they exchange, so it cannot drift from the code.

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
	idType   = reflect.TypeOf(relais.ID(""))
	dateType = reflect.TypeOf(relais.Date(""))
)

type schemaBuilder struct {
	components map[string]any
}

func (b *schemaBuilder) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{"description": "any JSON value"}
	case idType:
		return map[string]any{"type": "string", "format": "uuid"}
	case dateType:
		return map[string]any{"type": "string", "format": "date"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": b.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": b.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return b.object(t)
		}
		if pkg := t.PkgPath(); !strings.HasSuffix(pkg, "/relais") {
			name = pkg[strings.LastIndex(pkg, "/")+1:] + "." + name
		}
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, ok := b.components[name]; !ok {
			b.components[name] = nil // break recursion
			b.components[name] = b.object(t)
		}
		return ref
	}
	return map[string]any{}
}

func (b *schemaBuilder) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	b.fields(t, props, &required)
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (b *schemaBuilder) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				b.fields(ft, props, required)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		s := b.schema(f.Type)
		if doc := f.Tag.Get("doc"); doc != "" {
			s = map[string]any{"allOf": []any{s}, "description": doc}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}

var wildcard = regexp.MustCompile(`\{([a-z_]+)\.{0,3}\}`)

// OpenAPI returns the OpenAPI 3.1 document of the API.
func (s *Server) OpenAPI() map[string]any {
	b := &schemaBuilder{components: map[string]any{}}
	paths := map[string]any{}
	problem := b.schema(reflect.TypeOf(Problem{}))
	for _, rt := range s.routes {
		p := "/api/v1" + rt.Path
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{
			"summary":      rt.Summary,
			"tags":         []string{rt.Tag},
			"x-permission": string(rt.Perm),
		}
		var params []any
		for _, m := range wildcard.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "required": q.Required,
				"description": q.Description, "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.In != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": b.schema(reflect.TypeOf(rt.In))}}}
		}
		ok := map[string]any{"description": "success"}
		if rt.Out != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": b.schema(reflect.TypeOf(rt.Out))}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(rt.Status): ok,
			"default": map[string]any{"description": "an error, as RFC 9457 problem details with field-level messages",
				"content": map[string]any{"application/problem+json": map[string]any{"schema": problem}}},
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Relais API",
			"version":     relais.APIVersion,
			"description": "The chemotherapy circuit of a regional oncology network. Send your client version in the Relais-Client-Version header; bodies are strict JSON (unknown fields are refused) and every request applies whole or not at all.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": b.components,
			"securitySchemes": map[string]any{
				"basic":   map[string]any{"type": "http", "scheme": "basic"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie},
			},
		},
		"security": []any{map[string]any{"basic": []any{}}, map[string]any{"session": []any{}}},
	}
}
