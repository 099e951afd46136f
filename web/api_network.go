package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/relais-onco/relais"
)

// The regional network over HTTP (docs/network.md): shares of a patient's
// care, the patients other sites share with this one (read-only), the
// links between them and local patients, a patient's history across the
// network, and what this site knows of each other site's feed.
//
// Every read of another site's data is logged in this site's access log
// and sent to the owning site (relais.NetworkService.RecordRemoteReads);
// nothing here writes another site's data: the copy is read-only.

func (s *Server) network() (relais.NetworkService, error) {
	n, ok := s.Users.(relais.NetworkService)
	if !ok {
		n, ok = s.Patients.(relais.NetworkService)
	}
	if !ok {
		return nil, relais.E("network", relais.KindUnavailable, "this server keeps no network records")
	}
	return n, nil
}

// recordRemote logs reads of remote patients (site and id at that site)
// before answering: an unlogged read is refused.
func (s *Server) recordRemote(r *http.Request, reads ...relais.RemoteRead) error {
	if len(reads) == 0 {
		return nil
	}
	a, ok := relais.ActorFrom(r.Context())
	if !ok {
		return relais.E("access", relais.KindUnauthorized, "sign in first")
	}
	n, err := s.network()
	if err != nil {
		return err
	}
	purpose := r.Header.Get(PurposeHeader)
	if purpose == "" {
		purpose = defaultPurpose(a.Role)
	}
	for i := range reads {
		reads[i].UserID, reads[i].Username, reads[i].Role = a.UserID, a.Username, a.Role
		reads[i].Purpose, reads[i].Route = purpose, r.Pattern
	}
	if err := n.RecordRemoteReads(r.Context(), reads...); err != nil {
		return relais.E("access", relais.KindUnavailable, "the read could not be logged, so it is refused; try again", err)
	}
	return nil
}

// RevokeRequest ends a share.
type RevokeRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) networkRoutes() {
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/shares", Perm: relais.PermNetworkShare, Tag: "Network",
		Summary: "Share the patient's care with a site of the network, once the patient or parents were told",
		In:      relais.ShareInput{}, Out: relais.Share{}, Status: http.StatusCreated},
		func(r *http.Request) (any, error) {
			n, err := s.network()
			if err != nil {
				return nil, err
			}
			return idBody(n.SharePatientCare)(r)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/shares", Perm: relais.PermPatientRead, Tag: "Network",
		Summary: "The patient's shares, revoked ones included", Out: []relais.Share{}},
		func(r *http.Request) (any, error) {
			n, err := s.network()
			if err != nil {
				return nil, err
			}
			return patientRead(s, n.Shares)(r)
		})
	s.Handle(Route{Method: "POST", Path: "/shares/{id}/revoke", Perm: relais.PermNetworkShare, Tag: "Network",
		Summary: "Revoke a share: nothing more is sent; the share stays in the history", In: RevokeRequest{}, Out: relais.Share{}},
		func(r *http.Request) (any, error) {
			n, err := s.network()
			if err != nil {
				return nil, err
			}
			return idBody(func(ctx context.Context, id relais.ID, in RevokeRequest) (relais.Share, error) {
				return n.RevokeShare(ctx, id, in.Reason)
			})(r)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/network-history", Perm: relais.PermPatientRead, Tag: "Network",
		Summary: "The patient's history across the network: this site's entries and the linked patients' of other sites, each with its site and data age",
		Out:     relais.NetworkHistory{}},
		func(r *http.Request) (any, error) {
			h, err := s.readNetworkHistory(r)
			return h, err
		})
	s.Handle(Route{Method: "GET", Path: "/network/patients", Perm: relais.PermPatientRead, Tag: "Network",
		Summary: "The patients other sites share with this one (read-only copy), with their link to a local patient",
		Out:     []relais.RemotePatient{}},
		func(r *http.Request) (any, error) {
			n, err := s.network()
			if err != nil {
				return nil, err
			}
			rps, err := n.RemotePatients(r.Context())
			if err != nil {
				return nil, err
			}
			out := []relais.RemotePatient{}
			var reads []relais.RemoteRead
			for _, rp := range rps {
				if rp.Revoked {
					continue
				}
				out = append(out, rp)
				reads = append(reads, relais.RemoteRead{OwnerSite: rp.Site, PatientID: rp.Patient.ID})
			}
			return out, s.recordRemote(r, reads...)
		})
	s.Handle(Route{Method: "GET", Path: "/network/patients/{site}/{id}", Perm: relais.PermPatientRead, Tag: "Network",
		Summary: "A patient of another site and the entries received about it (read-only)", Out: RemotePatientView{}},
		func(r *http.Request) (any, error) {
			return s.readRemotePatient(r)
		})
	s.Handle(Route{Method: "GET", Path: "/network/links", Perm: relais.PermNetworkLink, Tag: "Network",
		Summary: "Links between remote and local patients (status=proposed: the pharmacist's queue)", Out: []relais.PatientLink{},
		Query: []Param{{Name: "status", Description: "auto, proposed, accepted or rejected (default: all)"}}},
		func(r *http.Request) (any, error) {
			n, err := s.network()
			if err != nil {
				return nil, err
			}
			return n.PatientLinks(r.Context(), r.URL.Query().Get("status"))
		})
	s.Handle(Route{Method: "POST", Path: "/network/links/{id}/decide", Perm: relais.PermNetworkLink, Tag: "Network",
		Summary: "Accept or reject a proposed link (never made automatically without a qualified INS on both sides)",
		In:      relais.LinkDecision{}, Out: relais.PatientLink{}},
		func(r *http.Request) (any, error) {
			n, err := s.network()
			if err != nil {
				return nil, err
			}
			return idBody(n.DecideLink)(r)
		})
	s.Handle(Route{Method: "GET", Path: "/network/peers", Perm: relais.PermPatientRead, Tag: "Network",
		Summary: "What this site knows of each other site's feed: last entry, when it last received (the age of the data), refusals",
		Out:     []relais.PeerState{}},
		func(r *http.Request) (any, error) {
			n, err := s.network()
			if err != nil {
				return nil, err
			}
			return n.Peers(r.Context())
		})
	s.networkPages()
}

