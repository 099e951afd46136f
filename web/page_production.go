package web

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// Production: the day's board, and a preparation's page — its compounding
// proposal (vials and leftover vials, volumes, dilution, stability), its
// worksheet and label, what the technician records, the second person's
// check, and the pharmacist's release or rejection.

func (s *Server) productionPages() {
	if s.Production == nil {
		return
	}
	s.handlePage("GET /production", relais.PermProductionRead, s.productionBoard)
	s.handlePage("GET /preparations/{id}", relais.PermProductionRead, s.preparationPage)
	s.handlePage("POST /preparations/{id}/propose", relais.PermProductionPrepare, s.prepStep("propose"))
	s.handlePage("POST /preparations/{id}/worksheet", relais.PermProductionPrepare, s.prepStep("worksheet"))
	s.handlePage("POST /preparations/{id}/production", relais.PermProductionPrepare, s.recordProduction)
	s.handlePage("POST /preparations/{id}/check", relais.PermProductionCheck, s.prepStep("check"))
	s.handlePage("POST /preparations/{id}/release", relais.PermProductionRelease, s.prepStep("release"))
	s.handlePage("POST /preparations/{id}/reject", relais.PermProductionRelease, s.prepStep("reject"))
	s.handlePage("POST /preparations/{id}/cancel", relais.PermProductionRelease, s.prepStep("cancel"))
	s.handlePage("POST /preparations/{id}/remake", relais.PermProductionRelease, s.prepStep("remake"))
	s.leftoverPages()
	s.slipPages()
	s.administrationPages()
	s.handlePage("POST /production/documents", relais.PermProductionRead, s.startDayDocuments)
	if s.Hoods != nil {
		s.handlePage("POST /preparations/{id}/hood", relais.PermProductionPrepare, s.assignHood)
	}
}

// boardColumns are the board's columns: where each preparation is, in the
// order work flows.
var boardColumns = []struct {
	Key      string
	Statuses []relais.PreparationStatus
}{
	{"to_prepare", []relais.PreparationStatus{relais.PrepToPrepare}},
	{"worksheet_issued", []relais.PreparationStatus{relais.PrepWorksheetIssued}},
	{"prepared", []relais.PreparationStatus{relais.PrepPrepared}},
	{"checked", []relais.PreparationStatus{relais.PrepChecked}},
	{"released", []relais.PreparationStatus{relais.PrepReleased}},
	{"dispensed", []relais.PreparationStatus{relais.PrepDispensed}},
	{"done", []relais.PreparationStatus{relais.PrepAdministered, relais.PrepNotAdministered, relais.PrepRejected, relais.PrepCancelled}},
}

type boardView struct {
	Date relais.Date
	Prev relais.Date
	Next relais.Date
	// Counts are the day's preparations by step of the chain.
	Counts []boardCount
	// Hoods are one section per hood, then the unassigned compounded
	// preparations, each ordered by time; Dispensed lists what leaves as
	// is (no hood).
	Hoods     []boardHood
	Dispensed []boardItem
	// Choices are the active hoods a preparation may be put in.
	Choices []relais.Hood
	Total   int
	// DispensedN is how many leave as is, DispensedHidden how many of them
	// are not shown; Hidden, how many of the day's preparations are not
	// shown in all (each section shows boardSectionMax unless All).
	DispensedN, DispensedHidden, Hidden int
	All                                 bool
}

// boardColumn is one step of the chain with its preparations (the home
// page's summary of the day).
type boardColumn struct {
	Key   string
	Items []boardItem
}

type boardCount struct {
	Key string
	N   int
}

// boardHood is one hood's section of the board (Hood nil: not assigned).
type boardHood struct {
	Hood  *relais.Hood
	Key   string
	Items []boardItem
	// N is the section's number of preparations, Hidden how many of them
	// are not shown.
	N, Hidden int
}

type boardItem struct {
	relais.Preparation
	PatientName string
	// HoodID and Slot are where and when it is planned ("" and zero when
	// not); Assignable says whether its hood may still change.
	HoodID     relais.ID
	Slot       time.Time
	Assignable bool
}

// dateParam reads ?name=YYYY-MM-DD, today when absent; a malformed one is
// refused beside the field.
func dateParam(r *http.Request, name string) (relais.Date, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return relais.Today(), nil
	}
	return parseDateField(name, v)
}

