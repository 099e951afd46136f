package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// client is one simulated person's browser: its own cookie jar (its own
// session), sharing the process's connection pool.
type client struct {
	base string
	hc   *http.Client
	rec  *recorder
	gate *gate
	name string
	// userID is the signed-in account's (a check is done by someone
	// other than the preparer).
	userID relais.ID
}

func newClient(base string, tr http.RoundTripper, rec *recorder, g *gate, name string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, rec: rec, gate: g, name: name}
}

// statusError is a response outside 2xx.
type statusError struct {
	Op     string
	Status int
	Body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %.300s", e.Op, e.Status, e.Body)
}

// errInterrupted marks a request cut by a crash of the server (the crash
// campaign kills it on purpose): not an error of the server, and not an
// acknowledgement either.
var errInterrupted = errors.New("interrupted by a server crash")

// refusable lists statuses an operation may answer by design (a person
// then takes another path, e.g. an OK-to-treat refused for a criterion
// not met is given again with an override and a comment). They are counted
// as refusals, never as errors, and only for the operations that name them.
type refusable []int

func (r refusable) has(code int) bool {
	for _, c := range r {
		if c == code {
			return true
		}
	}
	return false
}

// api calls the JSON API: path is under /api/v1. out, when not nil, receives
// the decoded answer.
func (c *client) api(ctx context.Context, op, method, path string, in, out any, ok ...int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, op, method, "/api/v1"+path, body, "application/json", out, refusable(ok))
}

// page loads an HTML page as a browser would.
func (c *client) page(ctx context.Context, op, path string) error {
	return c.do(ctx, op, "GET", path, nil, "text/html", nil, nil)
}

func (c *client) do(ctx context.Context, op, method, path string, body io.Reader, accept string, out any, ok refusable) error {
	epoch, err := c.gate.wait(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set(clientVersionHeader, relais.APIVersion)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
	}
	took := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // the run ended: not a result
		}
		if c.gate.crashedSince(epoch) {
			c.rec.interrupted(op)
			return errInterrupted
		}
		e := fmt.Errorf("%s: %w", op, err)
		c.rec.add(op, took, outcomeError, e.Error())
		return e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &statusError{Op: op, Status: resp.StatusCode, Body: string(data)}
		if ok.has(resp.StatusCode) {
			c.rec.add(op, took, outcomeRefused, "")
			return se
		}
		if c.gate.crashedSince(epoch) {
			c.rec.interrupted(op)
			return errInterrupted
		}
		c.rec.add(op, took, outcomeError, c.name+" "+method+" "+path+": "+se.Error())
		return se
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e := fmt.Errorf("%s: the answer is not the JSON expected: %w", op, err)
			c.rec.add(op, took, outcomeError, e.Error())
			return e
		}
	}
	c.rec.add(op, took, outcomeOK, "")
	return nil
}

// clientVersionHeader is web.ClientVersionHeader (not imported: the load
// generator talks to the server over HTTP only).
const clientVersionHeader = "Relais-Client-Version"

// isStatus reports whether err is an answer with this status.
func isStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.Status == code
}