// RemotePatientView answers GET /api/v1/network/patients/{site}/{id}.
type RemotePatientView struct {
	Patient relais.RemotePatient `json:"patient"`
	Events  []relais.RemoteEvent `json:"events"`
}

func (s *Server) readRemotePatient(r *http.Request) (RemotePatientView, error) {
	var v RemotePatientView
	n, err := s.network()
	if err != nil {
		return v, err
	}
	site := strings.TrimSpace(r.PathValue("site"))
	id, err := PathID(r, "id")
	if err != nil {
		return v, err
	}
	if v.Patient, v.Events, err = n.RemotePatient(r.Context(), site, id); err != nil {
		return v, err
	}
	return v, s.recordRemote(r, relais.RemoteRead{OwnerSite: site, PatientID: id})
}

// readNetworkHistory reads a local patient's network history: the local
// read is checked and logged like any, and each linked remote patient's
// read is logged and sent to its site.
func (s *Server) readNetworkHistory(r *http.Request) (relais.NetworkHistory, error) {
	var h relais.NetworkHistory
	n, err := s.network()
	if err != nil {
		return h, err
	}
	id, err := PathID(r, "id")
	if err != nil {
		return h, err
	}
	if err := s.recordAccess(r, id); err != nil {
		return h, err
	}
	if h, err = n.NetworkHistory(r.Context(), id); err != nil {
		return h, err
	}
	return h, s.recordRemote(r, remoteReads(h)...)
}

// remoteReads lists the remote patients a network history shows.
func remoteReads(h relais.NetworkHistory) []relais.RemoteRead {
	shown := map[string]bool{}
	for _, e := range h.Entries {
		if !e.Local {
			shown[e.Site] = true
		}
	}
	var out []relais.RemoteRead
	for _, l := range h.Links {
		if shown[l.RemoteSite] {
			out = append(out, relais.RemoteRead{OwnerSite: l.RemoteSite, PatientID: l.RemotePatientID})
		}
	}
	return out
}
