package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/relais-onco/relais"
)

// Long work in the background, with its progress on a page: a production
// day's documents (every worksheet, label and delivery slip in one PDF) and
// a protocol import. The form starts the job and opens its page; the page
// shows where the job is (htmx asks again every second; without script, the
// page reloads itself) and, once done, the file or the result. A job lives
// in memory for an hour: a restart only makes someone click again.

type job struct {
	id       string
	owner    relais.ID
	kind     string // i18n key of what is being made
	subject  string // e.g. the day, the file name
	started  time.Time
	mu       sync.Mutex
	step     int // progress, when the work can count it
	of       int
	note     string
	finished time.Time
	err      error
	ref      string // the error's reference in the log
	file     []byte
	filename string
	result   string // a page to go to once done
}

// jobView is what job.html shows.
type jobView struct {
	ID       string
	Kind     string
	Subject  string
	Step, Of int
	Note     string
	Elapsed  time.Duration
	Done     bool
	Failed   bool
	Message  string
	Ref      string
	Filename string
	Size     int
	Result   string
}

var jobs = struct {
	sync.Mutex
	m map[string]*job
}{m: map[string]*job{}}

// jobTTL is how long a finished job's result is kept.
const jobTTL = time.Hour

// progress reports a job's progress from inside its work.
type progress func(step, of int, note string)

// startJob runs work in the background as the request's actor and returns
// the job; work's context outlives the request (not the server's life:
// five minutes at most).
func (s *Server) startJob(r *http.Request, kind, subject string, work func(ctx context.Context, report progress) (file []byte, filename, result string, err error)) *job {
	a := Actor(r)
	j := &job{id: errorRef() + errorRef(), owner: a.UserID, kind: kind, subject: subject, started: time.Now()}
	jobs.Lock()
	for id, old := range jobs.m {
		old.mu.Lock()
		stale := !old.finished.IsZero() && time.Since(old.finished) > jobTTL
		old.mu.Unlock()
		if stale {
			delete(jobs.m, id)
		}
	}
	jobs.m[j.id] = j
	jobs.Unlock()
	ctx, cancel := context.WithTimeout(relais.WithActor(context.Background(), a), 5*time.Minute)
	go func() {
		defer cancel()
		defer func() {
			if v := recover(); v != nil {
				j.finish(nil, "", "", fmt.Errorf("panic: %v", v), s)
			}
		}()
		file, name, result, err := work(ctx, func(step, of int, note string) {
			j.mu.Lock()
			j.step, j.of, j.note = step, of, note
			j.mu.Unlock()
		})
		j.finish(file, name, result, err, s)
	}()
	return j
}

func (j *job) finish(file []byte, filename, result string, err error, s *Server) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.finished = time.Now()
	j.file, j.filename, j.result, j.err = file, filename, result, err
	if err != nil && !refused(err) {
		j.ref = errorRef()
		s.Log.Error("job failed", "kind", j.kind, "subject", j.subject, "err", err, "ref", j.ref)
	}
}

func (j *job) view(lang string) jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := jobView{ID: j.id, Kind: j.kind, Subject: j.subject, Step: j.step, Of: j.of, Note: j.note,
		Done: !j.finished.IsZero(), Filename: j.filename, Size: len(j.file), Result: j.result, Ref: j.ref}
	end := time.Now()
	if v.Done {
		end = j.finished
	}
	v.Elapsed = end.Sub(j.started).Round(time.Second)
	if j.err != nil {
		v.Failed = true
		v.Message = userMessage(lang, j.err)
	}
	return v
}

// jobOf finds the request's job; someone else's is "not found".
func jobOf(r *http.Request) (*job, error) {
	jobs.Lock()
	j, ok := jobs.m[r.PathValue("id")]
	jobs.Unlock()
	if !ok || j.owner != Actor(r).UserID {
		return nil, relais.E("page", relais.KindNotFound, "no such job")
	}
	return j, nil
}

func (s *Server) jobPages() {
	s.handlePage("GET /jobs/{id}", relais.PermSignedIn, s.jobPage)
	s.handlePage("GET /jobs/{id}/file", relais.PermSignedIn, s.jobFile)
}

// startDayDocuments makes the day's documents in the background.
func (s *Server) startDayDocuments(w http.ResponseWriter, r *http.Request, p *page) error {
	day, err := parseDateField("date", r.PostFormValue("date"))
	if err != nil {
		return err
	}
	docLang := p.Lang
	j := s.startJob(r, "job.day_documents", p.Date(day), func(ctx context.Context, report progress) ([]byte, string, string, error) {
		preps, err := s.Production.Preparations(ctx, relais.PreparationFilter{Date: day})
		if err != nil {
			return nil, "", "", err
		}
		n := 0
		for _, pr := range preps {
			if pr.RegisterNumber != "" && pr.Status != relais.PrepCancelled {
				n++
			}
		}
		report(1, 2, fmt.Sprintf("%d", n))
		var buf bytes.Buffer
		if err := s.ProductionDay(ctx, &buf, day, docLang); err != nil {
			return nil, "", "", err
		}
		report(2, 2, fmt.Sprintf("%d", n))
		return buf.Bytes(), "production-" + string(day) + ".pdf", "", nil
	})
	return done(w, r, "/jobs/"+j.id, "")
}

// startImport imports a protocol document in the background.
func (s *Server) startImport(w http.ResponseWriter, r *http.Request, p *page) error {
	const op = "protocol.import"
	if err := r.ParseMultipartForm(relais.MaxDocumentBytes); err != nil {
		return relais.E(op, relais.KindInvalid, "the file could not be read: send one protocol document (JSON)", err)
	}
	f, hdr, err := r.FormFile("document")
	if err != nil {
		p.refuse("import", r.PostForm, relais.Invalid(op, "document", "choose the protocol document to import (a .json file)"))
		return s.showProtocolList(w, r, p, http.StatusUnprocessableEntity)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, relais.MaxDocumentBytes+1))
	if err != nil {
		return relais.E(op, relais.KindInvalid, "the file could not be read", err)
	}
	j := s.startJob(r, "job.import", hdr.Filename, func(ctx context.Context, report progress) ([]byte, string, string, error) {
		report(1, 2, "")
		doc, err := relais.DecodeDocument(body)
		if err != nil {
			return nil, "", "", err
		}
		report(2, 2, "")
		res, err := s.Protocols.ImportProtocol(ctx, doc)
		if err != nil {
			return nil, "", "", err
		}
		return nil, "", "/protocols/" + string(res.Protocol.ID) + "/versions/" + itoa(res.Version.Number), nil
	})
	return done(w, r, "/jobs/"+j.id, "")
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request, p *page) error {
	j, err := jobOf(r)
	if err != nil {
		return err
	}
	v := j.view(p.Lang)
	p.Title = p.T(v.Kind)
	p.Data = v
	if isHTMX(r) {
		s.renderFragment(w, r, "job", "job", http.StatusOK, p)
		return nil
	}
	s.renderTemplate(w, r, "job", "layout", http.StatusOK, p)
	return nil
}

func (s *Server) jobFile(w http.ResponseWriter, r *http.Request, p *page) error {
	j, err := jobOf(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	file, name := j.file, j.filename
	j.mu.Unlock()
	if file == nil {
		return relais.E("page", relais.KindNotFound, "the file is not ready")
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(file)
	return nil
}
