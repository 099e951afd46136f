package web

import (
	"net/http"
	"sort"

	"github.com/relais-onco/relais"
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

// worklistDays is how far ahead a prescriber sees the cycles due.
const worklistDays = 7

func (s *Server) homePage(w http.ResponseWriter, r *http.Request, p *page) error {
	ctx := r.Context()
	var err error
	v := homeView{Role: p.User.Role, Date: relais.Today()}
	role := p.User.Role
	ws, hasWorklist := s.Treatments.(relais.WorklistService)
	if hasWorklist && (role == relais.RolePrescriber || role == relais.RoleNurse || role == relais.RoleTechnician || role == relais.RolePharmacist) {
		wl, err := ws.Worklist(ctx, relais.WorklistRequest{On: v.Date, HorizonDays: worklistDays, PrescriberID: p.User.ID, PrescriberName: p.User.Name})
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
		if v.Prod, err = s.homeProduction(r, role, v.Date); err != nil {
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
func (s *Server) homeProduction(r *http.Request, role relais.Role, day relais.Date) (*homeProduction, error) {
	ctx := r.Context()
	h := &homeProduction{}
	var all []relais.Preparation
	switch role {
	case relais.RoleTechnician, relais.RoleNurse:
		today, err := s.Production.Preparations(ctx, relais.PreparationFilter{Date: day})
		if err != nil {
			return nil, err
		}
		all = today
	case relais.RolePharmacist:
		for _, st := range []relais.PreparationStatus{relais.PrepPrepared, relais.PrepChecked} {
			ps, err := s.Production.Preparations(ctx, relais.PreparationFilter{Status: st})
			if err != nil {
				return nil, err
			}
			all = append(all, ps...)
		}
	default:
		return nil, nil
	}
	var ids []relais.ID
	for _, pr := range all {
		ids = append(ids, pr.PatientID)
	}
	names, err := s.patientNames(r, ids)
	if err != nil {
		return nil, err
	}
	item := func(pr relais.Preparation) boardItem {
		return boardItem{Preparation: pr, PatientName: names[pr.PatientID].DisplayName()}
	}
	switch role {
	case relais.RoleTechnician:
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
	case relais.RolePharmacist:
		for _, pr := range all {
			if pr.Status == relais.PrepPrepared {
				h.ToCheck = append(h.ToCheck, item(pr))
			} else {
				h.ToRelease = append(h.ToRelease, item(pr))
			}
		}
	case relais.RoleNurse:
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
				g.Patients = append(g.Patients, wardPatient{PatientID: pr.PatientID, Name: names[pr.PatientID].DisplayName(), Items: []relais.Preparation{pr}})
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
			g := wards[w]
			sort.SliceStable(g.Patients, func(i, j int) bool { return g.Patients[i].Name < g.Patients[j].Name })
			h.Wards = append(h.Wards, *g)
		}
	}
	return h, nil
}
