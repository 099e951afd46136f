package web

import (
	"net/http"
	"sort"

	"github.com/relais-onco/relais"
)

// Leftover vials (reliquats): what the isolator holds, each with what is
// left, until when, and whether it may still be used; discarding one, and
// the end-of-day isolator check.

func (s *Server) leftoverPages() {
	s.handlePage("GET /leftovers", relais.PermProductionRead, s.leftoversPage)
	s.handlePage("POST /leftovers/{id}/discard", relais.PermProductionPrepare, s.discardLeftover)
	s.handlePage("POST /leftovers/isolator-check", relais.PermProductionPrepare, s.isolatorCheck)
}

type leftoversView struct {
	Items []relais.LeftoverItem
	Check *relais.IsolatorCheck
}

func (s *Server) leftoversPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showLeftovers(w, r, p, http.StatusOK, nil)
}

func (s *Server) showLeftovers(w http.ResponseWriter, r *http.Request, p *page, status int, check *relais.IsolatorCheck) error {
	items, err := s.Production.Leftovers(r.Context(), relais.LeftoverFilter{InIsolator: true})
	if err != nil {
		return err
	}
	// Those to throw away first, then by expiry: the next to expire on top.
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Usable != items[j].Usable {
			return !items[i].Usable
		}
		return items[i].Expiry.Before(items[j].Expiry)
	})
	p.Title = p.T("leftovers.title")
	p.Data = leftoversView{Items: items, Check: check}
	s.renderTemplate(w, r, "leftovers", "layout", status, p)
	return nil
}

func (s *Server) discardLeftover(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.Production.DiscardLeftover(r.Context(), id, r.PostFormValue("reason")); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse("discard-"+string(id), r.PostForm, err)
		return s.showLeftovers(w, r, p, http.StatusUnprocessableEntity, nil)
	}
	return done(w, r, "/leftovers", "discarded")
}

func (s *Server) isolatorCheck(w http.ResponseWriter, r *http.Request, p *page) error {
	c, err := s.Production.IsolatorCheck(r.Context())
	if err != nil {
		return err
	}
	p.Flash = p.Tf("leftovers.checked", len(c.ExpiredNow))
	return s.showLeftovers(w, r, p, http.StatusOK, &c)
}
