package web_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/web"
)

// The permission walk: every API route and every page, for every role,
// answers 403 exactly when the role lacks the route's permission. A route
// registered without a permission panics at start (api.go, notePage); a
// route registered around them fails TestEveryRouteIsRegisteredWithAPermission.

var wildcard = regexp.MustCompile(`\{[a-z_]+\.*\}`)

// concretePath fills a route's wildcards with a fresh ID: the request
// reaches the handler (and its permission check) without touching data.
func concretePath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return wildcard.ReplaceAllStringFunc(p, func(string) string { return string(relais.NewID()) })
}

// endsSession reports whether a route signs its caller out: the walk sends
// it from a throwaway session.
func endsSession(method, path string) bool {
	return (method == "DELETE" && path == "/session") || (method == "POST" && path == "/logout")
}

func TestEveryRouteAnswers403ExactlyWhenTheRoleLacksItsPermission(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{PublicURL: "listen"})
	routes := e.srv.Routes()
	pages := e.srv.Pages()
	if len(routes) < 20 || len(pages) < 5 {
		t.Fatalf("only %d routes and %d pages: the walk would prove little", len(routes), len(pages))
	}
	anon := e.client()
	for _, role := range relais.Roles {
		c := e.client().signIn(role)
		for _, rt := range routes {
			path := "/api/v1" + concretePath(rt.Path)
			body := ""
			if rt.In != nil {
				body = "{}"
			}
			cc := c
			if endsSession(rt.Method, rt.Path) {
				cc = e.client().signIn(role)
			}
			r := cc.do(rt.Method, path, body)
			want403 := !role.Can(rt.Perm)
			if (r.status == http.StatusForbidden) != want403 {
				t.Errorf("%s %s (%s) as %s: %d %s", rt.Method, rt.Path, rt.Perm, role, r.status, strings.TrimSpace(r.body))
			}
			if r.status == http.StatusForbidden && !strings.Contains(r.body, string(role)) {
				t.Errorf("%s %s as %s: the refusal does not name the role: %s", rt.Method, rt.Path, role, r.body)
			}
			if r.status >= 500 {
				t.Errorf("%s %s as %s: %d %s", rt.Method, rt.Path, role, r.status, r.body)
			}
		}
		for _, pg := range pages {
			method := pg.Method
			if method == "" {
				method = "GET"
			}
			cc := c
			if endsSession(method, pg.Path) {
				cc = e.client().signIn(role)
			}
			r := cc.do(method, concretePath(pg.Path), "")
			want403 := !role.Can(pg.Perm)
			if (r.status == http.StatusForbidden) != want403 {
				t.Errorf("page %s %s (%s) as %s: %d", method, pg.Path, pg.Perm, role, r.status)
			}
			if r.status >= 500 {
				t.Errorf("page %s %s as %s: %d", method, pg.Path, role, r.status)
			}
		}
	}
	// Signed out: 401 for the API, the sign-in page for pages; never 403.
	for _, rt := range routes {
		if rt.Perm == relais.PermPublic {
			continue
		}
		if r := anon.do(rt.Method, "/api/v1"+concretePath(rt.Path), ""); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s signed out: %d", rt.Method, rt.Path, r.status)
		}
	}
	for _, pg := range pages {
		if pg.Perm == relais.PermPublic || pg.Method == "POST" {
			continue
		}
		r := anon.do("GET", concretePath(pg.Path), "")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
			t.Errorf("page %s signed out: %d → %q", pg.Path, r.status, r.header.Get("Location"))
		}
	}
}

