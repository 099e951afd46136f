package web

import (
	"context"
	"os"

	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// Business continuity over HTTP (docs/continuity.md):
//   - a standby node pulls its site's journal (long-poll) and, once, a
//     snapshot to start from;
//   - any node says where it stands: following (with its lag), in crisis,
//     or neither;
//   - a crisis node keeps its logbook;
//   - the recovered site shows the reintegration's review queue, and a
//     pharmacist resolves each conflict.
//
// The store is the database when it provides these operations (as it does
// for `relais serve`); otherwise the routes answer 503.

// ContinuityStore is what these routes need from the store.
type ContinuityStore interface {
	JournalEntries(ctx context.Context, site string, after int64, limit int) ([]journal.Entry, error)
	Head(ctx context.Context, site string) (sqlstore.ChainHead, error)
	WriteSnapshot(ctx context.Context, w io.Writer, portable bool) (sqlstore.SnapshotInfo, error)
	FollowStateOf(ctx context.Context, site string) (sqlstore.FollowState, error)
	ActiveCrisis(ctx context.Context) (sqlstore.Crisis, error)
	WriteLog(ctx context.Context, role, kind, text string) (sqlstore.LogEntry, error)
	Logbook(ctx context.Context, crisisID relais.ID) ([]sqlstore.LogEntry, error)
	Conflicts(ctx context.Context, all bool) ([]sqlstore.Conflict, error)
	ResolveConflict(ctx context.Context, id relais.ID, choice, note string) (sqlstore.Conflict, error)
	ChainSite() string
	InCrisis() bool
}

// JournalPage answers GET /api/v1/journal.
type JournalPage struct {
	Site    string             `json:"site"`
	Head    sqlstore.ChainHead `json:"head"` // the chain's head now: the follower is up to date when it has applied it
	Entries []journal.Entry    `json:"entries"`
}

// ContinuityStatus answers GET /api/v1/continuity/status.
type ContinuityStatus struct {
	Site       string                `json:"site"`
	Chain      string                `json:"chain"`
	Mode       string                `json:"mode"` // normal, standby, crisis
	Head       sqlstore.ChainHead    `json:"head"`
	Follow     *sqlstore.FollowState `json:"follow,omitempty"`
	LagSeconds *float64              `json:"lag_seconds,omitempty"` // data age of a standby
	Crisis     *sqlstore.Crisis      `json:"crisis,omitempty"`
}

// LogRequest is a new logbook entry.
type LogRequest struct {
	Role string `json:"role" doc:"pilot, editor, coordinator, pharmacist or other (seed 004)"`
	Kind string `json:"kind,omitempty" doc:"entry (default), decision or communication"`
	Text string `json:"text"`
}

// ResolveRequest is a pharmacist's decision on a reintegration conflict.
type ResolveRequest struct {
	Choice string `json:"choice" doc:"keep_main or take_crisis"`
	Note   string `json:"note" doc:"why (kept with the decision)"`
}

// maxWait bounds a long-poll.
const maxWait = 30 * time.Second

func (s *Server) continuity() (ContinuityStore, error) {
	c, ok := s.Users.(ContinuityStore)
	if !ok {
		return nil, relais.E("continuity", relais.KindUnavailable, "this server has no continuity store")
	}
	return c, nil
}

func (s *Server) continuityRoutes() {
	s.Handle(Route{Method: "GET", Path: "/journal", Perm: relais.PermJournalRead, Tag: "Continuity",
		Summary: "A page of a site's journal after a sequence; waits up to `wait` seconds for new entries (standby nodes)",
		Out:     JournalPage{}, Query: []Param{
			{Name: "site", Description: "the chain (default: this site's)"},
			{Name: "after", Description: "the last sequence already held (default 0)"},
			{Name: "limit", Description: "at most this many entries (default 500, at most 5000)"},
			{Name: "wait", Description: "seconds to wait for a new entry when there is none (0 to 30)"}}},
		func(r *http.Request) (any, error) {
			c, err := s.continuity()
			if err != nil {
				return nil, err
			}
			q := r.URL.Query()
			site := q.Get("site")
			if site == "" {
				site = c.ChainSite()
			}
			after, err := queryInt(q.Get("after"), "after", 0, 0, 1<<62)
			if err != nil {
				return nil, err
			}
			limit, err := queryInt(q.Get("limit"), "limit", 500, 1, 5000)
			if err != nil {
				return nil, err
			}
			wait, err := queryInt(q.Get("wait"), "wait", 0, 0, int64(maxWait/time.Second))
			if err != nil {
				return nil, err
			}
			deadline := time.Now().Add(time.Duration(wait) * time.Second)
			for {
				head, err := c.Head(r.Context(), site)
				if err != nil {
					return nil, err
				}
				if head.Seq > after || !time.Now().Before(deadline) {
					entries, err := c.JournalEntries(r.Context(), site, after, int(limit))
					if err != nil {
						return nil, err
					}
					if entries == nil {
						entries = []journal.Entry{}
					}
					return JournalPage{Site: site, Head: head, Entries: entries}, nil
				}
				select {
				case <-r.Context().Done():
					return nil, relais.E("journal.wait", relais.KindUnavailable, "the client went away")
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	s.HandleRaw(Route{Method: "GET", Path: "/snapshot", Perm: relais.PermJournalRead, Tag: "Continuity",
		Summary: "A consistent copy of the whole database, unencrypted (use TLS): a standby node's starting point. Headers say its format and journal head"},
		func(w http.ResponseWriter, r *http.Request) {
			c, err := s.continuity()
			if err != nil {
				s.problem(w, r, err)
				return
			}
			// The payload is written to a temporary file first, so that an
			// error can still be answered as an error, and the headers can
			// carry what the copy holds.
			tmp, err := newTempFile()
			if err != nil {
				s.problem(w, r, err)
				return
			}
			defer tmp.cleanup()
			portable := r.URL.Query().Get("format") == sqlstore.PayloadJSONL
			info, err := c.WriteSnapshot(r.Context(), tmp.f, portable)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			size, err := tmp.rewind()
			if err != nil {
				s.problem(w, r, err)
				return
			}
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Length", strconv.FormatInt(size, 10))
			h.Set("Relais-Snapshot-Site", info.Site)
			h.Set("Relais-Snapshot-Payload", info.Payload)
			h.Set("Relais-Snapshot-Schema", strconv.Itoa(info.Schema))
			h.Set("Relais-Snapshot-Head-Seq", strconv.FormatInt(info.Head.Seq, 10))
			h.Set("Relais-Snapshot-Head-Hash", info.Head.Hash)
			h.Set("Relais-Snapshot-Data-Time", info.DataTime.UTC().Format(time.RFC3339Nano))
			w.WriteHeader(http.StatusOK)
			io.Copy(w, tmp.f)
		})
	s.Handle(Route{Method: "GET", Path: "/continuity/status", Perm: relais.PermSignedIn, Tag: "Continuity",
		Summary: "Where this node stands: normal, standby (with its lag) or crisis", Out: ContinuityStatus{}},
		func(r *http.Request) (any, error) {
			c, err := s.continuity()
			if err != nil {
				return nil, err
			}
			return continuityStatus(r.Context(), s.Site, c)
		})
	s.Handle(Route{Method: "GET", Path: "/crisis/logbook", Perm: relais.PermSignedIn, Tag: "Continuity",
		Summary: "The crisis logbook (journal de bord), oldest first", Out: []sqlstore.LogEntry{}},
		func(r *http.Request) (any, error) {
			c, err := s.continuity()
			if err != nil {
				return nil, err
			}
			cr, err := c.ActiveCrisis(r.Context())
			if err != nil {
				return nil, err
			}
			return c.Logbook(r.Context(), cr.ID)
		})
	s.Handle(Route{Method: "POST", Path: "/crisis/logbook", Perm: relais.PermSignedIn, Tag: "Continuity",
		Summary: "Write in the crisis logbook, by crisis role", In: LogRequest{}, Out: sqlstore.LogEntry{}, Status: http.StatusCreated},
		func(r *http.Request) (any, error) {
			c, err := s.continuity()
			if err != nil {
				return nil, err
			}
			var req LogRequest
			if err := Decode(r, &req); err != nil {
				return nil, err
			}
			return c.WriteLog(r.Context(), req.Role, req.Kind, req.Text)
		})
	s.Handle(Route{Method: "GET", Path: "/reintegration/conflicts", Perm: relais.PermValidate, Tag: "Continuity",
		Summary: "The reintegration review queue: crisis changes made to something the site changed too", Out: []sqlstore.Conflict{},
		Query: []Param{{Name: "all", Description: "true: resolved ones too"}}},
		func(r *http.Request) (any, error) {
			c, err := s.continuity()
			if err != nil {
				return nil, err
			}
			return c.Conflicts(r.Context(), r.URL.Query().Get("all") == "true")
		})
	s.Handle(Route{Method: "POST", Path: "/reintegration/conflicts/{id}/resolve", Perm: relais.PermValidate, Tag: "Continuity",
		Summary: "Resolve a conflict: keep the site's version or take the crisis node's (journaled)", In: ResolveRequest{}, Out: sqlstore.Conflict{}},
		func(r *http.Request) (any, error) {
			c, err := s.continuity()
			if err != nil {
				return nil, err
			}
			var req ResolveRequest
			if err := Decode(r, &req); err != nil {
				return nil, err
			}
			return c.ResolveConflict(r.Context(), relais.ID(r.PathValue("id")), req.Choice, req.Note)
		})
}

// continuityStatus says where a node stands.
func continuityStatus(ctx context.Context, site string, c ContinuityStore) (ContinuityStatus, error) {
	st := ContinuityStatus{Site: site, Chain: c.ChainSite(), Mode: "normal"}
	var err error
	if st.Head, err = c.Head(ctx, c.ChainSite()); err != nil {
		return st, err
	}
	if c.InCrisis() {
		st.Mode = "crisis"
		if cr, err := c.ActiveCrisis(ctx); err == nil {
			st.Crisis = &cr
		}
		return st, nil
	}
	if f, err := c.FollowStateOf(ctx, site); err == nil {
		st.Mode, st.Follow = "standby", &f
		if lag := f.Lag(relais.Now()); lag >= 0 {
			secs := lag.Seconds()
			st.LagSeconds = &secs
		}
	}
	return st, nil
}

func queryInt(v, name string, def, lo, hi int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, relais.Invalid("request.query", name, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// tempFile holds a response body written before it is sent.
type tempFile struct{ f *os.File }

func newTempFile() (*tempFile, error) {
	f, err := os.CreateTemp("", "relais-http-*")
	if err != nil {
		return nil, err
	}
	return &tempFile{f}, nil
}

func (t *tempFile) rewind() (int64, error) {
	n, err := t.f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	_, err = t.f.Seek(0, io.SeekStart)
	return n, err
}

func (t *tempFile) cleanup() {
	t.f.Close()
	os.Remove(t.f.Name())
}