// patientBatch is a store that reads many patients in one go (sqlstore's
// PatientsByID): identity, site and sharing, enough for a name in a list
// and for the scope rule.
type patientBatch interface {
	PatientsByID(ctx context.Context, ids []relais.ID) (map[relais.ID]relais.Patient, error)
}

// patientNames names the patients of a list (a board, a worklist), each
// read once, and logs their reads in one entry of the access log each —
// one write for the whole list. With a store that reads in batches it costs
// a bounded number of queries whatever the list's length; a patient out of
// the reader's scope refuses the list, as reading that patient would.
func (s *Server) patientNames(r *http.Request, ids []relais.ID) (map[relais.ID]relais.Patient, error) {
	out, err := s.patientsOf(r, ids)
	if err != nil {
		return nil, err
	}
	if err := s.recordShown(r, out, ids); err != nil {
		return nil, err
	}
	return out, nil
}

// recordShown logs the reads of the patients of ids (read in got) that a
// page shows, each once, in one write.
func (s *Server) recordShown(r *http.Request, got map[relais.ID]relais.Patient, ids []relais.ID) error {
	seen := make(map[relais.ID]bool, len(ids))
	list := make([]relais.Patient, 0, len(ids))
	for _, id := range ids {
		if p, ok := got[id]; ok && !seen[id] {
			seen[id] = true
			list = append(list, p)
		}
	}
	if len(list) == 0 {
		return nil
	}
	_, err := s.recordPatients(r, list, false)
	return err
}

// patientsOf reads the patients of a list, each once, without logging the
// reads (the caller logs those it shows with recordShown).
func (s *Server) patientsOf(r *http.Request, ids []relais.ID) (map[relais.ID]relais.Patient, error) {
	seen := make(map[relais.ID]bool, len(ids))
	uniq := make([]relais.ID, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	out := make(map[relais.ID]relais.Patient, len(uniq))
	if len(uniq) == 0 {
		return out, nil
	}
	if b, ok := s.Patients.(patientBatch); ok {
		got, err := b.PatientsByID(r.Context(), uniq)
		if err != nil {
			return nil, err
		}
		for _, id := range uniq {
			if _, ok := got[id]; !ok {
				return nil, relais.E("patient.get", relais.KindNotFound, "no patient "+string(id))
			}
		}
		out = got
	} else {
		for _, id := range uniq {
			pt, err := s.Patients.Patient(r.Context(), id)
			if err != nil {
				return nil, err
			}
			out[id] = pt
		}
	}
	return out, nil
}

// boardLister is a store that lists preparations for a list, without the
// records a list does not show (sqlstore's BoardPreparations).
type boardLister interface {
	BoardPreparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error)
}

// listPreparations lists preparations for a board or a home page: with
// the lighter listing when the store has it.
func (s *Server) listPreparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error) {
	if b, ok := s.Production.(boardLister); ok {
		return b.BoardPreparations(ctx, f)
	}
	return s.Production.Preparations(ctx, f)
}

func (s *Server) productionBoard(w http.ResponseWriter, r *http.Request, p *page) error {
	day, err := dateParam(r, "date")
	if err != nil {
		p.refuse("date", r.URL.Query(), err)
		day = relais.Today()
	}
	v, err := s.board(r, day)
	if err != nil {
		return err
	}
	p.Title = p.T("production.title")
	p.Data = v
	s.renderTemplate(w, r, "production", "layout", http.StatusOK, p)
	return nil
}

// board groups a day's preparations by hood, each hood's ordered by time:
// the planned slot, then the register number, then when it was created.
// Finished preparations (administered, cancelled…) go after those still in
// the chain.
func (s *Server) board(r *http.Request, day relais.Date) (boardView, error) {
	v := boardView{Date: day, Prev: day.AddDays(-1), Next: day.AddDays(1)}
	// Each section shows its first boardSectionMax preparations in the
	// order of work, unless the whole day is asked for (?all=1); only the
	// patients shown are read, named and logged.
	v.All = r.URL.Query().Get("all") == "1"
	var err error
	if b, ok := s.Production.(boardSectionReader); ok {
		err = s.boardSections(r, &v, b)
	} else {
		err = s.boardDay(r, &v)
	}
	if err != nil {
		return v, err
	}
	var patients []relais.ID
	for _, h := range v.Hoods {
		for _, it := range h.Items {
			patients = append(patients, it.PatientID)
		}
	}
	for _, it := range v.Dispensed {
		patients = append(patients, it.PatientID)
	}
	names, err := s.patientNames(r, patients)
	if err != nil {
		return v, err
	}
	for i := range v.Hoods {
		for j := range v.Hoods[i].Items {
			it := &v.Hoods[i].Items[j]
			it.PatientName = names[it.PatientID].DisplayName()
		}
	}
	for j := range v.Dispensed {
		it := &v.Dispensed[j]
		it.PatientName = names[it.PatientID].DisplayName()
	}
	return v, nil
}