// Routes must be registered through Handle, HandleRaw or handlePage, which
// record their permission; only the health check, the static assets, the
// not-found answer and the FHIR API (which checks its own) are registered
// on the mux directly.
func TestEveryRouteIsRegisteredWithAPermission(t *testing.T) {
	allowedDirect := map[string]bool{`"GET /healthz"`: true, `"GET /static/"`: true, `"/"`: true}
	registrars := map[string]bool{"Handle": true, "HandleRaw": true, "handlePage": true,
		// The FHIR API checks each resource's permission itself
		// (fhir.Server.with, with relais.Allowed, so API tokens' scopes
		// hold there too).
		"EnableFHIR": true}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(node ast.Node) bool {
				call, ok := node.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				recv, ok := sel.X.(*ast.SelectorExpr)
				if !ok || recv.Sel.Name != "mux" {
					return true
				}
				n++
				if registrars[fn.Name.Name] {
					return true
				}
				pattern := "(not a literal)"
				if lit, ok := call.Args[0].(*ast.BasicLit); ok {
					pattern = lit.Value
				}
				if !allowedDirect[pattern] {
					t.Errorf("%s: %s registers %s on the mux directly, without a permission: use Handle, HandleRaw or handlePage",
						fset.Position(call.Pos()), fn.Name.Name, pattern)
				}
				return true
			})
		}
	}
	if n < 4 {
		t.Fatalf("found only %d registrations: the scan no longer matches the code", n)
	}
}

var updateDocs = flag.Bool("update-permissions-doc", false, "rewrite docs/permissions.md from the matrix")

// docs/permissions.md is written from the matrix (relais.Grants) and the
// permissions' descriptions, so that it cannot drift from the code:
//
//	go test ./web -run TestPermissionsDoc -update-permissions-doc
//
//go:generate go test -run TestPermissionsDoc -update-permissions-doc .
func TestPermissionsDoc(t *testing.T) {
	var b strings.Builder
	b.WriteString(`# Permissions

<!-- Written by ` + "`go test ./web -run TestPermissionsDoc -update-permissions-doc`" + ` from the matrix in
permission.go; the test fails when this file and the code differ. -->

Every API route and every page declares the one permission it needs; a role
has a permission when the matrix below grants it. Each API route's
permission is in the OpenAPI document (` + "`x-permission`" + `, at
` + "`/api/v1/openapi.json`" + `). A route registered without a permission does
not start, and a test walks every route with every role and checks that the
answer is 403 exactly where the matrix says no (` + "`web/permissions_test.go`" + `).

An API token acts as its account, narrowed to the permissions it was given
(a subset of its account's); see [security.md](security.md).

## Matrix

`)
	b.WriteString("| Permission |")
	for _, r := range relais.Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|")
	for range relais.Roles {
		b.WriteString(":-:|")
	}
	b.WriteString("\n")
	for _, p := range relais.Permissions {
		fmt.Fprintf(&b, "| `%s` |", p)
		for _, r := range relais.Roles {
			mark := " |"
			if r.Can(p) {
				mark = " ✔ |"
			}
			b.WriteString(mark)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## What each permission allows\n\n")
	for _, p := range relais.Permissions {
		fmt.Fprintf(&b, "- `%s`: %s.\n", p, p.Description())
	}
	b.WriteString("\n## Roles\n\n")
	for _, r := range relais.Roles {
		fmt.Fprintf(&b, "- `%s`: %d permissions.\n", r, len(relais.Grants(r)))
	}
	want := b.String()

	// Every permission the matrix grants or a route needs is described.
	described := map[relais.Permission]bool{}
	for _, p := range relais.Permissions {
		if p.Description() == "" {
			t.Errorf("permission %s has no description in permission.go", p)
		}
		described[p] = true
	}
	for _, r := range relais.Roles {
		for _, p := range relais.Grants(r) {
			if !described[p] {
				t.Errorf("role %s is granted %s, which is not in relais.Permissions", r, p)
			}
		}
	}
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	for _, rt := range e.srv.Routes() {
		if !described[rt.Perm] {
			t.Errorf("%s %s needs %s, which is not in relais.Permissions", rt.Method, rt.Path, rt.Perm)
		}
	}
	for _, pg := range e.srv.Pages() {
		if !described[pg.Perm] {
			t.Errorf("page %s %s needs %s, which is not in relais.Permissions", pg.Method, pg.Path, pg.Perm)
		}
	}

	const file = "../docs/permissions.md"
	if *updateDocs {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != want {
		t.Fatalf("%s is out of date with the matrix: run go generate ./web (or go test ./web -run TestPermissionsDoc -update-permissions-doc)", file)
	}
}
