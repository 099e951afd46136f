package loadtest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// The campaigns in small, against a real server process built from
// ./cmd/relais, on both engines: the load (20 people for 15 s) must make no
// error and keep the server under 300 MB; the crash campaign (3 SIGKILLs)
// must leave a database that `relais check` (the journal's chain included)
// passes, with every acknowledged write still there. The full campaigns
// (200 people, 10 minutes, 20 kills) are scripts/campaign.

// binDir is where the binary was built, removed after the tests.
var binDir string

var relaisBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "relais-loadtest-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "relais")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/relais-onco/relais/cmd/relais")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build ./cmd/relais: " + e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// demoDB fills a fresh database with a small demo (the protocol library,
// the demo accounts, a few patients).
func demoDB(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: demo.MainSite.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := demo.Load(ctx, db, demo.Options{Patients: 4}); err != nil {
		t.Fatalf("loading the demo: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestLoadCampaignSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("the small campaigns take a minute or two per engine: not under -short")
	}
	bin, err := relaisBinary()
	if err != nil {
		t.Fatal(err)
	}
	testdb.Each(t, func(t *testing.T, dsn string) {
		demoDB(t, dsn)
		data := t.TempDir()
		ctx := context.Background()

		t.Run("load", func(t *testing.T) {
			var log bytes.Buffer
			addr := freeAddr(t)
			srv := &server{cc: CrashConfig{Binary: bin, DB: dsn, Data: data, Addr: addr, Config: Config{Target: "http://" + addr}}, log: &syncWriter{w: &log}}
			if err := srv.start(ctx); err != nil {
				t.Fatal(err)
			}
			res, err := Run(ctx, Config{Target: "http://" + addr, Users: 20, Duration: 15 * time.Second, Think: time.Second,
				RampUp: 3 * time.Second, Seed: 7, ServerPID: srv.pid()})
			srv.stop()
			if err != nil {
				t.Fatal(err)
			}
			if res.Total.Errors != 0 {
				t.Errorf("%d request(s) failed under load, e.g. %q", res.Total.Errors, res.ErrorSamples)
			}
			if res.RSS == nil || len(res.RSS.Samples) == 0 || res.RSS.MaxMB <= 0 {
				t.Errorf("the server's RSS was not sampled: %+v", res.RSS)
			} else if res.RSS.MaxMB >= 300 {
				t.Errorf("the server's RSS reached %.1f MB, over 300 MB", res.RSS.MaxMB)
			}
			// The people did their jobs, not only reads: patients were
			// admitted, prescriptions written, preparations moved on.
			for _, kind := range []string{kindPatient, kindPrescription, kindPreparation} {
				if res.AckedEntities[kind] == 0 {
					t.Errorf("no %s written in 15 s of 20 people: %v (flows %v)", kind, res.AckedEntities, res.Flows)
				}
			}
			if !res.Pass {
				t.Errorf("the load did not pass: %v", res.Failures)
			}
			out, err := srv.tool(ctx, "check", "--db", dsn)
			if err != nil {
				t.Errorf("relais check after the load: %v\n%s", err, out)
			}
			if t.Failed() {
				t.Logf("server log:\n%s", log.String())
			}
		})

		t.Run("crash", func(t *testing.T) {
			// A checkpoint signed before the campaign: each round's check
			// verifies the journal from it on.
			tool := (&server{cc: CrashConfig{Binary: bin}}).tool
			if _, err := os.Stat(filepath.Join(data, "site.key")); err != nil {
				if out, err := tool(ctx, "keys", "init", "--data", data); err != nil {
					t.Fatalf("relais keys init: %v\n%s", err, out)
				}
			}
			if out, err := tool(ctx, "audit", "checkpoint", "--db", dsn, "--data", data); err != nil {
				t.Fatalf("relais audit checkpoint: %v\n%s", err, out)
			}
			res, err := Crash(ctx, CrashConfig{Config: Config{Users: 20, Duration: 15 * time.Second, Think: time.Second,
				RampUp: 3 * time.Second, Seed: 11}, Kills: 3, Binary: bin, DB: dsn, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Crash
			if c == nil || len(c.Rounds) != 3 {
				t.Fatalf("want 3 kills reported, got %+v", c)
			}
			for _, r := range c.Rounds {
				if !r.CheckOK {
					t.Errorf("kill %d: relais check failed:\n%s", r.N, r.CheckOutput)
				}
				for _, m := range r.Missing {
					t.Errorf("kill %d: acknowledged %s %s (%s) is missing after the restart: found %s", r.N, m.Kind, m.ID, m.Want, m.Found)
				}
			}
			for _, r := range c.Rounds {
				if r.CheckFrom == 0 || r.CheckedN == 0 {
					t.Errorf("kill %d: the check verified %d entries from entry %d; want the journal from the checkpoint signed before the campaign", r.N, r.CheckedN, r.CheckFrom)
				}
			}
			if !c.FinalCheckOK {
				t.Errorf("the whole relais check after the last round failed:\n%s", c.FinalCheckOutput)
			}
			if last := c.Rounds[len(c.Rounds)-1]; last.Verified == 0 {
				t.Errorf("no acknowledged write was read back: the campaign checked nothing")
			}
			if res.Total.Errors != 0 {
				t.Errorf("%d request(s) failed outside the kills, e.g. %q", res.Total.Errors, res.ErrorSamples)
			}
			if !res.Pass {
				t.Errorf("the crash campaign did not pass: %v", res.Failures)
			}
			if t.Failed() {
				if b, err := os.ReadFile(c.Log); err == nil {
					t.Logf("server log:\n%s", b)
				}
			}
		})
	})
}

// syncWriter serialises the server's output into a buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
