package web

import (
	"net/http"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// Mutual aid pages (docs/mutual-aid.md), one per side:
//   - /aid, the site asking for help: its agreements, the hand-over form
//     (preparations still to prepare, or a period), its requests with their
//     state, the hand-back and the receipt of what was shipped;
//   - /aid/incoming, the support site: the preparations received to
//     prepare (each opens in the usual production pages), their labels with
//     both pharmacies, and the shipment on one delivery slip.

func (s *Server) aidPages() {
	if s.Production == nil {
		return
	}
	s.handlePage("GET /aid", relais.PermProductionRead, s.aidPage)
	s.handlePage("POST /aid/agreements", relais.PermAidAgreement, s.aidAgreementForm)
	s.handlePage("POST /aid/agreements/{id}/end", relais.PermAidAgreement, s.aidEndForm)
	s.handlePage("POST /aid/handover", relais.PermAidHandOver, s.aidHandOverForm)
	s.handlePage("POST /aid/transfers/{id}/handback", relais.PermAidHandOver, s.aidHandBackForm)
	s.handlePage("POST /aid/receipts", relais.PermAidHandOver, s.aidReceiveForm)
	s.handlePage("GET /aid/incoming", relais.PermProductionRead, s.aidIncomingPage)
	s.handlePage("POST /aid/shipments", relais.PermDispense, s.aidShipForm)
	s.handlePage("POST /aid/transfers/{id}/decline", relais.PermProductionRelease, s.aidDeclineForm)
}

type aidView struct {
	Agreements []relais.AidAgreement
	Supports   []string             // sites with an active agreement to prepare for this one
	ToPrepare  []relais.Preparation // compounded, still to prepare, not handed over
	Transfers  []relais.AidTransfer
	Released   map[relais.ID]bool // support side: the preparation is released (ready to ship)
	SiteNames  map[string]string
}

func (v aidView) SiteName(id string) string {
	if n := v.SiteNames[id]; n != "" {
		return n
	}
	return id
}

func (s *Server) aidView(r *http.Request, role relais.AidRole) (aidView, error) {
	a, err := s.aid()
	if err != nil {
		return aidView{}, err
	}
	ctx := r.Context()
	v := aidView{SiteNames: map[string]string{}, Released: map[relais.ID]bool{}}
	if v.Agreements, err = a.AidAgreements(ctx); err != nil {
		return v, err
	}
	if v.Transfers, err = a.AidTransfers(ctx, sqlstore.AidTransferFilter{Role: role}); err != nil {
		return v, err
	}
	if sites, err := a.Sites(ctx); err == nil {
		for _, x := range sites {
			v.SiteNames[x.ID] = x.Name
		}
	}
	seen := map[string]bool{}
	for _, g := range v.Agreements {
		if g.RequesterSite == s.Site && g.Status == relais.AgreementActive && !seen[g.SupportSite] {
			seen[g.SupportSite] = true
			v.Supports = append(v.Supports, g.SupportSite)
		}
	}
	if role == relais.AidRequester {
		out := map[relais.ID]bool{}
		for _, t := range v.Transfers {
			if t.Status.Live() {
				out[t.PreparationID] = true
			}
		}
		preps, err := s.Production.Preparations(ctx, relais.PreparationFilter{Status: relais.PrepToPrepare})
		if err != nil {
			return v, err
		}
		for _, p := range preps {
			if p.Mode == relais.ModeCompounded && !out[p.ID] {
				v.ToPrepare = append(v.ToPrepare, p)
			}
		}
	} else {
		for _, t := range v.Transfers {
			if t.Status == relais.AidInProduction {
				if p, err := s.Production.Preparation(ctx, t.PreparationID); err == nil && p.Status == relais.PrepReleased {
					v.Released[t.ID] = true
				}
			}
		}
	}
	return v, nil
}

func (s *Server) aidPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showAid(w, r, p, http.StatusOK)
}

func (s *Server) showAid(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v, err := s.aidView(r, relais.AidRequester)
	if err != nil {
		return err
	}
	p.Title = p.T("aid.title")
	p.Data = v
	s.renderTemplate(w, r, "aid", "layout", status, p)
	return nil
}

func (s *Server) aidIncomingPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showAidIncoming(w, r, p, http.StatusOK)
}

