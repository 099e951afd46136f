package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// The network's pages: the patients other sites share with this one (with
// the link proposals a pharmacist decides and each site's data age), a
// remote patient's read-only history, and on the patient page the shares
// of the patient's care and the history across the network on one
// timeline. Every read of another site's data is logged (recordRemote).

func (s *Server) networkPages() {
	s.handlePage("GET /network", relais.PermPatientRead, s.networkPage)
	s.handlePage("GET /network/patients/{site}/{id}", relais.PermPatientRead, s.remotePatientPage)
	s.handlePage("POST /network/links/{id}/decide", relais.PermNetworkLink, s.decideLinkForm)
	s.handlePage("POST /patients/{id}/shares", relais.PermNetworkShare, s.shareForm)
	s.handlePage("POST /patients/{id}/shares/{sid}/revoke", relais.PermNetworkShare, s.revokeShareForm)
}

// networkSection is the patient page's network part.
type networkSection struct {
	Shares    []relais.Share
	Sites     []relais.Site // the other sites, for the share form
	Own       bool          // the patient's record is kept here: it can be shared
	Rows      []networkRow  // the history across the network, newest first (when another site contributes)
	Peers     []peerRow
	Remote    int // entries from other sites
	Cumulated bool
	NowLocal  string
}

type networkRow struct {
	Site, SiteName, ISO, When, What, By, Text, Age string
	Local                                          bool
}

type peerRow struct {
	Site, Name, Age, ISO string
	Stale                bool
}

// staleAfter is when another site's data is shown as old: nothing came from
// it for a day (a site publishes as it works; a quiet day is possible, a
// quiet week is not).
const staleAfter = 24 * time.Hour

func (s *Server) siteNames(ctx context.Context) map[string]string {
	out := map[string]string{}
	if l, ok := s.Users.(interface {
		Sites(context.Context) ([]relais.Site, error)
	}); ok {
		if sites, err := l.Sites(ctx); err == nil {
			for _, x := range sites {
				out[x.ID] = x.Name
			}
		}
	}
	return out
}

// addNetwork fills the patient page's network section: shares, and, when
// other sites' patients are linked to this one, the history across the
// network and the cumulative doses given anywhere.
func (s *Server) addNetwork(r *http.Request, v *patientView, h relais.History, limits []relais.CumulativeLimit, p *page) error {
	n, err := s.network()
	if err != nil {
		return nil // no network records: the page is the site's alone
	}
	ctx := r.Context()
	sec := &networkSection{Own: v.Patient.Site == s.Site, NowLocal: v.NowLocal}
	if sec.Shares, err = n.Shares(ctx, v.Patient.ID); err != nil {
		return err
	}
	names := s.siteNames(ctx)
	if l, ok := s.Users.(interface {
		Sites(context.Context) ([]relais.Site, error)
	}); ok && sec.Own {
		sites, err := l.Sites(ctx)
		if err != nil {
			return err
		}
		for _, x := range sites {
			if x.ID != s.Site {
				sec.Sites = append(sec.Sites, x)
			}
		}
	}
	if len(sec.Shares) == 0 && len(names) <= 1 {
		return nil // a site alone, with no network: no network card
	}
	nh, err := n.NetworkHistory(ctx, v.Patient.ID)
	if err != nil {
		return err
	}
	if err := s.recordRemote(r, remoteReads(nh)...); err != nil {
		return err
	}
	for _, e := range nh.Entries {
		if !e.Local {
			sec.Remote++
		}
	}
	if sec.Remote > 0 {
		for i := len(nh.Entries) - 1; i >= 0; i-- {
			e := nh.Entries[i]
			row := networkRow{Site: e.Site, SiteName: names[e.Site], ISO: p.ISOTime(e.Time), When: p.Time(e.Time),
				What: p.T("net.entity." + e.Entity), By: e.Username, Text: entrySummary(e, p), Local: e.Local}
			if row.SiteName == "" {
				row.SiteName = e.Site
			}
			if !e.Local {
				row.Age = p.Tf("net.received", p.Ago(e.ReceivedAt))
			}
			sec.Rows = append(sec.Rows, row)
		}
		for _, ps := range nh.Sites {
			pr := peerRow{Site: ps.Site, Name: names[ps.Site], ISO: p.ISOTime(ps.ReceivedAt), Age: p.Ago(ps.ReceivedAt),
				Stale: p.Now.Sub(ps.ReceivedAt) > staleAfter}
			if pr.Name == "" {
				pr.Name = ps.Site
			}
			sec.Peers = append(sec.Peers, pr)
		}
	}
	if len(nh.RemotePrescriptions) > 0 {
		all := append(append([]relais.Prescription{}, h.Prescriptions...), nh.RemotePrescriptions...)
		sort.SliceStable(all, func(i, j int) bool { return all[i].StartDate < all[j].StartDate })
		if v.Cumulative, err = relais.CumulativeTotals(all, "", limits); err != nil {
			return err
		}
		v.Chart = anthracyclineChart(relais.History{PatientID: h.PatientID, Treatments: h.Treatments, Prescriptions: all}, limits)
		sec.Cumulated = true
	}
	v.Network = sec
	return nil
}

