package web_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// rowCounter is the store with its list reads counted: how many
// preparations each page read, and whether it read a whole list.
type rowCounter struct {
	*sqlstore.DB
	mu    sync.Mutex
	rows  int
	whole int
}

func (c *rowCounter) BoardList(ctx context.Context, q sqlstore.BoardQuery) ([]relais.Preparation, int, error) {
	ps, n, err := c.DB.BoardList(ctx, q)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows += len(ps)
	if q.Limit == 0 && len(q.PatientIDs) == 0 {
		c.whole++
	}
	return ps, n, err
}

func (c *rowCounter) BoardPreparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error) {
	ps, err := c.DB.BoardPreparations(ctx, f)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows += len(ps)
	c.whole++
	return ps, err
}

func (c *rowCounter) Preparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error) {
	ps, err := c.DB.Preparations(ctx, f)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows += len(ps)
	c.whole++
	return ps, err
}

// read returns the rows read and the whole lists read since the last call.
func (c *rowCounter) read() (rows, whole int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows, whole = c.rows, c.whole
	c.rows, c.whole = 0, 0
	return rows, whole
}

// A day of 64 preparations of 32 patients, on both engines: the
// technician's home shows 30 of a step with the count of all, the board 60
// with the count of the day, a nurse's 30 patients of a ward, and each
// reads only the preparations it shows (a pharmacist's home likewise reads
// none it does not show); the board's "all" and a home's "more" read the
// whole list.
func TestListsReadOnlyWhatTheyShow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newDocEnv(t, dsn)
		var ids []relais.ID
		for range 32 {
			_, more := e.treat(t, 1)
			ids = append(ids, more...)
		}
		if len(ids) != 64 {
			t.Fatalf("%d preparations, want 64", len(ids))
		}
		store := &rowCounter{DB: e.db}
		srv := web.New("chu-test", web.Services{Users: e.db, Patients: e.db, Catalogue: e.db, Protocols: e.db, Treatments: e.db, Production: store}, quiet)
		srv.SetReady()
		h := srv.Handler()
		tech, pharma, nurse := signedIn(t, e, "technician"), signedIn(t, e, "pharmacist"), signedIn(t, e, "nurse")

		home := renderPage(t, h, tech, "/")
		rows, whole := store.read()
		if n := strings.Count(home, `href="/preparations/`); n != 30 || rows != 30 || whole != 0 {
			t.Errorf("the technician's home shows %d preparations and read %d (%d whole lists), want 30 read of 64 and no whole list", n, rows, whole)
		}
		for _, want := range []string{`<span class="count">64</span>`, "Voir les 34 autres sur le tableau de production"} {
			if !strings.Contains(home, want) {
				t.Errorf("the technician's home lacks %q", want)
			}
		}

		board := renderPage(t, h, tech, "/production")
		rows, whole = store.read()
		if n := strings.Count(board, `<li class="prep"`); n != 60 || rows != 60 || whole != 0 {
			t.Errorf("the board shows %d preparations and read %d (%d whole lists), want 60 read of 64 and no whole list", n, rows, whole)
		}
		for _, want := range []string{`<span class="count">64</span>`, "Voir les 4 autres", "all=1"} {
			if !strings.Contains(board, want) {
				t.Errorf("the board lacks %q", want)
			}
		}

		all := renderPage(t, h, tech, "/production?all=1")
		if rows, _ = store.read(); rows != 64 {
			t.Errorf("the whole day's board read %d preparations, want 64", rows)
		}
		for _, id := range ids {
			if !strings.Contains(all, `id="prep-`+string(id)+`"`) {
				t.Fatalf("the whole day's board lacks preparation %s", id)
			}
		}

		// Nothing delivered yet: one group of 32 patients on the nurse's
		// home, 30 shown with their preparations (2 each), the 2 others
		// one link away.
		wards := func(page string) string {
			i, j := strings.Index(page, `id="h-wards"`), strings.Index(page, `id="h-today"`)
			if i < 0 || j < i {
				t.Fatalf("the nurse's home has no wards before the day's lines")
			}
			return page[i:j]
		}
		ward := wards(renderPage(t, h, nurse, "/"))
		rows, whole = store.read()
		if n := strings.Count(ward, "/administration\">"); n != 30 || rows != 60 || whole != 0 {
			t.Errorf("the nurse's home shows %d patients and read %d preparations (%d whole lists), want 30 and their 60", n, rows, whole)
		}
		if !strings.Contains(ward, "Voir les 2 autres") {
			t.Errorf("the nurse's home lacks the link to the 2 other patients")
		}
		ward = wards(renderPage(t, h, nurse, "/?more=ward:"))
		if rows, _ = store.read(); strings.Count(ward, "/administration\">") != 32 || rows != 64 || strings.Contains(ward, "Voir les") {
			t.Errorf("?more=ward: shows %d patients from %d preparations read, want all 32 and their 64", strings.Count(ward, "/administration\">"), rows)
		}

		// Every preparation is released: nothing for the pharmacist to check
		// or release, and nothing read.
		renderPage(t, h, pharma, "/")
		if rows, whole = store.read(); rows != 0 || whole != 0 {
			t.Errorf("the pharmacist's home read %d preparations (%d whole lists), want none", rows, whole)
		}
	})
}

// A technician's home on a server without the pharmacy chain lists the
// day's validated lines to prepare: the first 30 days with the count of
// all, the rest one link away.
func TestToPrepareIsBoundedWithoutTheBoard(t *testing.T) {
	e := newDocEnv(t, testdb.SQLite(t))
	for range 16 {
		e.treat(t, 2)
	}
	srv := web.New("chu-test", web.Services{Users: e.db, Patients: e.db, Catalogue: e.db, Protocols: e.db, Treatments: e.db}, quiet)
	srv.SetReady()
	h := srv.Handler()
	tech := signedIn(t, e, "technician")
	section := func(page string) string {
		i := strings.Index(page, `id="h-prepare"`)
		if i < 0 {
			t.Fatalf("the technician's home has no lines to prepare")
		}
		return page[i : i+strings.Index(page[i:], "</section>")]
	}
	// Two lines a day (doxorubicine, vincristine), 32 days.
	home := section(renderPage(t, h, tech, "/"))
	if n := strings.Count(home, `<th scope="row">`); n != 60 {
		t.Errorf("the technician's home lists %d lines, want the 60 of the first 30 days", n)
	}
	for _, want := range []string{`<span class="count">32</span>`, "Voir les 2 autres", `href="/?more=to_prepare#h-prepare"`} {
		if !strings.Contains(home, want) {
			t.Errorf("the lines to prepare lack %q", want)
		}
	}
	all := section(renderPage(t, h, tech, "/?more=to_prepare"))
	if n := strings.Count(all, `<th scope="row">`); n != 64 || strings.Contains(all, "Voir les") {
		t.Errorf("?more=to_prepare lists %d lines, want all 64 and no link for more", n)
	}
}
