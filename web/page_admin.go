package web

import (
	"net/http"
	"sort"

	"github.com/relais-onco/relais"
)

// The administrator's pages: the catalogue (drugs with their products, and
// diluents) and the accounts of the site. Changes go through the API
// (docs: /api/v1/openapi.json) until their forms exist.

func (s *Server) adminPages() {
	s.handlePage("GET /catalogue", relais.PermCatalogueRead, s.cataloguePage)
	s.handlePage("GET /users", relais.PermUserAdmin, s.usersPage)
}

type catalogueView struct {
	Drugs    []drugRow
	Diluents []relais.Diluent
}

type drugRow struct {
	relais.Drug
	Products []relais.Product
}

func (s *Server) cataloguePage(w http.ResponseWriter, r *http.Request, p *page) error {
	ctx := r.Context()
	drugs, err := s.Catalogue.Drugs(ctx)
	if err != nil {
		return err
	}
	products, err := s.Catalogue.Products(ctx, "")
	if err != nil {
		return err
	}
	byDrug := map[relais.ID][]relais.Product{}
	for _, pr := range products {
		byDrug[pr.DrugID] = append(byDrug[pr.DrugID], pr)
	}
	var v catalogueView
	for _, d := range drugs {
		v.Drugs = append(v.Drugs, drugRow{Drug: d, Products: byDrug[d.ID]})
	}
	if v.Diluents, err = s.Catalogue.Diluents(ctx); err != nil {
		return err
	}
	p.Title = p.T("catalogue.title")
	p.Data = v
	s.renderTemplate(w, r, "catalogue", "layout", http.StatusOK, p)
	return nil
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, p *page) error {
	us, err := s.Users.Users(r.Context())
	if err != nil {
		return err
	}
	order := map[relais.Role]int{}
	for i, role := range relais.Roles {
		order[role] = i
	}
	sort.SliceStable(us, func(i, j int) bool {
		if order[us[i].Role] != order[us[j].Role] {
			return order[us[i].Role] < order[us[j].Role]
		}
		return us[i].Username < us[j].Username
	})
	p.Title = p.T("users.title")
	p.Data = us
	s.renderTemplate(w, r, "users", "layout", http.StatusOK, p)
	return nil
}