// entrySummary says in a few words what an entry of the network history
// records.
func entrySummary(e relais.NetworkEntry, p *page) string {
	img := e.Summary
	switch e.Entity {
	case "prescription":
		var parts []string
		for _, l := range img.Lines {
			if l.Status == "refused" || l.Status == "cancelled" {
				continue
			}
			parts = append(parts, fmt.Sprintf("J%d %s %s %s", l.Day, l.INN, p.Num(l.Dose), l.Unit))
		}
		return fmt.Sprintf("%s %s · %s · %s", img.Regimen, p.Tf("cycle.n", img.Cycle), e.Action, strings.Join(parts, " ; "))
	case "treatment":
		return fmt.Sprintf("%s — %s · %s", img.ProtocolCode, img.ProtocolName, img.Status)
	case "preparation":
		return fmt.Sprintf("%s %s %s · %s", img.INN, p.Num(img.Dose), img.Unit, img.Status)
	case "administration":
		return img.Outcome
	case "note":
		return img.Text
	case "network_share":
		return e.Action + " → " + img.ToSite
	case "aid_transfer": // mutual aid (issue 12): drug, dose, state, sites, the support site's numbers
		parts := []string{fmt.Sprintf("%s %s %s", img.INN, p.Num(img.Dose), img.Unit), p.T("aid.status." + img.Status),
			p.Tf("net.aid.sites", img.SupportSite, img.RequesterSite)}
		for _, n := range []string{img.RegisterNumber, img.SlipNumber} {
			if n != "" {
				parts = append(parts, n)
			}
		}
		return strings.Join(parts, " · ")
	}
	return e.Action
}

type networkPageView struct {
	Patients  []remoteRow
	Proposals []proposalRow
	Peers     []peerRow
}

type remoteRow struct {
	Site, SiteName, Name, BirthDate, INS, Age string
	ID                                        relais.ID
	Local                                     relais.ID
	LinkStatus                                string
}

type proposalRow struct {
	Link   relais.PatientLink
	Remote string
	Local  string
}

func (s *Server) networkPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showNetwork(w, r, p, http.StatusOK)
}

func (s *Server) showNetwork(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	n, err := s.network()
	if err != nil {
		return err
	}
	ctx := r.Context()
	names := s.siteNames(ctx)
	rps, err := n.RemotePatients(ctx)
	if err != nil {
		return err
	}
	var v networkPageView
	var reads []relais.RemoteRead
	byKey := map[string]relais.RemotePatient{}
	for _, rp := range rps {
		byKey[rp.Site+"/"+string(rp.Patient.ID)] = rp
		if rp.Revoked {
			continue
		}
		row := remoteRow{Site: rp.Site, SiteName: names[rp.Site], Name: rp.Patient.DisplayName(), BirthDate: p.Date(rp.Patient.BirthDate),
			INS: string(rp.Patient.INS.Status), Age: p.Ago(rp.ReceivedAt), ID: rp.Patient.ID}
		if rp.Link != nil {
			row.Local, row.LinkStatus = rp.Link.LocalPatientID, rp.Link.Status
		}
		v.Patients = append(v.Patients, row)
		reads = append(reads, relais.RemoteRead{OwnerSite: rp.Site, PatientID: rp.Patient.ID})
	}
	if p.Can(string(relais.PermNetworkLink)) {
		ls, err := n.PatientLinks(ctx, relais.LinkProposed)
		if err != nil {
			return err
		}
		for _, l := range ls {
			row := proposalRow{Link: l, Remote: string(l.RemotePatientID), Local: string(l.LocalPatientID)}
			if rp, ok := byKey[l.RemoteSite+"/"+string(l.RemotePatientID)]; ok {
				row.Remote = rp.Patient.DisplayName() + " · " + p.Date(rp.Patient.BirthDate)
			}
			if lp, err := s.Patients.Patient(ctx, l.LocalPatientID); err == nil {
				row.Local = lp.DisplayName() + " · " + p.Date(lp.BirthDate) + " · IPP " + lp.IPP
			}
			v.Proposals = append(v.Proposals, row)
		}
	}
	peers, err := n.Peers(ctx)
	if err != nil {
		return err
	}
	for _, ps := range peers {
		pr := peerRow{Site: ps.Site, Name: names[ps.Site], ISO: p.ISOTime(ps.ReceivedAt), Age: p.Ago(ps.ReceivedAt),
			Stale: p.Now.Sub(ps.ReceivedAt) > staleAfter}
		if pr.Name == "" {
			pr.Name = ps.Site
		}
		v.Peers = append(v.Peers, pr)
	}
	if err := s.recordRemote(r, reads...); err != nil {
		return err
	}
	p.Title = p.T("net.title")
	p.Data = v
	s.renderTemplate(w, r, "network", "layout", status, p)
	return nil
}