// boardSectionReader is a store that reads a list of preparations up to a
// limit, with its length, and counts a day's preparations by status, mode
// and hood (sqlstore's BoardList and BoardCounts): a board or a home page
// then reads only what it shows, however long the day.
type boardSectionReader interface {
	BoardList(ctx context.Context, q sqlstore.BoardQuery) ([]relais.Preparation, int, error)
	BoardCounts(ctx context.Context, day relais.Date) ([]sqlstore.BoardCount, error)
}

// boardSections fills the board section by section, each read up to what
// it shows (all of it with ?all=1), the day's counts in one query.
func (s *Server) boardSections(r *http.Request, v *boardView, b boardSectionReader) error {
	ctx := r.Context()
	var hoods []relais.Hood
	var err error
	if s.Hoods != nil {
		if hoods, err = s.Hoods.Hoods(ctx); err != nil {
			return err
		}
	}
	known := make([]relais.ID, 0, len(hoods))
	inHood := map[relais.ID]int{}
	for _, h := range hoods {
		known = append(known, h.ID)
		inHood[h.ID] = 0
	}
	counts, err := b.BoardCounts(ctx, v.Date)
	if err != nil {
		return err
	}
	byStatus := map[relais.PreparationStatus]int{}
	for _, c := range counts {
		v.Total += c.N
		byStatus[c.Status] += c.N
		if _, ok := inHood[c.HoodID]; ok && c.Mode == relais.ModeCompounded {
			inHood[c.HoodID] += c.N
		}
	}
	for _, c := range boardColumns {
		n := 0
		for _, st := range c.Statuses {
			n += byStatus[st]
		}
		v.Counts = append(v.Counts, boardCount{Key: c.Key, N: n})
	}
	limit := boardSectionMax
	if v.All {
		limit = 0
	}
	read := func(q sqlstore.BoardQuery) ([]boardItem, int, error) {
		q.Date, q.Limit = v.Date, limit
		preps, n, err := b.BoardList(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		items := make([]boardItem, 0, len(preps))
		for _, pr := range preps {
			items = append(items, boardItem{Preparation: pr, Assignable: pr.CanAssignHood() == nil})
		}
		return items, n, nil
	}
	// Hoods out of service with nothing planned in them that day are left
	// out; the unassigned section always shows (it is where work arrives).
	var shown []relais.ID
	for i := range hoods {
		h := hoods[i]
		if h.Active {
			v.Choices = append(v.Choices, h)
		}
		if !h.Active && inHood[h.ID] == 0 {
			continue
		}
		sec := boardHood{Hood: &h, Key: string(h.ID)}
		if inHood[h.ID] > 0 {
			if sec.Items, sec.N, err = read(sqlstore.BoardQuery{Section: "hood", HoodID: h.ID}); err != nil {
				return err
			}
			for _, it := range sec.Items {
				shown = append(shown, it.ID)
			}
		}
		v.Hoods = append(v.Hoods, sec)
	}
	unassigned := boardHood{Key: "unassigned"}
	if unassigned.Items, unassigned.N, err = read(sqlstore.BoardQuery{Section: "unassigned", Hoods: known}); err != nil {
		return err
	}
	v.Hoods = append(v.Hoods, unassigned)
	if v.Dispensed, v.DispensedN, err = read(sqlstore.BoardQuery{Section: "dispensed"}); err != nil {
		return err
	}
	// Where and when the preparations shown in a hood are planned.
	if len(shown) > 0 {
		assigned, err := s.Hoods.HoodAssignments(ctx, shown)
		if err != nil {
			return err
		}
		for i := range v.Hoods {
			for j := range v.Hoods[i].Items {
				it := &v.Hoods[i].Items[j]
				if a, ok := assigned[it.ID]; ok {
					it.HoodID, it.Slot = a.HoodID, a.Slot
				}
			}
		}
	}
	for i := range v.Hoods {
		h := &v.Hoods[i]
		sortBoard(h.Items)
		h.Hidden = h.N - len(h.Items)
		v.Hidden += h.Hidden
	}
	v.DispensedHidden = v.DispensedN - len(v.Dispensed)
	v.Hidden += v.DispensedHidden
	return nil
}

// boardDay fills the board from the whole day's preparations, for a store
// without boardSectionReader.
func (s *Server) boardDay(r *http.Request, v *boardView) error {
	ctx := r.Context()
	preps, err := s.listPreparations(ctx, relais.PreparationFilter{Date: v.Date})
	if err != nil {
		return err
	}
	var ids []relais.ID
	for _, pr := range preps {
		ids = append(ids, pr.ID)
	}
	var hoods []relais.Hood
	assigned := map[relais.ID]relais.HoodAssignment{}
	if s.Hoods != nil {
		if hoods, err = s.Hoods.Hoods(ctx); err != nil {
			return err
		}
		if assigned, err = s.Hoods.HoodAssignments(ctx, ids); err != nil {
			return err
		}
	}
	v.Total = len(preps)
	for _, c := range boardColumns {
		n := 0
		for _, pr := range preps {
			if slices.Contains(c.Statuses, pr.Status) {
				n++
			}
		}
		v.Counts = append(v.Counts, boardCount{Key: c.Key, N: n})
	}
	section := map[relais.ID]int{}
	for i := range hoods {
		h := hoods[i]
		if h.Active {
			v.Choices = append(v.Choices, h)
		}
		section[h.ID] = len(v.Hoods)
		v.Hoods = append(v.Hoods, boardHood{Hood: &h, Key: string(h.ID)})
	}
	unassigned := boardHood{Key: "unassigned"}
	for _, pr := range preps {
		it := boardItem{Preparation: pr, Assignable: pr.CanAssignHood() == nil}
		if pr.Mode != relais.ModeCompounded {
			v.Dispensed = append(v.Dispensed, it)
			continue
		}
		a, ok := assigned[pr.ID]
		k, known := section[a.HoodID]
		if !ok || !known {
			unassigned.Items = append(unassigned.Items, it)
			continue
		}
		it.HoodID, it.Slot = a.HoodID, a.Slot
		v.Hoods[k].Items = append(v.Hoods[k].Items, it)
	}
	// Hoods out of service with nothing planned in them that day are left
	// out; the unassigned section always shows (it is where work arrives).
	var out []boardHood
	for _, h := range v.Hoods {
		if h.Hood.Active || len(h.Items) > 0 {
			out = append(out, h)
		}
	}
	v.Hoods = append(out, unassigned)
	cut := func(items []boardItem) ([]boardItem, int) {
		sortBoard(items)
		if v.All || len(items) <= boardSectionMax {
			return items, 0
		}
		return items[:boardSectionMax:boardSectionMax], len(items) - boardSectionMax
	}
	for i := range v.Hoods {
		v.Hoods[i].N = len(v.Hoods[i].Items)
		v.Hoods[i].Items, v.Hoods[i].Hidden = cut(v.Hoods[i].Items)
		v.Hidden += v.Hoods[i].Hidden
	}
	v.DispensedN = len(v.Dispensed)
	v.Dispensed, v.DispensedHidden = cut(v.Dispensed)
	v.Hidden += v.DispensedHidden
	return nil
}

// boardSectionMax is how many preparations a section of the board shows
// (a hood, the unassigned, those dispensed as is): a day's work in order,
// the rest counted and one link away (?all=1). A large unit makes 300 a
// day; a section of hundreds is not read on one screen.
const boardSectionMax = 60

// finished reports whether a preparation has left the chain.
func finished(st relais.PreparationStatus) bool {
	switch st {
	case relais.PrepAdministered, relais.PrepNotAdministered, relais.PrepRejected, relais.PrepCancelled:
		return true
	}
	return false
}

func sortBoard(items []boardItem) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if fa, fb := finished(a.Status), finished(b.Status); fa != fb {
			return fb
		}
		if a.Slot.IsZero() != b.Slot.IsZero() {
			return !a.Slot.IsZero() // planned ones first
		}
		if !a.Slot.Equal(b.Slot) {
			return a.Slot.Before(b.Slot)
		}
		if (a.RegisterNumber == "") != (b.RegisterNumber == "") {
			return a.RegisterNumber != ""
		}
		if a.RegisterNumber != b.RegisterNumber {
			return a.RegisterNumber < b.RegisterNumber
		}
		return a.CreatedAt.Before(b.CreatedAt)
	})
}

