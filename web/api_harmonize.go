package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/harmonize"
)

// Protocol harmonisation across the network (package harmonize,
// docs/harmonisation.md): the other sites' protocol versions, as this site
// last received them, matched with the local library and compared field by
// field; and the adoption of one of them as a new local draft.

// remoteLibrary is this site's copy of the other sites' published versions
// (the database provides it).
type remoteLibrary interface {
	RemoteVersions(ctx context.Context) ([]harmonize.Version, error)
}

// harmonizeRoutes registers the harmonisation API and pages.
func (s *Server) harmonizeRoutes() {
	const tag = "Harmonisation"
	compare, adopt := relais.PermProtocolCompare, relais.PermProtocolAdopt
	s.Handle(Route{Method: "GET", Path: "/harmonize", Perm: compare, Tag: tag,
		Summary: "The other sites' active and in-test protocol versions, as this site last received them, each matched with a local protocol " +
			"(by code, or proposed by name or indication) and compared field by field with its active version (from here to there)",
		Out: []harmonize.Regimen{}},
		func(r *http.Request) (any, error) {
			remote, locals, err := s.harmonizeData(r.Context())
			if err != nil {
				return nil, err
			}
			return harmonize.Regimens(remote, locals), nil
		})
	s.Handle(Route{Method: "GET", Path: "/harmonize/version", Perm: compare, Tag: tag,
		Summary: "One version of another site compared with this site's matching protocol",
		Out:     harmonize.Comparison{},
		Query: []Param{{Name: "site", Description: "the other site's id", Required: true},
			{Name: "code", Description: "the protocol's code at that site", Required: true},
			{Name: "number", Description: "the version's number at that site", Required: true}}},
		func(r *http.Request) (any, error) {
			q := r.URL.Query()
			n, _ := strconv.Atoi(q.Get("number"))
			return s.harmonizeComparison(r.Context(), q.Get("site"), q.Get("code"), n)
		})
	s.Handle(Route{Method: "POST", Path: "/harmonize/adopt", Perm: adopt, Tag: tag, Status: http.StatusCreated,
		Summary: "Adopt another site's version as a new local draft (a new version of the matching protocol, or a new protocol), " +
			"through the protocol import: then tested and activated by a second person as usual",
		In: AdoptRequest{}, Out: relais.ImportResult{}},
		func(r *http.Request) (any, error) {
			var in AdoptRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.adoptVersion(r.Context(), in)
		})
	s.harmonizePages()
}

// AdoptRequest names the version to adopt.
type AdoptRequest struct {
	Site   string `json:"site" doc:"the other site's id"`
	Code   string `json:"code" doc:"the protocol's code at that site"`
	Number int    `json:"number" doc:"the version's number at that site"`
	// Into confirms a proposed match (by name or indication): the id of the
	// local protocol the draft becomes a version of. Empty: a new protocol
	// — or, when the codes match, a new version of the protocol with that
	// code (a match by code needs no confirmation).
	Into relais.ID `json:"into,omitempty" doc:"for a proposed match, the local protocol the draft becomes a version of; empty for a new protocol"`
}

func (s *Server) harmonizeData(ctx context.Context) ([]harmonize.Version, []harmonize.Local, error) {
	rl, ok := s.Protocols.(remoteLibrary)
	if !ok {
		return nil, nil, relais.E("harmonize", relais.KindUnavailable, "this server keeps no copy of the network's protocol libraries")
	}
	remote, err := rl.RemoteVersions(ctx)
	if err != nil {
		return nil, nil, err
	}
	locals, err := harmonize.LocalLibrary(ctx, s.Protocols)
	if err != nil {
		return nil, nil, err
	}
	return remote, locals, nil
}

func (s *Server) harmonizeComparison(ctx context.Context, site, code string, number int) (harmonize.Comparison, error) {
	remote, locals, err := s.harmonizeData(ctx)
	if err != nil {
		return harmonize.Comparison{}, err
	}
	v, err := harmonize.Find(remote, site, code, number)
	if err != nil {
		return harmonize.Comparison{}, err
	}
	l, m := harmonize.MatchVersion(v, locals)
	return harmonize.Compare(v, l, m), nil
}

func (s *Server) adoptVersion(ctx context.Context, in AdoptRequest) (relais.ImportResult, error) {
	const op = "harmonize.adopt"
	c, err := s.harmonizeComparison(ctx, in.Site, in.Code, in.Number)
	if err != nil {
		return relais.ImportResult{}, err
	}
	var into *relais.Protocol
	switch {
	case c.Match != nil && c.Match.Kind == harmonize.MatchCode:
		into = &c.Local.Protocol
	case in.Into == "":
		// a new protocol with the other site's code and header
	case c.Local != nil && c.Local.Protocol.ID == in.Into:
		into = &c.Local.Protocol
	default:
		return relais.ImportResult{}, relais.Invalid(op, "into",
			"version %d of %s at %s was not matched with that protocol: adopt it as a new protocol, or copy it by hand", in.Number, in.Code, in.Site)
	}
	return harmonize.Adopt(ctx, s.Protocols, c.Remote, into)
}