type remotePatientPageView struct {
	Patient  relais.RemotePatient
	SiteName string
	Rows     []networkRow
}

func (s *Server) remotePatientPage(w http.ResponseWriter, r *http.Request, p *page) error {
	n, err := s.network()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	site := r.PathValue("site")
	rp, evs, err := n.RemotePatient(r.Context(), site, id)
	if err != nil {
		return err
	}
	if err := s.recordRemote(r, relais.RemoteRead{OwnerSite: site, PatientID: id}); err != nil {
		return err
	}
	v := remotePatientPageView{Patient: rp, SiteName: s.siteNames(r.Context())[site]}
	if v.SiteName == "" {
		v.SiteName = site
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		ne := relais.NetworkEntry{Site: e.Site, Time: e.Time, Action: e.Action, Entity: e.Entity, EntityID: e.EntityID, Summary: relais.SummarizeEntry(e.After)}
		v.Rows = append(v.Rows, networkRow{Site: site, SiteName: v.SiteName, ISO: p.ISOTime(e.Time), When: p.Time(e.Time),
			What: p.T("net.entity." + e.Entity), By: e.Username, Text: entrySummary(ne, p), Age: p.Tf("net.received", p.Ago(e.ReceivedAt))})
	}
	p.Title = rp.Patient.DisplayName() + " — " + v.SiteName
	p.Data = v
	s.renderTemplate(w, r, "network_patient", "layout", http.StatusOK, p)
	return nil
}

func (s *Server) decideLinkForm(w http.ResponseWriter, r *http.Request, p *page) error {
	n, err := s.network()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d := relais.LinkDecision{Accept: r.PostFormValue("decision") == "accept", Note: r.PostFormValue("note")}
	if _, err := n.DecideLink(r.Context(), id, d); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse("link-"+string(id), r.PostForm, err)
		return s.showNetwork(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, "/network", "link_decided")
}

func (s *Server) shareForm(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.patientForm(w, r, p, "share", func(id relais.ID) error {
		const op = "network_share.create"
		n, err := s.network()
		if err != nil {
			return err
		}
		in := relais.ShareInput{ToSite: r.PostFormValue("to_site"), InformedBy: r.PostFormValue("informed_by"),
			InformationNote: r.PostFormValue("information_note")}
		if t, err := parseLocalTime(op, "informed_at", r.PostFormValue("informed_at")); err != nil {
			return err
		} else {
			in.InformedAt = t
		}
		_, err = n.SharePatientCare(r.Context(), id, in)
		return err
	}, "shared")
}

func (s *Server) revokeShareForm(w http.ResponseWriter, r *http.Request, p *page) error {
	sid, err := pathID(r, "sid")
	if err != nil {
		return err
	}
	return s.patientForm(w, r, p, "revoke-"+string(sid), func(id relais.ID) error {
		n, err := s.network()
		if err != nil {
			return err
		}
		_, err = n.RevokeShare(r.Context(), sid, r.PostFormValue("reason"))
		return err
	}, "share_revoked")
}
