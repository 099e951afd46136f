package web

import (
	"net/http"
	"sort"
	"strings"

	"github.com/relais-onco/relais"
)

// Delivery slips (bordereaux de livraison): the released preparations of a
// day to hand to a ward, the slips made, each printable, and the ward's
// receipt.

func (s *Server) slipPages() {
	s.handlePage("GET /slips", relais.PermProductionRead, s.slipsPage)
	s.handlePage("POST /slips", relais.PermDispense, s.createSlip)
	s.handlePage("GET /slips/{id}", relais.PermProductionRead, s.slipPage)
	s.handlePage("POST /slips/{id}/receipt", relais.PermAdministerRecord, s.receiveSlip)
}

type slipsView struct {
	Date   relais.Date
	Ready  []boardItem // released, not yet on a slip
	Slips  []relais.DeliverySlip
	Rounds []string
}

func (s *Server) slipsPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showSlips(w, r, p, http.StatusOK)
}

func (s *Server) showSlips(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	ctx := r.Context()
	day, err := dateParam(r, "date")
	if err != nil {
		day = relais.Today()
	}
	if d := r.PostFormValue("round_date"); d != "" {
		if pd, err := parseDateField("round_date", d); err == nil {
			day = pd
		}
	}
	v := slipsView{Date: day, Rounds: []string{relais.RoundMorning, relais.RoundAfternoon, relais.RoundEvening}}
	ready, err := s.Production.Preparations(ctx, relais.PreparationFilter{Date: day, Status: relais.PrepReleased})
	if err != nil {
		return err
	}
	// Dispensed-as-is preparations (oral, ready to use) go on slips too.
	asIs, err := s.Production.Preparations(ctx, relais.PreparationFilter{Date: day, Status: relais.PrepToPrepare})
	if err != nil {
		return err
	}
	for _, pr := range asIs {
		if pr.Mode == relais.ModeDispensed {
			ready = append(ready, pr)
		}
	}
	var ids []relais.ID
	for _, pr := range ready {
		ids = append(ids, pr.PatientID)
	}
	names, err := s.patientNames(r, ids)
	if err != nil {
		return err
	}
	for _, pr := range ready {
		v.Ready = append(v.Ready, boardItem{Preparation: pr, PatientName: names[pr.PatientID].DisplayName()})
	}
	sort.SliceStable(v.Ready, func(i, j int) bool { return v.Ready[i].PatientName < v.Ready[j].PatientName })
	if v.Slips, err = s.Production.Slips(ctx, day); err != nil {
		return err
	}
	p.Title = p.T("slips.title")
	p.Data = v
	s.renderTemplate(w, r, "slips", "layout", status, p)
	return nil
}

func (s *Server) createSlip(w http.ResponseWriter, r *http.Request, p *page) error {
	req := relais.SlipRequest{Ward: strings.TrimSpace(r.PostFormValue("ward")), Round: r.PostFormValue("round")}
	var err error
	if req.RoundDate, err = parseDateField("round_date", r.PostFormValue("round_date")); err == nil {
		for _, id := range r.PostForm["preparation_ids"] {
			req.PreparationIDs = append(req.PreparationIDs, relais.ID(id))
		}
		var slip relais.DeliverySlip
		if slip, err = s.Production.CreateSlip(r.Context(), req); err == nil {
			return done(w, r, "/slips/"+string(slip.ID), "slip")
		}
	}
	if !refused(err) {
		return err
	}
	p.refuse("slip", r.PostForm, err)
	return s.showSlips(w, r, p, http.StatusUnprocessableEntity)
}

type slipView struct {
	Slip  relais.DeliverySlip
	Items []boardItem
}

func (s *Server) slipPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showSlip(w, r, p, http.StatusOK)
}

func (s *Server) showSlip(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	slip, err := s.Production.Slip(r.Context(), id)
	if err != nil {
		return err
	}
	v := slipView{Slip: slip}
	var pids []relais.ID
	var preps []relais.Preparation
	for _, pid := range slip.PreparationIDs {
		pr, err := s.Production.Preparation(r.Context(), pid)
		if err != nil {
			return err
		}
		preps = append(preps, pr)
		pids = append(pids, pr.PatientID)
	}
	names, err := s.patientNames(r, pids)
	if err != nil {
		return err
	}
	for _, pr := range preps {
		v.Items = append(v.Items, boardItem{Preparation: pr, PatientName: names[pr.PatientID].DisplayName()})
	}
	p.Title = p.Tf("slip.title", slip.Number)
	p.Data = v
	s.renderTemplate(w, r, "slip", "layout", status, p)
	return nil
}

func (s *Server) receiveSlip(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.Production.ReceiveSlip(r.Context(), id, relais.ReceiptRequest{Comment: r.PostFormValue("comment")}); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse("receipt", r.PostForm, err)
		return s.showSlip(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, "/slips/"+string(id), "received")
}
