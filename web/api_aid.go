package web

import (
	"context"
	"net/http"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/pdfdoc"
	"github.com/relais-onco/relais/sqlstore"
)

// Mutual aid over HTTP (issue 12, docs/mutual-aid.md): agreements, the
// hand-over of preparations to a support site, the support site's queue,
// shipment and receipt. The decisions and the journal are the store's; the
// messages between the two sites are carried by package aid.

// AidStore is what these routes and pages need from the store.
type AidStore interface {
	SaveAidAgreement(ctx context.Context, in relais.AidAgreementInput) (relais.AidAgreement, error)
	EndAidAgreement(ctx context.Context, id relais.ID, reason string) (relais.AidAgreement, error)
	AidAgreements(ctx context.Context) ([]relais.AidAgreement, error)
	HandOver(ctx context.Context, req relais.AidHandOverRequest) ([]relais.AidTransfer, error)
	HandBack(ctx context.Context, id relais.ID, reason string) (relais.AidTransfer, error)
	AidTransfers(ctx context.Context, f sqlstore.AidTransferFilter) ([]relais.AidTransfer, error)
	AidTransfer(ctx context.Context, id relais.ID) (relais.AidTransfer, error)
	DeclineAid(ctx context.Context, id relais.ID, reason string) (relais.AidTransfer, error)
	ShipAid(ctx context.Context, req relais.AidShipRequest) (relais.DeliverySlip, []relais.AidTransfer, error)
	ReceiveAid(ctx context.Context, req relais.AidReceiveRequest) ([]relais.AidTransfer, error)
	Sites(ctx context.Context) ([]relais.Site, error)
}

// AidReason is the body of an ending or a hand-back.
type AidReason struct {
	Reason string `json:"reason"`
}

// AidShipment answers a shipment: the delivery slip and the transfers.
type AidShipment struct {
	Slip      relais.DeliverySlip  `json:"slip"`
	Transfers []relais.AidTransfer `json:"transfers"`
}

func (s *Server) aid() (AidStore, error) {
	if a, ok := s.Production.(AidStore); ok {
		return a, nil
	}
	if a, ok := s.Users.(AidStore); ok {
		return a, nil
	}
	return nil, relais.E("aid", relais.KindUnavailable, "this server has no mutual-aid store")
}

