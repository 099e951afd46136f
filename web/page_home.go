package web

import (
	"context"
	"net/http"
	"sort"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// The home page: each role's worklist.

type homeView struct {
	Role relais.Role
	Date relais.Date
	// Prescribers and nurses.
	Worklist *relais.Worklist
	Mine     []relais.WorklistItem
	Others   []relais.WorklistItem
	// Pharmacists.
	Queue  []relais.QueueItem
	Alerts []homeAlert
	// Technicians: the lines validated for today, to prepare.
	ToPrepare []relais.WorklistItem
	// Pharmacists and administrators: versions waiting in the library.
	Protocols []relais.ProtocolSummary
	Users     int
	Drugs     int
	// Production, when this server runs the pharmacy chain.
	Prod *homeProduction
	// Counts are each list's full length by key; Hidden, how many of a
	// list are not shown: a list shows its first homeListMax items, with a
	// link to the rest (?more=KEY, or the board or queue page), unless More
	// names it.
	Counts map[string]int
	Hidden map[string]int
	More   string
}

// homeListMax is how many items a home page's list shows: a home page is
// opened many times a day, and a list longer than a screen is read on its
// own page (the board, the queue) or asked for (?more=).
const homeListMax = 30

// bound keeps the first homeListMax items of a list, unless the request
// asks for all of it, and notes its length and what is left out.
func bound[T any](v *homeView, key string, items []T) []T {
	if _, read := v.Counts[key]; read {
		return items // read up to what is shown, and counted
	}
	v.Counts[key] = len(items)
	if v.More == key || len(items) <= homeListMax {
		return items
	}
	v.Hidden[key] = len(items) - homeListMax
	return items[:homeListMax:homeListMax]
}

// boundLists applies bound to every list of a home page.
func (v *homeView) boundLists() {
	if wl := v.Worklist; wl != nil {
		wl.ToSign = bound(v, "to_sign", wl.ToSign)
		wl.OKToTreat = bound(v, "ok_to_treat", wl.OKToTreat)
		wl.ToPrescribe = bound(v, "to_prescribe", wl.ToPrescribe)
		wl.Today = bound(v, "today", wl.Today)
	}
	v.Mine = bound(v, "mine", v.Mine)
	v.Others = bound(v, "others", v.Others)
	v.ToPrepare = bound(v, "to_prepare", v.ToPrepare)
	v.Queue = bound(v, "queue", v.Queue)
	v.Alerts = bound(v, "alerts", v.Alerts)
	// The production lists are bounded by homeProduction, before their
	// patients are named.
}

// homeProduction is the pharmacy chain as each role's home shows it.
type homeProduction struct {
	Board     []boardColumn // today's board (technicians)
	ToCheck   []boardItem   // prepared, waiting for the second check
	ToRelease []boardItem   // checked, waiting for the pharmacist
	Wards     []wardGroup   // today's preparations by ward (nurses)
}

// wardGroup is one ward's patients of the day; Ward is "" for what has not
// been delivered yet.
type wardGroup struct {
	Ward     string
	Patients []wardPatient
}

type wardPatient struct {
	PatientID relais.ID
	Name      string
	Items     []relais.Preparation
}

// homeAlert is a prescription in the validation queue a pharmacist should
// look at first: a warning overridden, a cumulative limit passed.
type homeAlert struct {
	PrescriptionID relais.ID
	PatientName    string
	Regimen        string
	Cycle          int
	Check          relais.Check
}

// dayToPrepare is a store that reads the day's lines to prepare up to a
// limit, with their number (sqlstore's DayToPrepare).
type dayToPrepare interface {
	DayToPrepare(ctx context.Context, on relais.Date, limit int) ([]relais.WorklistItem, int, error)
}

// worklistDays is how far ahead a prescriber sees the cycles due.
const worklistDays = 7

func (s *Server) homePage(w http.ResponseWriter, r *http.Request, p *page) error {
	ctx := r.Context()
	var err error
	v := homeView{Role: p.User.Role, Date: relais.Today(), Counts: map[string]int{}, Hidden: map[string]int{}, More: r.URL.Query().Get("more")}
	role := p.User.Role
	ws, hasWorklist := s.Treatments.(relais.WorklistService)
	// A technician's home shows the board when this server runs the
	// pharmacy chain, the day's lines to prepare otherwise: read with
	// DayToPrepare when the store has it, up to what is shown.
	board := s.Production != nil && p.Can(string(relais.PermProductionRead))
	tp, hasToPrepare := s.Treatments.(dayToPrepare)
	switch {
	case role == relais.RoleTechnician && board:
		hasWorklist = false
	case role == relais.RoleTechnician && hasToPrepare:
		hasWorklist = false
		limit := homeListMax
		if v.More == "to_prepare" {
			limit = 0
		}
		items, n, err := tp.DayToPrepare(ctx, v.Date, limit)
		if err != nil {
			return err
		}
		v.ToPrepare, v.Counts["to_prepare"] = items, n
		if n > len(items) {
			v.Hidden["to_prepare"] = n - len(items)
		}
	}
	if hasWorklist && (role == relais.RolePrescriber || role == relais.RoleNurse || role == relais.RoleTechnician || role == relais.RolePharmacist) {
		// Each role reads the lists its home shows: a prescriber all of
		// them, a nurse and a technician the day's lines, a pharmacist
		// the days to validate.
		var lists []string
		switch role {
		case relais.RoleNurse, relais.RoleTechnician:
			lists = []string{relais.WorklistToday}
		case relais.RolePharmacist:
			lists = []string{relais.WorklistToValidate}
		}
		wl, err := ws.Worklist(ctx, relais.WorklistRequest{On: v.Date, HorizonDays: worklistDays, PrescriberID: p.User.ID, PrescriberName: p.User.Name, Lists: lists})
		if err != nil {
			return err
		}
		v.Worklist = &wl
		for _, it := range wl.Patients {
			if it.Mine {
				v.Mine = append(v.Mine, it)
			} else {
				v.Others = append(v.Others, it)
			}
		}
		for _, it := range wl.Today {
			var lines []relais.PrescriptionLine
			for _, l := range it.Lines {
				if l.Status == relais.LineValidated && l.Route != string(relais.RoutePO) {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 {
				it.Lines = lines
				v.ToPrepare = append(v.ToPrepare, it)
			}
		}
	}
	if p.Can(string(relais.PermValidate)) {
		if v.Worklist != nil {
			v.Queue = queueOf(v.Worklist.ToValidate)
			seen := map[relais.ID]bool{}
			for _, it := range v.Worklist.ToValidate {
				if seen[it.PrescriptionID] {
					continue
				}
				seen[it.PrescriptionID] = true
				for _, c := range it.Checks {
					v.Alerts = append(v.Alerts, homeAlert{PrescriptionID: it.PrescriptionID, PatientName: it.PatientName, Regimen: it.Regimen, Cycle: it.Cycle, Check: c})
				}
			}
		} else if v.Queue, err = s.Treatments.ValidationQueue(ctx); err != nil {
			return err
		}
	}
	if s.Production != nil && p.Can(string(relais.PermProductionRead)) {
		if v.Prod, err = s.homeProduction(r, &v, role, v.Date); err != nil {
			return err
		}
	}
	if p.Can(string(relais.PermProtocolApprove)) {
		ps, err := s.Protocols.Protocols(ctx, relais.ProtocolFilter{})
		if err != nil {
			return err
		}
		for _, pr := range ps {
			for _, vr := range pr.Versions {
				if vr.Status == relais.VersionDraft || vr.Status == relais.VersionInTest {
					v.Protocols = append(v.Protocols, pr)
					break
				}
			}
		}
	}
	if p.Can(string(relais.PermUserAdmin)) && s.Users != nil {
		us, err := s.Users.Users(ctx)
		if err != nil {
			return err
		}
		v.Users = len(us)
	}
	if p.Can(string(relais.PermCatalogueWrite)) && s.Catalogue != nil {
		ds, err := s.Catalogue.Drugs(ctx)
		if err != nil {
			return err
		}
		v.Drugs = len(ds)
	}
	v.boundLists()
	p.Title = p.T("home.title")
	p.Data = v
	s.renderTemplate(w, r, "home", "layout", http.StatusOK, p)
	return nil
}

// queueOf is the validation queue read from a worklist's days to validate
// (one query for all, where ValidationQueue reads prescription by
// prescription).
func queueOf(days []relais.WorklistItem) []relais.QueueItem {
	q := make([]relais.QueueItem, 0, len(days))
	for _, it := range days {
		q = append(q, relais.QueueItem{PrescriptionID: it.PrescriptionID, PatientID: it.PatientID, PatientName: it.PatientName,
			Regimen: it.Regimen, Cycle: it.Cycle, Day: it.Day, Date: it.Date, Lines: len(it.Lines)})
	}
	sort.SliceStable(q, func(i, j int) bool { return q[i].Date < q[j].Date })
	return q
}

// homeProduction gathers the day's preparations for a role's home.
// Each list is bounded (bound) before its patients are read and named:
// only the patients shown are read and logged.
func (s *Server) homeProduction(r *http.Request, v *homeView, role relais.Role, day relais.Date) (*homeProduction, error) {
	ctx := r.Context()
	h := &homeProduction{}
	var all []relais.Preparation
	// With a store that reads a list up to a limit, a technician's board
	// and a pharmacist's lists read only what they show, and count the rest.
	// A nurse's wards read the day's wards and patients, then the
	// preparations of the patients shown.
	b, limited := s.Production.(boardSectionReader)
	wr, byWard := s.Production.(wardReader)
	byWard = limited && byWard && role == relais.RoleNurse
	limited = limited && (role == relais.RoleTechnician || role == relais.RolePharmacist)
	switch {
	case limited:
		if err := homeLists(ctx, v, h, role, day, b); err != nil {
			return nil, err
		}
	case byWard:
		pairs, err := wr.DayWards(ctx, day)
		if err != nil {
			return nil, err
		}
		index := map[string]int{}
		for _, wp := range pairs {
			i, ok := index[wp.Ward]
			if !ok {
				i = len(h.Wards)
				index[wp.Ward] = i
				h.Wards = append(h.Wards, wardGroup{Ward: wp.Ward})
			}
			h.Wards[i].Patients = append(h.Wards[i].Patients, wardPatient{PatientID: wp.PatientID})
		}
		// Wards by name; what is not delivered yet comes last.
		sort.SliceStable(h.Wards, func(i, j int) bool {
			a, b := h.Wards[i].Ward, h.Wards[j].Ward
			if (a == "") != (b == "") {
				return b == ""
			}
			return a < b
		})
	case role == relais.RoleTechnician, role == relais.RoleNurse:
		today, err := s.listPreparations(ctx, relais.PreparationFilter{Date: day})
		if err != nil {
			return nil, err
		}
		all = today
	case role == relais.RolePharmacist:
		for _, st := range []relais.PreparationStatus{relais.PrepPrepared, relais.PrepChecked} {
			ps, err := s.listPreparations(ctx, relais.PreparationFilter{Status: st})
			if err != nil {
				return nil, err
			}
			all = append(all, ps...)
		}
	default:
		return nil, nil
	}
	item := func(pr relais.Preparation) boardItem {
		return boardItem{Preparation: pr}
	}
	switch {
	case limited:
	case role == relais.RoleTechnician:
		for _, c := range boardColumns {
			col := boardColumn{Key: c.Key}
			for _, pr := range all {
				for _, st := range c.Statuses {
					if pr.Status == st {
						col.Items = append(col.Items, item(pr))
					}
				}
			}
			h.Board = append(h.Board, col)
		}
	case role == relais.RolePharmacist:
		for _, pr := range all {
			if pr.Status == relais.PrepPrepared {
				h.ToCheck = append(h.ToCheck, item(pr))
			} else {
				h.ToRelease = append(h.ToRelease, item(pr))
			}
		}
	case role == relais.RoleNurse:
		wards := map[string]*wardGroup{}
		var order []string
		for _, pr := range all {
			if pr.Status == relais.PrepCancelled || pr.Status == relais.PrepRejected {
				continue
			}
			ward := ""
			if pr.Dispensing != nil {
				ward = pr.Dispensing.Ward
			}
			g, ok := wards[ward]
			if !ok {
				g = &wardGroup{Ward: ward}
				wards[ward] = g
				order = append(order, ward)
			}
			found := false
			for i := range g.Patients {
				if g.Patients[i].PatientID == pr.PatientID {
					g.Patients[i].Items = append(g.Patients[i].Items, pr)
					found = true
				}
			}
			if !found {
				g.Patients = append(g.Patients, wardPatient{PatientID: pr.PatientID, Items: []relais.Preparation{pr}})
			}
		}
		// Wards by name; what is not delivered yet comes last.
		sort.Slice(order, func(i, j int) bool {
			if (order[i] == "") != (order[j] == "") {
				return order[j] == ""
			}
			return order[i] < order[j]
		})
		for _, w := range order {
			h.Wards = append(h.Wards, *wards[w])
		}
	}
	// Bound the lists (read bounded already when limited), then read the
	// names of the patients shown.
	if !limited {
		h.ToCheck = bound(v, "to_check", h.ToCheck)
		h.ToRelease = bound(v, "to_release", h.ToRelease)
		for i := range h.Board {
			h.Board[i].Items = bound(v, "board:"+h.Board[i].Key, h.Board[i].Items)
		}
	}
	var ids []relais.ID
	for _, list := range [][]boardItem{h.ToCheck, h.ToRelease} {
		for _, it := range list {
			ids = append(ids, it.PatientID)
		}
	}
	for _, c := range h.Board {
		for _, it := range c.Items {
			ids = append(ids, it.PatientID)
		}
	}
	// A ward's patients are listed by name: all their names are read, and
	// only the reads of those shown are logged.
	shown := append([]relais.ID(nil), ids...)
	for _, g := range h.Wards {
		for _, pt := range g.Patients {
			ids = append(ids, pt.PatientID)
		}
	}
	names, err := s.patientsOf(r, ids)
	if err != nil {
		return nil, err
	}
	for _, list := range [][]boardItem{h.ToCheck, h.ToRelease} {
		for i := range list {
			list[i].PatientName = names[list[i].PatientID].DisplayName()
		}
	}
	for _, c := range h.Board {
		for i := range c.Items {
			c.Items[i].PatientName = names[c.Items[i].PatientID].DisplayName()
		}
	}
	for gi := range h.Wards {
		g := &h.Wards[gi]
		for i := range g.Patients {
			g.Patients[i].Name = names[g.Patients[i].PatientID].DisplayName()
		}
		sort.SliceStable(g.Patients, func(i, j int) bool { return g.Patients[i].Name < g.Patients[j].Name })
		g.Patients = bound(v, "ward:"+g.Ward, g.Patients)
		for _, pt := range g.Patients {
			shown = append(shown, pt.PatientID)
		}
	}
	if byWard {
		if err := wardItems(ctx, h, day, b); err != nil {
			return nil, err
		}
	}
	if err := s.recordShown(r, names, shown); err != nil {
		return nil, err
	}
	return h, nil
}

// wardReader is a store that lists a day's wards and patients without
// reading their preparations (sqlstore's DayWards).
type wardReader interface {
	DayWards(ctx context.Context, day relais.Date) ([]sqlstore.WardPatient, error)
}

// wardItems reads the day's preparations of the patients shown on a
// nurse's home, neither rejected nor cancelled, and puts each with its
// ward and patient.
func wardItems(ctx context.Context, h *homeProduction, day relais.Date, b boardSectionReader) error {
	var ids []relais.ID
	for _, g := range h.Wards {
		for _, pt := range g.Patients {
			ids = append(ids, pt.PatientID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var live []relais.PreparationStatus
	for _, c := range boardColumns {
		for _, st := range c.Statuses {
			if st != relais.PrepRejected && st != relais.PrepCancelled {
				live = append(live, st)
			}
		}
	}
	preps, _, err := b.BoardList(ctx, sqlstore.BoardQuery{Date: day, Statuses: live, PatientIDs: ids})
	if err != nil {
		return err
	}
	type key struct {
		ward    string
		patient relais.ID
	}
	items := map[key][]relais.Preparation{}
	for _, pr := range preps {
		ward := ""
		if pr.Dispensing != nil {
			ward = pr.Dispensing.Ward
		}
		k := key{ward, pr.PatientID}
		items[k] = append(items[k], pr)
	}
	for gi := range h.Wards {
		g := &h.Wards[gi]
		for i := range g.Patients {
			g.Patients[i].Items = items[key{g.Ward, g.Patients[i].PatientID}]
		}
	}
	return nil
}

// homeLists reads a technician's board of the day, column by column, or a
// pharmacist's preparations to check and to release, each list up to
// homeListMax (all of it when ?more= names it) with its length.
func homeLists(ctx context.Context, v *homeView, h *homeProduction, role relais.Role, day relais.Date, b boardSectionReader) error {
	read := func(key string, q sqlstore.BoardQuery) ([]boardItem, error) {
		if v.More != key {
			q.Limit = homeListMax
		}
		preps, n, err := b.BoardList(ctx, q)
		if err != nil {
			return nil, err
		}
		v.Counts[key] = n
		if n > len(preps) {
			v.Hidden[key] = n - len(preps)
		}
		var items []boardItem
		for _, pr := range preps {
			items = append(items, boardItem{Preparation: pr})
		}
		return items, nil
	}
	var err error
	if role == relais.RoleTechnician {
		for _, c := range boardColumns {
			col := boardColumn{Key: c.Key}
			if col.Items, err = read("board:"+c.Key, sqlstore.BoardQuery{Date: day, Statuses: c.Statuses}); err != nil {
				return err
			}
			h.Board = append(h.Board, col)
		}
		return nil
	}
	if h.ToCheck, err = read("to_check", sqlstore.BoardQuery{Statuses: []relais.PreparationStatus{relais.PrepPrepared}}); err != nil {
		return err
	}
	h.ToRelease, err = read("to_release", sqlstore.BoardQuery{Statuses: []relais.PreparationStatus{relais.PrepChecked}})
	return err
}
