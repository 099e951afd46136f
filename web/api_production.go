package web

import (
	"net/http"
	"strconv"

	"github.com/relais-onco/relais"
)

// Pharmacy production: preparations from proposal to release, the
// preparation register, leftover vials, stock, dispensing, administration
// and billing. The PDFs are in api_documents.go.
func (s *Server) productionRoutes() {
	if s.Production == nil {
		return
	}
	s.preparationRoutes()
	s.leftoverRoutes()
	s.dispensingRoutes()
	s.documentRoutes()
}

// idStep registers POST /preparations/{id}/<step> for a step taking a body
// of type In (or none).
func idStep[In any](s *Server, path string, perm relais.Permission, summary string, call func(r *http.Request, id relais.ID, in In) (any, error)) {
	var zero In
	var inDoc any = zero
	if _, none := any(zero).(struct{}); none {
		inDoc = nil
	}
	s.Handle(Route{Method: "POST", Path: path, Perm: perm, Tag: "Production", Summary: summary, In: inDoc, Out: relais.Preparation{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in In
			if inDoc != nil {
				if err := Decode(r, &in); err != nil {
					return nil, err
				}
			}
			return call(r, id, in)
		})
}

func (s *Server) preparationRoutes() {
	const tag = "Production"
	s.Handle(Route{Method: "GET", Path: "/preparations", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "Preparations, by administration date, status or patient", Out: []relais.Preparation{},
		Query: []Param{{Name: "date", Description: "administration date, YYYY-MM-DD"}, {Name: "status", Description: "e.g. to_prepare, released"},
			{Name: "patient_id", Description: "a patient"}}},
		func(r *http.Request) (any, error) {
			q := r.URL.Query()
			f := relais.PreparationFilter{Date: relais.Date(q.Get("date")), Status: relais.PreparationStatus(q.Get("status"))}
			if v := q.Get("patient_id"); v != "" {
				id, err := relais.ParseID("patient_id", v)
				if err != nil {
					return nil, err
				}
				f.PatientID = id
			}
			return s.Production.Preparations(r.Context(), f)
		})
	s.Handle(Route{Method: "GET", Path: "/preparations/{id}", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "One preparation: its plan, register number, production record, check and release", Out: relais.Preparation{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Production.Preparation(r.Context(), id)
		})
	idStep(s, "/preparations/{id}/propose", relais.PermProductionPrepare,
		"Recompute the compounding plan of a preparation still to prepare (vials, leftovers, volumes, dilution, stability)",
		func(r *http.Request, id relais.ID, _ struct{}) (any, error) {
			return s.Production.ProposePreparation(r.Context(), id)
		})
	idStep(s, "/preparations/{id}/worksheet", relais.PermProductionPrepare,
		"Issue the compounding worksheet: freezes the plan and gives the register number",
		func(r *http.Request, id relais.ID, _ struct{}) (any, error) {
			return s.Production.IssueWorksheet(r.Context(), id)
		})
	idStep(s, "/preparations/{id}/production", relais.PermProductionPrepare,
		"Record the vials and lots used, the volumes measured or masses weighed, and the leftover vials kept",
		func(r *http.Request, id relais.ID, in relais.ProductionRequest) (any, error) {
			return s.Production.RecordProduction(r.Context(), id, in)
		})
	idStep(s, "/preparations/{id}/check", relais.PermProductionCheck, "Second person's check (not the one who prepared it)",
		func(r *http.Request, id relais.ID, in relais.CheckRequest) (any, error) {
			return s.Production.CheckPreparation(r.Context(), id, in)
		})
	idStep(s, "/preparations/{id}/release", relais.PermProductionRelease,
		"Release: refused while the production control is out of tolerance",
		func(r *http.Request, id relais.ID, in relais.ReleaseRequest) (any, error) {
			return s.Production.ReleasePreparation(r.Context(), id, in)
		})
	idStep(s, "/preparations/{id}/reject", relais.PermProductionRelease, "Reject, with a reason (written in the register)",
		func(r *http.Request, id relais.ID, in relais.ReasonRequest) (any, error) {
			return s.Production.RejectPreparation(r.Context(), id, in.Reason)
		})
	idStep(s, "/preparations/{id}/cancel", relais.PermProductionRelease, "Cancel a preparation not yet released; it keeps its register number",
		func(r *http.Request, id relais.ID, in relais.ReasonRequest) (any, error) {
			return s.Production.CancelPreparation(r.Context(), id, in.Reason)
		})
	idStep(s, "/preparations/{id}/remake", relais.PermProductionRelease, "Make a new preparation for the line of a rejected one",
		func(r *http.Request, id relais.ID, _ struct{}) (any, error) {
			return s.Production.RemakePreparation(r.Context(), id)
		})

	s.Handle(Route{Method: "GET", Path: "/register", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The preparation register (ordonnancier) for a date range", Out: []relais.RegisterEntry{},
		Query: []Param{{Name: "from", Description: "first day, YYYY-MM-DD", Required: true}, {Name: "to", Description: "last day, YYYY-MM-DD", Required: true}}},
		func(r *http.Request) (any, error) {
			q := r.URL.Query()
			return s.Production.Register(r.Context(), relais.Date(q.Get("from")), relais.Date(q.Get("to")))
		})
	s.Handle(Route{Method: "POST", Path: "/register/{number}/annotations", Perm: relais.PermProductionRelease, Tag: tag,
		Summary: "Annotate a register entry (the only correction a closed entry accepts)", In: relais.AnnotationRequest{}, Out: relais.RegisterEntry{}},
		func(r *http.Request) (any, error) {
			var in relais.AnnotationRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.AnnotateRegister(r.Context(), r.PathValue("number"), in)
		})
	s.Handle(Route{Method: "PUT", Path: "/production/tolerances/{id}", Perm: relais.PermProductionRelease, Tag: tag,
		Summary: "Set a drug's production control tolerance (percent; ±5 % when unset)", In: ToleranceRequest{}, Out: relais.Tolerance{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in ToleranceRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.SetTolerance(r.Context(), id, in.Percent)
		})
	s.Handle(Route{Method: "GET", Path: "/production/pharmacy", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The pharmacy named on labels and documents", Out: relais.Pharmacy{}},
		func(r *http.Request) (any, error) { return s.Production.Pharmacy(r.Context()) })
	s.Handle(Route{Method: "PUT", Path: "/production/pharmacy", Perm: relais.PermCatalogueWrite, Tag: tag,
		Summary: "Set the pharmacy's name, address and telephone (printed on every label)", In: relais.Pharmacy{}, Out: relais.Pharmacy{}},
		func(r *http.Request) (any, error) {
			var in relais.Pharmacy
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.SetPharmacy(r.Context(), in)
		})
}

// ToleranceRequest sets a control tolerance.
type ToleranceRequest struct {
	Percent float64 `json:"percent"`
}

func (s *Server) leftoverRoutes() {
	const tag = "Production"
	s.Handle(Route{Method: "GET", Path: "/leftovers", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "Leftover vials, earliest expiry first, marked expired when past their expiry", Out: []relais.LeftoverItem{},
		Query: []Param{{Name: "drug_id", Description: "one drug"}, {Name: "in_isolator", Description: "true: only those still kept"}}},
		func(r *http.Request) (any, error) {
			q := r.URL.Query()
			var f relais.LeftoverFilter
			if v := q.Get("drug_id"); v != "" {
				id, err := relais.ParseID("drug_id", v)
				if err != nil {
					return nil, err
				}
				f.DrugID = id
			}
			if v := q.Get("in_isolator"); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, relais.Invalid("leftover.list", "in_isolator", "write true or false")
				}
				f.InIsolator = b
			}
			return s.Production.Leftovers(r.Context(), f)
		})
	s.Handle(Route{Method: "POST", Path: "/leftovers", Perm: relais.PermProductionPrepare, Tag: tag, Status: http.StatusCreated,
		Summary: "Record a vial not emptied; its expiry comes from the product's stability data for its storage", In: relais.LeftoverInput{}, Out: relais.LeftoverVial{}},
		func(r *http.Request) (any, error) {
			var in relais.LeftoverInput
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.RecordLeftover(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/leftovers/{id}", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "One leftover vial with its draws", Out: relais.LeftoverVial{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Production.Leftover(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/leftovers/{id}/discard", Perm: relais.PermProductionPrepare, Tag: tag,
		Summary: "Discard a leftover vial, with a reason", In: relais.ReasonRequest{}, Out: relais.LeftoverVial{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ReasonRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.DiscardLeftover(r.Context(), id, in.Reason)
		})
	s.Handle(Route{Method: "POST", Path: "/leftovers/isolator-check", Perm: relais.PermProductionPrepare, Tag: tag,
		Summary: "End-of-day check: expire the leftovers past their expiry and list what the isolator should hold", Out: relais.IsolatorCheck{}},
		func(r *http.Request) (any, error) { return s.Production.IsolatorCheck(r.Context()) })
	s.Handle(Route{Method: "GET", Path: "/stock", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "Stock lots, earliest expiry first", Out: []relais.StockLot{}, Query: []Param{{Name: "product_id", Description: "one product"}}},
		func(r *http.Request) (any, error) {
			var id relais.ID
			if v := r.URL.Query().Get("product_id"); v != "" {
				var err error
				if id, err = relais.ParseID("product_id", v); err != nil {
					return nil, err
				}
			}
			return s.Production.StockLots(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/stock", Perm: relais.PermStockWrite, Tag: tag, Status: http.StatusCreated,
		Summary: "Receive a lot of a product (lot number, expiry, number of vials)", In: relais.StockReceipt{}, Out: relais.StockLot{}},
		func(r *http.Request) (any, error) {
			var in relais.StockReceipt
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.ReceiveStock(r.Context(), in)
		})
}

func (s *Server) dispensingRoutes() {
	const tag = "Dispensing and administration"
	s.Handle(Route{Method: "POST", Path: "/slips", Perm: relais.PermDispense, Tag: tag, Status: http.StatusCreated,
		Summary: "Make a delivery slip for a ward and round: its preparations become dispensed", In: relais.SlipRequest{}, Out: relais.DeliverySlip{}},
		func(r *http.Request) (any, error) {
			var in relais.SlipRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.CreateSlip(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/slips", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The delivery slips of a day", Out: []relais.DeliverySlip{}, Query: []Param{{Name: "date", Description: "YYYY-MM-DD", Required: true}}},
		func(r *http.Request) (any, error) {
			return s.Production.Slips(r.Context(), relais.Date(r.URL.Query().Get("date")))
		})
	s.Handle(Route{Method: "GET", Path: "/slips/{id}", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "One delivery slip", Out: relais.DeliverySlip{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Production.Slip(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/slips/{id}/receipt", Perm: relais.PermAdministerRecord, Tag: tag,
		Summary: "Record the ward's receipt of a slip (who, when)", In: relais.ReceiptRequest{}, Out: relais.DeliverySlip{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ReceiptRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.ReceiveSlip(r.Context(), id, in)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/administration-plan", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "A patient's administration plan for a day: sequence, times, rates, durations, premedication, hydration",
		Out:     relais.AdministrationPlan{}, Query: []Param{{Name: "day", Description: "YYYY-MM-DD", Required: true}}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Production.AdministrationPlan(r.Context(), id, relais.Date(r.URL.Query().Get("day")))
		})
	s.Handle(Route{Method: "POST", Path: "/preparations/{id}/administration", Perm: relais.PermAdministerRecord, Tag: tag, Status: http.StatusCreated,
		Summary: "Record the administration: the label's DataMatrix and the wristband scanned, times, volume, rate, interruptions, incidents",
		In:      relais.AdministrationRequest{}, Out: relais.Administration{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.AdministrationRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Production.RecordAdministration(r.Context(), id, in)
		})
	// Not given: recorded by the nurse on the ward, or by the pharmacist for
	// a released preparation that never left the pharmacy.
	for _, rt := range []struct {
		path    string
		perm    relais.Permission
		summary string
	}{
		{"/preparations/{id}/not-administered", relais.PermAdministerRecord,
			"Record a preparation not given on the ward: returned or destroyed, with the reason and the cost"},
		{"/preparations/{id}/destroyed-at-pharmacy", relais.PermProductionRelease,
			"Record a released preparation that never left the pharmacy: returned or destroyed, with the reason and the cost"},
	} {
		s.Handle(Route{Method: "POST", Path: rt.path, Perm: rt.perm, Tag: tag, Status: http.StatusCreated, Summary: rt.summary,
			In: relais.NotAdministeredRequest{}, Out: relais.Administration{}},
			func(r *http.Request) (any, error) {
				id, err := PathID(r, "id")
				if err != nil {
					return nil, err
				}
				var in relais.NotAdministeredRequest
				if err := Decode(r, &in); err != nil {
					return nil, err
				}
				return s.Production.RecordNotAdministered(r.Context(), id, in)
			})
	}
	s.Handle(Route{Method: "GET", Path: "/preparations/{id}/administration", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "What was recorded at the bedside for a preparation", Out: relais.Administration{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Production.Administration(r.Context(), id)
		})
	s.Handle(Route{Method: "GET", Path: "/billing/lines", Perm: relais.PermBillingExport, Tag: tag,
		Summary: "A month's liste-en-sus billing lines", Out: []relais.BillingLine{}, Query: []Param{{Name: "month", Description: "YYYY-MM", Required: true}}},
		func(r *http.Request) (any, error) {
			return s.Production.BillingLines(r.Context(), r.URL.Query().Get("month"))
		})
	s.HandleRaw(Route{Method: "GET", Path: "/billing/fichcomp.csv", Perm: relais.PermBillingExport, Tag: tag,
		Summary: "A month's liste-en-sus lines as CSV in the fields of FICHCOMP médicaments (docs/fichcomp.md)",
		Query:   []Param{{Name: "month", Description: "YYYY-MM", Required: true}, {Name: "finess", Description: "the FINESS number to write in each line"}}},
		func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			lines, err := s.Production.BillingLines(r.Context(), q.Get("month"))
			if err != nil {
				s.problem(w, r, err)
				return
			}
			var buf bytesBuffer
			if err := relais.WriteFICHCOMP(&buf, q.Get("finess"), lines); err != nil {
				s.problem(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="fichcomp-med-`+q.Get("month")+`.csv"`)
			w.Write(buf.Bytes())
		})
}