// assignHood puts a preparation in a hood from the board's form, with its
// planned time on the board's day.
func (s *Server) assignHood(w http.ResponseWriter, r *http.Request, p *page) error {
	const op = "preparation.assign_hood"
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	f := r.PostForm
	day, err := parseDateField("date", f.Get("date"))
	if err != nil {
		day = relais.Today()
	}
	req := relais.AssignHoodRequest{HoodID: relais.ID(strings.TrimSpace(f.Get("hood_id"))), Reason: f.Get("reason")}
	if t := strings.TrimSpace(f.Get("slot")); t != "" {
		req.Slot, err = parseLocalTime(op, "slot", string(day)+"T"+t)
	}
	if err == nil {
		_, err = s.Hoods.AssignHood(r.Context(), id, req)
	}
	if err != nil {
		if !refused(err) && relais.ErrorKind(err) != relais.KindForbidden {
			return err
		}
		p.refuseForm("hood-"+string(id), f, err)
		v, berr := s.board(r, day)
		if berr != nil {
			return berr
		}
		p.Title = p.T("production.title")
		p.Data = v
		s.renderTemplate(w, r, "production", "layout", StatusOf(relais.ErrorKind(err)), p)
		return nil
	}
	return doneAt(w, r, "/production?date="+string(day), "prep-"+string(id), "hood_assigned")
}

