package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// The bad-input corpus: every API route that takes a body is sent
// oversized, malformed, non-UTF-8, SQL-looking, path-traversing and
// out-of-range bodies, by a role allowed to call it. Each must be refused
// with a 4xx problem+json that says what is wrong, and the database must be
// exactly as before: same journal head, same number of rows in every table.

const (
	sqlLooking    = `x'); DROP TABLE app_user; -- " OR 1=1 --`
	pathTraversal = `../../../../etc/passwd`
)

// bodyFor builds a JSON body of type t with every string set to str and
// every number written as num.
func bodyFor(t reflect.Type, str, num string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(time.Time{}), t == reflect.TypeOf(json.RawMessage{}):
		return str
	}
	switch t.Kind() {
	case reflect.String:
		return str
	case reflect.Bool:
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return json.Number(num)
	case reflect.Slice, reflect.Array:
		return []any{bodyFor(t.Elem(), str, num)}
	case reflect.Map:
		return map[string]any{str: bodyFor(t.Elem(), str, num)}
	case reflect.Struct:
		m := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				if sub, ok := bodyFor(f.Type, str, num).(map[string]any); ok {
					for k, v := range sub {
						m[k] = v
					}
				}
				continue
			}
			if name == "" {
				name = f.Name
			}
			m[name] = bodyFor(f.Type, str, num)
		}
		return m
	}
	return str
}

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dbState is what must not change: the journal head and the row count of
// every table.
func dbState(t testing.TB, db *sqlstore.DB) string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if db.Engine == sqlstore.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	rows, err := db.SQL().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	sort.Strings(tables)
	var b strings.Builder
	var seq int64
	var hash string
	if err := db.SQL().QueryRow("SELECT seq, hash FROM journal_head").Scan(&seq, &hash); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "journal head %d %s\n", seq, hash)
	for _, tb := range tables {
		var n int
		if err := db.SQL().QueryRow("SELECT COUNT(*) FROM " + tb).Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n", tb, n)
	}
	return b.String()
}

func TestBadInputIsRefusedAndLeavesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newAccEnv(t, dsn, web.AuthConfig{})
		clients := map[relais.Role]*accClient{}
		for _, r := range relais.Roles {
			clients[r] = e.client().signIn(r)
		}
		caller := func(p relais.Permission) *accClient {
			for _, r := range relais.Roles {
				if r.Can(p) && p != relais.PermPublic && p != relais.PermSignedIn {
					return clients[r]
				}
			}
			return clients[relais.RolePharmAdmin]
		}
		// A real patient, so that the patient routes get past their lookup
		// and refuse the body itself.
		r := clients[relais.RolePharmacist].do("POST", "/api/v1/patients", `{"ipp":"8001","birth_name":"Le Gall","first_names":["Maëlle"],
			"birth_date":"2015-03-12","sex":"F","ins":{"matricule":"2 06 12 75 111 005 64","oid":"1.2.250.1.213.1.4.8","status":"qualified"}}`)
		if r.status != 201 {
			t.Fatalf("create patient: %d %s", r.status, r.body)
		}
		patient := accJSON[relais.Patient](t, r)
		pathOf := func(p string) string {
			if rest, ok := strings.CutPrefix(p, "/patients/{id}"); ok {
				p = "/patients/" + string(patient.ID) + rest
			}
			return "/api/v1" + concretePath(p)
		}
		oversized := `{"name":"` + strings.Repeat("a", web.MaxBodyBytes) + `"}`
		tested := 0
		for _, rt := range e.srv.Routes() {
			if rt.In == nil {
				continue
			}
			tested++
			in := reflect.TypeOf(rt.In)
			corpus := []struct{ name, body string }{
				{"oversized", oversized},
				{"malformed", `{"name": "unterminated`},
				{"not an object", `[1, 2, 3]`},
				{"invalid UTF-8", "{\"name\": \"\xff\xfe\xfd\"}"},
				{"invalid UTF-8 in every field", strings.ReplaceAll(marshal(t, bodyFor(in, "@@", "1")), "@@", "\xc3\x28")},
				{"SQL-looking strings", marshal(t, bodyFor(in, sqlLooking, "1"))},
				{"path traversal", marshal(t, bodyFor(in, pathTraversal, "1"))},
			}
			if huge := marshal(t, bodyFor(in, "x", "1e309")); huge != marshal(t, bodyFor(in, "x", "1")) {
				// The type has numbers: out-of-range ones must be refused.
				corpus = append(corpus, struct{ name, body string }{"huge numbers", huge},
					struct{ name, body string }{"huge integers", marshal(t, bodyFor(in, "x", "99999999999999999999999999"))})
			}
			before := dbState(t, e.db)
			c := caller(rt.Perm)
			for _, bad := range corpus {
				r := c.do(rt.Method, pathOf(rt.Path), bad.body)
				if r.status < 400 || r.status >= 500 {
					t.Errorf("%s %s, %s: %d %.300s", rt.Method, rt.Path, bad.name, r.status, r.body)
					continue
				}
				if p := r.problem(t); p.Detail == "" || p.Status != r.status {
					t.Errorf("%s %s, %s: the problem says nothing: %s", rt.Method, rt.Path, bad.name, r.body)
				}
			}
			if after := dbState(t, e.db); after != before {
				t.Errorf("%s %s: the database changed:\nbefore %s\nafter  %s", rt.Method, rt.Path, before, after)
			}
		}
		if tested < 20 {
			t.Fatalf("only %d routes take a body: the corpus proves little", tested)
		}

		// Bad path segments and file names: refused, never served.
		before := dbState(t, e.db)
		c := clients[relais.RolePharmAdmin]
		for _, rt := range e.srv.Routes() {
			if !strings.Contains(rt.Path, "{") {
				continue
			}
			for _, seg := range []string{url.PathEscape(pathTraversal), url.PathEscape(sqlLooking), strings.Repeat("9", 400)} {
				path := "/api/v1" + wildcard.ReplaceAllString(rt.Path, seg)
				body := ""
				if rt.In != nil {
					body = "{}"
				}
				r := c.do(rt.Method, path, body)
				if r.status < 400 || r.status >= 500 {
					t.Errorf("%s %s: %d %.200s", rt.Method, path, r.status, r.body)
				}
			}
		}
		for _, p := range []string{"/static/../go.mod", "/static/%2e%2e/%2e%2e/go.mod", "/static/..%2f..%2fgo.mod", "/static/" + url.PathEscape(pathTraversal)} {
			if r := c.do("GET", p, ""); r.status == 200 || strings.Contains(r.body, "module github.com") {
				t.Errorf("GET %s: %d %.100s", p, r.status, r.body)
			}
		}
		if after := dbState(t, e.db); after != before {
			t.Errorf("bad paths changed the database:\nbefore %s\nafter  %s", before, after)
		}
	})
}