// aidRoutes registers the API and the pages of mutual aid.
func (s *Server) aidRoutes() {
	const tag = "Mutual aid"
	s.Handle(Route{Method: "GET", Path: "/aid/agreements", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The mutual-aid agreements this site holds: those it recorded, and the copies received as a support site",
		Out:     []relais.AidAgreement{}}, func(r *http.Request) (any, error) {
		a, err := s.aid()
		if err != nil {
			return nil, err
		}
		return nonNil(a.AidAgreements(r.Context()))
	})
	s.Handle(Route{Method: "POST", Path: "/aid/agreements", Perm: relais.PermAidAgreement, Tag: tag, Status: http.StatusCreated,
		Summary: "Record an agreement letting another site prepare for this one (BPP 2023 ch. 5); its copy is sent to that site",
		In:      relais.AidAgreementInput{}, Out: relais.AidAgreement{}}, func(r *http.Request) (any, error) {
		a, err := s.aid()
		if err != nil {
			return nil, err
		}
		var in relais.AidAgreementInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return a.SaveAidAgreement(r.Context(), in)
	})
	s.Handle(Route{Method: "POST", Path: "/aid/agreements/{id}/end", Perm: relais.PermAidAgreement, Tag: tag,
		Summary: "End an agreement (transfers already made go on)", In: AidReason{}, Out: relais.AidAgreement{}},
		func(r *http.Request) (any, error) {
			a, err := s.aid()
			if err != nil {
				return nil, err
			}
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in AidReason
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return a.EndAidAgreement(r.Context(), id, in.Reason)
		})
	s.Handle(Route{Method: "GET", Path: "/aid/transfers", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "Preparations handed over (role requester) or received to prepare (role support)", Out: []relais.AidTransfer{},
		Query: []Param{{Name: "role", Description: "requester or support (default both)"},
			{Name: "status", Description: "handed_over, accepted, in_production, shipped, received, handback_requested, handed_back or refused"}}},
		func(r *http.Request) (any, error) {
			a, err := s.aid()
			if err != nil {
				return nil, err
			}
			q := r.URL.Query()
			role, st := relais.AidRole(q.Get("role")), relais.AidStatus(q.Get("status"))
			if role != "" && role != relais.AidRequester && role != relais.AidSupport {
				return nil, relais.Invalid("aid.transfers", "role", "role %q is unknown: use requester or support", role)
			}
			if _, ok := aidStatuses[st]; st != "" && !ok {
				return nil, relais.Invalid("aid.transfers", "status", "status %q is unknown", st)
			}
			return nonNil(a.AidTransfers(r.Context(), sqlstore.AidTransferFilter{Role: role, Status: st}))
		})
	s.Handle(Route{Method: "GET", Path: "/aid/transfers/{id}", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "One transfer, with what the support site needs to prepare and every step", Out: relais.AidTransfer{}},
		func(r *http.Request) (any, error) {
			a, err := s.aid()
			if err != nil {
				return nil, err
			}
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return a.AidTransfer(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/aid/handover", Perm: relais.PermAidHandOver, Tag: tag, Status: http.StatusCreated,
		Summary: "Hand preparations still to prepare (named, of named prescriptions, or of a period) over to a support site",
		In:      relais.AidHandOverRequest{}, Out: []relais.AidTransfer{}}, func(r *http.Request) (any, error) {
		a, err := s.aid()
		if err != nil {
			return nil, err
		}
		var in relais.AidHandOverRequest
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return a.HandOver(r.Context(), in)
	})
	s.Handle(Route{Method: "POST", Path: "/aid/transfers/{id}/handback", Perm: relais.PermAidHandOver, Tag: tag,
		Summary: "Ask the support site to give a preparation back (refused once it has started preparing)",
		In:      AidReason{}, Out: relais.AidTransfer{}}, func(r *http.Request) (any, error) {
		a, err := s.aid()
		if err != nil {
			return nil, err
		}
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in AidReason
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return a.HandBack(r.Context(), id, in.Reason)
	})
	s.Handle(Route{Method: "POST", Path: "/aid/transfers/{id}/decline", Perm: relais.PermProductionRelease, Tag: tag,
		Summary: "Support site: give up a preparation not yet started (its copy here is cancelled; the requester is told why)",
		In:      AidReason{}, Out: relais.AidTransfer{}}, func(r *http.Request) (any, error) {
		a, err := s.aid()
		if err != nil {
			return nil, err
		}
		id, err := PathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in AidReason
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return a.DeclineAid(r.Context(), id, in.Reason)
	})
	s.Handle(Route{Method: "POST", Path: "/aid/shipments", Perm: relais.PermDispense, Tag: tag, Status: http.StatusCreated,
		Summary: "Support site: ship released preparations to the site they were made for, on one delivery slip",
		In:      relais.AidShipRequest{}, Out: AidShipment{}}, func(r *http.Request) (any, error) {
		a, err := s.aid()
		if err != nil {
			return nil, err
		}
		var in relais.AidShipRequest
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		slip, ts, err := a.ShipAid(r.Context(), in)
		if err != nil {
			return nil, err
		}
		return AidShipment{Slip: slip, Transfers: ts}, nil
	})
	s.Handle(Route{Method: "POST", Path: "/aid/receipts", Perm: relais.PermAidHandOver, Tag: tag,
		Summary: "Requester: receive shipped preparations; they become released here, ready for the wards",
		In:      relais.AidReceiveRequest{}, Out: []relais.AidTransfer{}}, func(r *http.Request) (any, error) {
		a, err := s.aid()
		if err != nil {
			return nil, err
		}
		var in relais.AidReceiveRequest
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return a.ReceiveAid(r.Context(), in)
	})
	s.HandleRaw(Route{Method: "GET", Path: "/aid/transfers/{id}/label.pdf", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "Support site: the label of a preparation made for another site, with both pharmacies (« Préparé par … pour … »)",
		Query:   []Param{{Name: "lang", Description: "fr (default) or en"}, {Name: "size", Description: "100x50 (default), 80x40 or a4"}}},
		s.pdf(func(r *http.Request, lang string) (doc, error) {
			size, err := labelSize(r.URL.Query().Get("size"))
			if err != nil {
				return doc{}, err
			}
			a, err := s.aid()
			if err != nil {
				return doc{}, err
			}
			id, err := PathID(r, "id")
			if err != nil {
				return doc{}, err
			}
			t, err := a.AidTransfer(r.Context(), id)
			if err != nil {
				return doc{}, err
			}
			if t.Role != relais.AidSupport {
				return doc{}, relais.E("aid.label", relais.KindConflict, "this site does not prepare this transfer: "+t.SupportSite+" prints its label")
			}
			ds, err := s.Production.Dossiers(r.Context(), []relais.ID{t.PreparationID})
			if err != nil {
				return doc{}, err
			}
			lb, err := LabelData(ds[0])
			if err != nil {
				return doc{}, err
			}
			return doc{"Étiquette " + ds[0].Preparation.Display(), ds[0].DataTime, func(p *pdfdoc.Pack, st pdfdoc.Stamp) error {
				lb.Stamp = st
				return p.AddLabel(lb, size)
			}}, nil
		}))
	s.aidPages()
}

var aidStatuses = map[relais.AidStatus]bool{relais.AidHandedOver: true, relais.AidAccepted: true, relais.AidInProduction: true,
	relais.AidShipped: true, relais.AidReceived: true, relais.AidHandbackRequested: true, relais.AidHandedBack: true, relais.AidRefused: true}