// relabel names a refused form's fields with this form's own labels (the
// shared catalog may label the same field name for another form).
func relabel(p *page, keys map[string]string) {
	if p.Form == nil {
		return
	}
	for i, e := range p.Form.Errors {
		if k, ok := keys[e.Field]; ok {
			p.Form.Errors[i].Label = p.T(k)
		}
	}
}

type preparationView struct {
	Prep           relais.Preparation
	Patient        relais.Patient
	Prescription   relais.Prescription
	Line           *relais.PrescriptionLine
	Next           []relais.PreparationStatus
	Lots           map[relais.ID][]relais.StockLot // product → lots in stock, for the record form
	Administration *relais.Administration
	Today          relais.Date
	// Hood and Assignment say where and when a compounded preparation is
	// planned (nil when it is not assigned, or the site has no hoods).
	Hood       *relais.Hood
	Assignment *relais.HoodAssignment
}

func (s *Server) loadPreparation(r *http.Request) (*preparationView, error) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	pr, err := s.Production.Preparation(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &preparationView{Prep: pr, Next: pr.Mode.Next(pr.Status), Lots: map[relais.ID][]relais.StockLot{}, Today: relais.Today()}
	if v.Patient, err = s.readPatient(r, pr.PatientID); err != nil {
		return nil, err
	}
	if v.Prescription, err = s.Treatments.Prescription(ctx, pr.PrescriptionID); err != nil {
		return nil, err
	}
	v.Line = v.Prescription.Line(pr.LineID)
	if pr.Status == relais.PrepWorksheetIssued && pr.Plan != nil {
		for _, d := range pr.Plan.Draws {
			if d.Leftover || v.Lots[d.ProductID] != nil {
				continue
			}
			lots, err := s.Production.StockLots(ctx, d.ProductID)
			if err != nil {
				return nil, err
			}
			v.Lots[d.ProductID] = lots
		}
	}
	if s.Hoods != nil && pr.Mode == relais.ModeCompounded {
		as, err := s.Hoods.HoodAssignments(ctx, []relais.ID{pr.ID})
		if err != nil {
			return nil, err
		}
		if a, ok := as[pr.ID]; ok {
			h, err := s.Hoods.Hood(ctx, a.HoodID)
			if err != nil {
				return nil, err
			}
			v.Hood, v.Assignment = &h, &a
		}
	}
	if pr.Status == relais.PrepAdministered || pr.Status == relais.PrepNotAdministered {
		if a, err := s.Production.Administration(ctx, pr.ID); err == nil {
			v.Administration = &a
		} else if relais.ErrorKind(err) != relais.KindNotFound {
			return nil, err
		}
	}
	return v, nil
}

