package web

import (
	"net/http"

	"github.com/relais-onco/relais"
)

// The catalogue: drugs, products with their stability entries, diluents.
// Bodies are the domain types; the server sets id, site and times, and an
// update sends back the revision it read (a stale one is refused).

func (s *Server) catalogueRoutes() {
	const tag = "Catalogue"
	read, write := relais.PermCatalogueRead, relais.PermCatalogueWrite

	s.Handle(Route{Method: "GET", Path: "/drugs", Perm: read, Tag: tag, Summary: "The drugs of the catalogue, by INN",
		Out: []relais.Drug{}}, func(r *http.Request) (any, error) {
		return nonNil(s.Catalogue.Drugs(r.Context()))
	})
	s.Handle(Route{Method: "POST", Path: "/drugs", Perm: write, Tag: tag, Status: http.StatusCreated,
		Summary: "Add a drug (INN, class, cytotoxic)", In: relais.Drug{}, Out: relais.Drug{}},
		func(r *http.Request) (any, error) {
			var in relais.Drug
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Catalogue.CreateDrug(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/drugs/{id}", Perm: read, Tag: tag, Summary: "One drug", Out: relais.Drug{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Catalogue.Drug(r.Context(), id)
		})
	s.Handle(Route{Method: "PUT", Path: "/drugs/{id}", Perm: write, Tag: tag,
		Summary: "Change a drug's class, cytotoxic flag or comment (the INN is fixed); send the revision you read",
		In:      relais.Drug{}, Out: relais.Drug{}},
		func(r *http.Request) (any, error) {
			var in relais.Drug
			if err := decodeFor(r, &in, &in.ID); err != nil {
				return nil, err
			}
			return s.Catalogue.UpdateDrug(r.Context(), in)
		})

	s.Handle(Route{Method: "GET", Path: "/products", Perm: read, Tag: tag,
		Summary: "The products of the catalogue, or of one drug", Out: []relais.Product{},
		Query: []Param{{Name: "drug_id", Description: "only this drug's products"}}},
		func(r *http.Request) (any, error) {
			var drug relais.ID
			if v := r.URL.Query().Get("drug_id"); v != "" {
				id, err := relais.ParseID("drug_id", v)
				if err != nil {
					return nil, err
				}
				drug = id
			}
			return nonNil(s.Catalogue.Products(r.Context(), drug))
		})
	s.Handle(Route{Method: "POST", Path: "/products", Perm: write, Tag: tag, Status: http.StatusCreated,
		Summary: "Add a product (one UCD presentation), with its stability entries", In: relais.Product{}, Out: relais.Product{}},
		func(r *http.Request) (any, error) {
			var in relais.Product
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Catalogue.CreateProduct(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/products/{id}", Perm: read, Tag: tag, Summary: "One product, with its stability entries",
		Out: relais.Product{}}, func(r *http.Request) (any, error) {
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		return s.Catalogue.Product(r.Context(), id)
	})
	s.Handle(Route{Method: "PUT", Path: "/products/{id}", Perm: write, Tag: tag,
		Summary: "Change a product; stability entries change through /products/{id}/stability (leave them out or send them as read)",
		In:      relais.Product{}, Out: relais.Product{}},
		func(r *http.Request) (any, error) {
			var in relais.Product
			if err := decodeFor(r, &in, &in.ID); err != nil {
				return nil, err
			}
			return s.Catalogue.UpdateProduct(r.Context(), in)
		})
	s.Handle(Route{Method: "POST", Path: "/products/{id}/stability", Perm: write, Tag: tag, Status: http.StatusCreated,
		Summary: "Add a stability entry (its source is mandatory)", In: relais.Stability{}, Out: relais.Product{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.Stability
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Catalogue.AddStability(r.Context(), id, in)
		})
	s.Handle(Route{Method: "PUT", Path: "/products/{id}/stability/{sid}", Perm: write, Tag: tag,
		Summary: "Correct a stability entry (the journal keeps what it said)", In: relais.Stability{}, Out: relais.Product{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.Stability
			if err := decodeFor(r, &in, &in.ID, "sid"); err != nil {
				return nil, err
			}
			return s.Catalogue.UpdateStability(r.Context(), id, in)
		})

	s.Handle(Route{Method: "GET", Path: "/diluents", Perm: read, Tag: tag, Summary: "The diluents and their bag volumes",
		Out: []relais.Diluent{}}, func(r *http.Request) (any, error) {
		return nonNil(s.Catalogue.Diluents(r.Context()))
	})
	s.Handle(Route{Method: "POST", Path: "/diluents", Perm: write, Tag: tag, Status: http.StatusCreated,
		Summary: "Add a diluent", In: relais.Diluent{}, Out: relais.Diluent{}},
		func(r *http.Request) (any, error) {
			var in relais.Diluent
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Catalogue.CreateDiluent(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/diluents/{id}", Perm: read, Tag: tag, Summary: "One diluent", Out: relais.Diluent{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Catalogue.Diluent(r.Context(), id)
		})
	s.Handle(Route{Method: "PUT", Path: "/diluents/{id}", Perm: write, Tag: tag,
		Summary: "Change a diluent's bag volumes or comment (the name is fixed); send the revision you read",
		In:      relais.Diluent{}, Out: relais.Diluent{}},
		func(r *http.Request) (any, error) {
			var in relais.Diluent
			if err := decodeFor(r, &in, &in.ID); err != nil {
				return nil, err
			}
			return s.Catalogue.UpdateDiluent(r.Context(), in)
		})
}

// decodeFor decodes the body of a request on /…/{id} into v and sets *id
// from the path (wildcard "id", or the one named); an id in the body must be
// the same.
func decodeFor(r *http.Request, v any, id *relais.ID, wildcard ...string) error {
	name := "id"
	if len(wildcard) > 0 {
		name = wildcard[0]
	}
	pathID, err := PathID(r, name)
	if err != nil {
		return err
	}
	if err := Decode(r, v); err != nil {
		return err
	}
	if *id != "" && *id != pathID {
		return relais.Invalid("request.decode", "id", "the body's id %s is not the one in the address (%s)", *id, pathID)
	}
	*id = pathID
	return nil
}

// nonNil answers an empty list as [] rather than null.
func nonNil[T any](list []T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []T{}
	}
	return list, nil
}
