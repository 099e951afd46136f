package web

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/relais-onco/relais"
)

// The protocol library: protocols and their versions, the lifecycle
// (draft → in_test → active → retired), diffs, and the import/export of a
// version as a documented JSON file (docs/protocols.md).

func (s *Server) protocolRoutes() {
	const tag = "Protocols"
	read, write, approve := relais.PermProtocolRead, relais.PermProtocolWrite, relais.PermProtocolApprove

	s.Handle(Route{Method: "GET", Path: "/protocols", Perm: read, Tag: tag,
		Summary: "The protocol library, by code, with each protocol's versions and their statuses",
		Out:     []relais.ProtocolSummary{},
		Query: []Param{{Name: "population", Description: "paediatric or adult"},
			{Name: "status", Description: "only protocols with a version in this status (draft, in_test, active, retired)"},
			{Name: "q", Description: "text in the code or the name"}}},
		func(r *http.Request) (any, error) {
			q := r.URL.Query()
			f := relais.ProtocolFilter{Population: relais.Population(q.Get("population")),
				Status: relais.VersionStatus(q.Get("status")), Query: q.Get("q")}
			return nonNil(s.Protocols.Protocols(r.Context(), f))
		})
	s.Handle(Route{Method: "POST", Path: "/protocols", Perm: write, Tag: tag, Status: http.StatusCreated,
		Summary: "Create a protocol with its version 1, a draft written by you", In: relais.NewProtocol{}, Out: relais.ProtocolDetail{}},
		func(r *http.Request) (any, error) {
			var in relais.NewProtocol
			if err := decodeStrict(r, &in); err != nil {
				return nil, err
			}
			return s.Protocols.CreateProtocol(r.Context(), in)
		})
	s.Handle(Route{Method: "POST", Path: "/protocols/import", Perm: write, Tag: tag, Status: http.StatusCreated,
		Summary: "Import a protocol document (docs/protocols.md): a new protocol, or a new draft version of the protocol with the same code. " +
			"Every fault is reported with its path (lines[3].dose.kind); nothing is written when there is one",
		In: relais.ProtocolDocument{}, Out: relais.ImportResult{}},
		func(r *http.Request) (any, error) {
			body, err := io.ReadAll(io.LimitReader(r.Body, relais.MaxDocumentBytes+1))
			if err != nil {
				return nil, relais.E("protocol.import", relais.KindInvalid, "the document could not be read", err)
			}
			// Decoded here, validated by the import together with the
			// site's catalogue: every fault comes back at once.
			doc, err := relais.DecodeDocument(body)
			if err != nil {
				return nil, err
			}
			return s.Protocols.ImportProtocol(r.Context(), doc)
		})
	s.Handle(Route{Method: "GET", Path: "/protocols/{id}", Perm: read, Tag: tag,
		Summary: "A protocol with all its versions, oldest first", Out: relais.ProtocolDetail{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Protocols.Protocol(r.Context(), id)
		})
	s.Handle(Route{Method: "PUT", Path: "/protocols/{id}", Perm: write, Tag: tag,
		Summary: "Change a protocol's name and indication (code and population are fixed)",
		In:      relais.ProtocolHeaderUpdate{}, Out: relais.Protocol{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ProtocolHeaderUpdate
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Protocols.UpdateProtocol(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/protocols/{id}/versions", Perm: write, Tag: tag, Status: http.StatusCreated,
		Summary: "Copy a version (any status) into a new draft version", In: relais.NewVersionRequest{}, Out: relais.ProtocolVersion{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.NewVersionRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Protocols.NewVersion(r.Context(), id, in.From)
		})
	s.Handle(Route{Method: "GET", Path: "/protocols/{id}/versions/{n}", Perm: read, Tag: tag,
		Summary: "One version of a protocol, by number", Out: relais.ProtocolVersion{}},
		func(r *http.Request) (any, error) {
			id, n, err := protocolVersionPath(r)
			if err != nil {
				return nil, err
			}
			return s.Protocols.ProtocolVersionByNumber(r.Context(), id, n)
		})
	s.Handle(Route{Method: "PUT", Path: "/protocols/{id}/versions/{n}", Perm: write, Tag: tag,
		Summary: "Replace the content of a draft version; send the revision you read (other statuses are frozen)",
		In:      relais.DraftUpdate{}, Out: relais.ProtocolVersion{}},
		func(r *http.Request) (any, error) {
			v, err := s.versionAt(r)
			if err != nil {
				return nil, err
			}
			var in relais.DraftUpdate
			if err := decodeStrict(r, &in); err != nil {
				return nil, err
			}
			return s.Protocols.UpdateDraft(r.Context(), v.ID, in)
		})
	s.Handle(Route{Method: "POST", Path: "/protocols/{id}/versions/{n}/transition", Perm: approve, Tag: tag,
		Summary: "Move a version: to in_test (submit for test), draft (back for rework, with a comment), " +
			"active (approve: not by its author or an editor; retires the active version) or retired (with a comment)",
		In: relais.VersionTransition{}, Out: relais.ProtocolVersion{}},
		func(r *http.Request) (any, error) {
			v, err := s.versionAt(r)
			if err != nil {
				return nil, err
			}
			var in relais.VersionTransition
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Protocols.TransitionVersion(r.Context(), v.ID, in)
		})
	s.Handle(Route{Method: "GET", Path: "/protocols/{id}/versions/{n}/export", Perm: read, Tag: tag,
		Summary: "A version as a self-contained protocol document (docs/protocols.md), to import at another site",
		Out:     relais.ProtocolDocument{}},
		func(r *http.Request) (any, error) {
			v, err := s.versionAt(r)
			if err != nil {
				return nil, err
			}
			return s.Protocols.ExportVersion(r.Context(), v.ID)
		})
	s.Handle(Route{Method: "GET", Path: "/protocols/{id}/diff", Perm: read, Tag: tag,
		Summary: "Field-by-field changes from one version of a protocol to another", Out: relais.VersionDiff{},
		Query: []Param{{Name: "from", Description: "version number", Required: true},
			{Name: "to", Description: "version number", Required: true}}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			from, err := intParam(r, "from")
			if err != nil {
				return nil, err
			}
			to, err := intParam(r, "to")
			if err != nil {
				return nil, err
			}
			p, err := s.Protocols.Protocol(r.Context(), id)
			if err != nil {
				return nil, err
			}
			a, b := numbered(p, from), numbered(p, to)
			if a == nil {
				return nil, relais.E("protocol.diff", relais.KindNotFound, relais.Field("from"), fmt.Sprintf("%s has no version %d", p.Code, from))
			}
			if b == nil {
				return nil, relais.E("protocol.diff", relais.KindNotFound, relais.Field("to"), fmt.Sprintf("%s has no version %d", p.Code, to))
			}
			return relais.NewVersionDiff(p.Protocol, *a, p.Protocol, *b), nil
		})
	s.Handle(Route{Method: "GET", Path: "/protocol-versions/{id}", Perm: read, Tag: tag,
		Summary: "One protocol version, by id (as prescriptions point at it)", Out: relais.ProtocolVersion{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Protocols.ProtocolVersion(r.Context(), id)
		})
	s.Handle(Route{Method: "GET", Path: "/protocol-versions/diff", Perm: read, Tag: tag,
		Summary: "Field-by-field changes between any two versions, of one protocol or of two (regional harmonisation)",
		Out:     relais.VersionDiff{},
		Query: []Param{{Name: "a", Description: "version id", Required: true},
			{Name: "b", Description: "version id", Required: true}}},
		func(r *http.Request) (any, error) {
			side := func(name string) (relais.Protocol, relais.ProtocolVersion, error) {
				id, err := relais.ParseID(name, r.URL.Query().Get(name))
				if err != nil {
					return relais.Protocol{}, relais.ProtocolVersion{}, err
				}
				v, err := s.Protocols.ProtocolVersion(r.Context(), id)
				if err != nil {
					return relais.Protocol{}, v, relais.E("protocol.diff", relais.Field(name), err)
				}
				p, err := s.Protocols.Protocol(r.Context(), v.ProtocolID)
				return p.Protocol, v, err
			}
			pa, a, err := side("a")
			if err != nil {
				return nil, err
			}
			pb, b, err := side("b")
			if err != nil {
				return nil, err
			}
			return relais.NewVersionDiff(pa, a, pb, b), nil
		})
}

// decodeStrict decodes a protocol body like Decode, but reports every
// unknown field and wrong type at once with its full path
// (content.lines[3].dose.kind): a protocol is a deep document.
func decodeStrict(r *http.Request, v any) error {
	const op = "request.decode"
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return relais.E(op, relais.KindInvalid, "the request body could not be read", err)
	}
	if len(body) > MaxBodyBytes {
		return relais.E(op, relais.KindInvalid, fmt.Sprintf("the request body is larger than %d MiB: send less at once", MaxBodyBytes>>20))
	}
	return relais.DecodeStrict(op, body, v)
}

func protocolVersionPath(r *http.Request) (relais.ID, int, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return "", 0, relais.Invalid("request.path", "n", "%q is not a version number (1, 2, 3…)", r.PathValue("n"))
	}
	return id, n, nil
}

// versionAt reads the version named by /protocols/{id}/versions/{n}.
func (s *Server) versionAt(r *http.Request) (relais.ProtocolVersion, error) {
	id, n, err := protocolVersionPath(r)
	if err != nil {
		return relais.ProtocolVersion{}, err
	}
	return s.Protocols.ProtocolVersionByNumber(r.Context(), id, n)
}

func intParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, relais.Invalid("request.query", name, "%s must be a version number (1, 2, 3…), not %q", name, v)
	}
	return n, nil
}

func numbered(p relais.ProtocolDetail, n int) *relais.ProtocolVersion {
	for i := range p.Versions {
		if p.Versions[i].Number == n {
			return &p.Versions[i]
		}
	}
	return nil
}