func (s *Server) preparationPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showPreparation(w, r, p, http.StatusOK)
}

func (s *Server) showPreparation(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v, err := s.loadPreparation(r)
	if err != nil {
		return err
	}
	p.Title = p.Tf("prep.title", v.Prep.INN, v.Prep.Display())
	p.Data = v
	s.renderTemplate(w, r, "preparation", "layout", status, p)
	return nil
}

// prepStep applies one step of a preparation's chain from a form.
func (s *Server) prepStep(step string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *page) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		ctx, prod := r.Context(), s.Production
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		var out relais.Preparation
		switch step {
		case "propose":
			out, err = prod.ProposePreparation(ctx, id)
		case "worksheet":
			out, err = prod.IssueWorksheet(ctx, id)
		case "check":
			out, err = prod.CheckPreparation(ctx, id, relais.CheckRequest{Comment: r.PostFormValue("comment")})
		case "release":
			out, err = prod.ReleasePreparation(ctx, id, relais.ReleaseRequest{Comment: r.PostFormValue("comment"),
				IndicationCode: strings.TrimSpace(r.PostFormValue("indication_code"))})
		case "reject":
			out, err = prod.RejectPreparation(ctx, id, reason)
		case "cancel":
			out, err = prod.CancelPreparation(ctx, id, reason)
		case "remake":
			out, err = prod.RemakePreparation(ctx, id)
		}
		if err != nil {
			if !refused(err) && relais.ErrorKind(err) != relais.KindForbidden {
				return err
			}
			p.refuse(step, r.PostForm, err)
			return s.showPreparation(w, r, p, StatusOf(relais.ErrorKind(err)))
		}
		return done(w, r, "/preparations/"+string(out.ID), "prep_"+step)
	}
}

// recordProduction reads the record form: for each vial of the plan, the
// lot (or leftover) and the volume measured or the mass weighed; the
// leftover vials kept; the final volume.
func (s *Server) recordProduction(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	const op = "preparation.record"
	f := r.PostForm
	var req relais.ProductionRequest
	var errs []error
	n, _ := strconv.Atoi(f.Get("vials"))
	for i := 0; i < n && i < 100; i++ {
		k := "vial" + strconv.Itoa(i) + "_"
		in := relais.UsedVialInput{LeftoverID: relais.ID(f.Get(k + "leftover_id")), LotID: relais.ID(f.Get(k + "lot_id"))}
		if m := strings.TrimSpace(f.Get(k + "mass_g")); m != "" {
			v, err := parseNumber(op, "vials["+strconv.Itoa(i)+"].mass_g", m)
			if err != nil {
				errs = append(errs, err)
			}
			in.MassG = &v
		} else {
			v, err := parseNumber(op, "vials["+strconv.Itoa(i)+"].volume_ml", f.Get(k+"volume_ml"))
			if err != nil {
				errs = append(errs, err)
			}
			in.VolumeML = v
		}
		req.Vials = append(req.Vials, in)
	}
	m, _ := strconv.Atoi(f.Get("leftovers"))
	for i := 0; i < m && i < 100; i++ {
		k := "leftover" + strconv.Itoa(i) + "_"
		if f.Get(k+"keep") != "on" {
			continue
		}
		v, err := parseNumber(op, "leftovers["+strconv.Itoa(i)+"].remaining_volume_ml", f.Get(k+"remaining_volume_ml"))
		if err != nil {
			errs = append(errs, err)
		}
		req.Leftovers = append(req.Leftovers, relais.LeftoverInput{LotID: relais.ID(f.Get(k + "lot_id")),
			RemainingVolumeML: v, Storage: strings.TrimSpace(f.Get(k + "storage"))})
	}
	if fv := strings.TrimSpace(f.Get("final_volume_ml")); fv != "" {
		v, err := parseNumber(op, "final_volume_ml", fv)
		if err != nil {
			errs = append(errs, err)
		}
		req.FinalVolumeML = v
	}
	req.Comment = f.Get("comment")
	err = relais.Errors(op, errs)
	if err == nil {
		_, err = s.Production.RecordProduction(r.Context(), id, req)
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuse("production", r.PostForm, err)
		return s.showPreparation(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, "/preparations/"+string(id), "prep_production")
}

// HourMin is a time's hour and minute in the display zone ("08:30").
func (p *page) HourMin(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(relais.DisplayZone).Format("15:04")
}