func (s *Server) showAidIncoming(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v, err := s.aidView(r, relais.AidSupport)
	if err != nil {
		return err
	}
	p.Title = p.T("aid.incoming.title")
	p.Data = v
	s.renderTemplate(w, r, "aid_incoming", "layout", status, p)
	return nil
}

// aidForm runs a form's action; a refusal shows the page again with the
// error beside the form.
func (s *Server) aidForm(w http.ResponseWriter, r *http.Request, p *page, form, back, flash string, act func() error) error {
	if err := r.ParseForm(); err != nil {
		return relais.E("page", relais.KindInvalid, "the form cannot be read", err)
	}
	if err := act(); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse(form, r.PostForm, err)
		if back == "/aid/incoming" {
			return s.showAidIncoming(w, r, p, http.StatusUnprocessableEntity)
		}
		return s.showAid(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, back, flash)
}

func (s *Server) aidAgreementForm(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.aidForm(w, r, p, "agreement", "/aid", "aid_agreement", func() error {
		a, err := s.aid()
		if err != nil {
			return err
		}
		in := relais.AidAgreementInput{SupportSite: r.PostFormValue("support_site"), AllDrugs: r.PostFormValue("all_drugs") == "on",
			ValidFrom: relais.Date(r.PostFormValue("valid_from")), ValidTo: relais.Date(r.PostFormValue("valid_to")),
			Reference: r.PostFormValue("reference")}
		for _, f := range strings.FieldsFunc(r.PostFormValue("inns"), func(c rune) bool { return c == ',' || c == ';' || c == '\n' }) {
			if f = strings.TrimSpace(f); f != "" {
				in.INNs = append(in.INNs, f)
			}
		}
		_, err = a.SaveAidAgreement(r.Context(), in)
		return err
	})
}

func (s *Server) aidEndForm(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.aidForm(w, r, p, "end-"+string(id), "/aid", "aid_ended", func() error {
		a, err := s.aid()
		if err != nil {
			return err
		}
		_, err = a.EndAidAgreement(r.Context(), id, r.PostFormValue("reason"))
		return err
	})
}

func formIDs(r *http.Request, name string) []relais.ID {
	var out []relais.ID
	for _, v := range r.PostForm[name] {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, relais.ID(v))
		}
	}
	return out
}

func (s *Server) aidHandOverForm(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.aidForm(w, r, p, "handover", "/aid", "aid_handed_over", func() error {
		a, err := s.aid()
		if err != nil {
			return err
		}
		_, err = a.HandOver(r.Context(), relais.AidHandOverRequest{SupportSite: r.PostFormValue("support_site"),
			PreparationIDs: formIDs(r, "preparation_ids"), From: relais.Date(r.PostFormValue("from")), To: relais.Date(r.PostFormValue("to")),
			Ward: r.PostFormValue("ward"), Reason: r.PostFormValue("reason")})
		return err
	})
}

func (s *Server) aidHandBackForm(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.aidForm(w, r, p, "handback-"+string(id), "/aid", "aid_handback", func() error {
		a, err := s.aid()
		if err != nil {
			return err
		}
		_, err = a.HandBack(r.Context(), id, r.PostFormValue("reason"))
		return err
	})
}

func (s *Server) aidReceiveForm(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.aidForm(w, r, p, "receive", "/aid", "aid_received", func() error {
		a, err := s.aid()
		if err != nil {
			return err
		}
		_, err = a.ReceiveAid(r.Context(), relais.AidReceiveRequest{TransferIDs: formIDs(r, "transfer_ids"), Comment: r.PostFormValue("comment")})
		return err
	})
}

func (s *Server) aidShipForm(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.aidForm(w, r, p, "ship", "/aid/incoming", "aid_shipped", func() error {
		a, err := s.aid()
		if err != nil {
			return err
		}
		_, _, err = a.ShipAid(r.Context(), relais.AidShipRequest{TransferIDs: formIDs(r, "transfer_ids")})
		return err
	})
}

func (s *Server) aidDeclineForm(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.aidForm(w, r, p, "decline-"+string(id), "/aid/incoming", "aid_declined", func() error {
		a, err := s.aid()
		if err != nil {
			return err
		}
		_, err = a.DeclineAid(r.Context(), id, r.PostFormValue("reason"))
		return err
	})
}
