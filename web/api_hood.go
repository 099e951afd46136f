package web

import (
	"net/http"

	"github.com/relais-onco/relais"
)

// Hoods: the site's isolators and cabinets (managed with the catalogue's
// permission), and the hood each compounded preparation is made in.

func (s *Server) hoodRoutes() {
	if s.Hoods == nil {
		return
	}
	const tag = "Production"
	s.Handle(Route{Method: "GET", Path: "/hoods", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The site's hoods (isolators, biological safety cabinets), active first", Out: []relais.Hood{}},
		func(r *http.Request) (any, error) { return nonNil(s.Hoods.Hoods(r.Context())) })
	s.Handle(Route{Method: "POST", Path: "/hoods", Perm: relais.PermCatalogueWrite, Tag: tag, Status: http.StatusCreated,
		Summary: "Add a hood (name, kind isolator|cabinet, active)", In: relais.Hood{}, Out: relais.Hood{}},
		func(r *http.Request) (any, error) {
			var in relais.Hood
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Hoods.CreateHood(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/hoods/{id}", Perm: relais.PermProductionRead, Tag: tag, Summary: "One hood", Out: relais.Hood{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Hoods.Hood(r.Context(), id)
		})
	s.Handle(Route{Method: "PUT", Path: "/hoods/{id}", Perm: relais.PermCatalogueWrite, Tag: tag,
		Summary: "Rename a hood, change its kind, put it in or out of service; send the revision you read",
		In:      relais.Hood{}, Out: relais.Hood{}},
		func(r *http.Request) (any, error) {
			var in relais.Hood
			if err := decodeFor(r, &in, &in.ID); err != nil {
				return nil, err
			}
			return s.Hoods.UpdateHood(r.Context(), in)
		})
	s.Handle(Route{Method: "POST", Path: "/preparations/{id}/hood", Perm: relais.PermProductionPrepare, Tag: tag,
		Summary: "Put a compounded preparation in a hood, with its planned slot; moving it from another hood needs a reason",
		In:      relais.AssignHoodRequest{}, Out: relais.HoodAssignment{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.AssignHoodRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Hoods.AssignHood(r.Context(), id, in)
		})
}
