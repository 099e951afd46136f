package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// CrashConfig is a crash campaign: the load of Config against a server the
// campaign starts itself, killed with SIGKILL Kills times at seeded random
// moments and restarted; after each restart `relais check` runs on the
// database and every acknowledged write is read back.
//
// The check after each restart is `relais check --since` the campaign's
// start: the journal is verified from the last checkpoint signed before the
// campaign (the whole journal when the database has none), so at the
// region's scale a round does not re-read ten years. Everything else the
// check does (the engine's integrity check, the register, the leftover
// vials, the references, rows inserted outside Relais) is whole in every
// round. After the last round the server is stopped and the whole
// `relais check` runs once.
type CrashConfig struct {
	Config
	// Kills is how many times the server is killed (at least 1).
	Kills int
	// Binary is the relais executable to start (`serve`, `check`).
	Binary string
	// DB is the database's DSN (sqlite:PATH or postgres://…), already
	// holding a site (e.g. made by `relais demo --no-serve`).
	DB string
	// Data is the server's data directory (its site key); the server's log
	// goes to Data/serve.log.
	Data string
	// Addr is where the server listens (default: a free loopback port).
	Addr string
}

// CrashReport is what a crash campaign saw.
type CrashReport struct {
	DB      string       `json:"db"`
	Kills   int          `json:"kills"`
	Rounds  []CrashRound `json:"rounds"`
	Missing int          `json:"missing_writes"`
	Log     string       `json:"server_log"`
	// Since is the moment each round's check verified the journal from
	// (the campaign's start).
	Since time.Time `json:"since"`
	// The whole check after the last round.
	FinalCheckS      float64 `json:"final_check_s"`
	FinalCheckOK     bool    `json:"final_check_ok"`
	FinalCheckOutput string  `json:"final_check_output,omitempty"` // when it failed
}

// CrashRound is one kill and restart.
type CrashRound struct {
	N           int       `json:"n"`
	UptimeS     float64   `json:"uptime_s"`     // load time before the kill
	Acked       int       `json:"acknowledged"` // writes acknowledged so far (distinct entities)
	RestartS    float64   `json:"restart_s"`    // from the kill to the server answering again
	CheckS      float64   `json:"check_s"`      // relais check --since the campaign's start
	CheckOK     bool      `json:"check_ok"`
	CheckFrom   int64     `json:"check_from"`             // the entry its journal verification started at (0: the whole chain)
	CheckedN    int       `json:"check_entries"`          // journal entries it verified
	CheckOutput string    `json:"check_output,omitempty"` // when it failed
	Verified    int       `json:"verified"`
	Missing     []Missing `json:"missing,omitempty"`
}

// Crash runs a crash campaign.
func Crash(ctx context.Context, cc CrashConfig) (*Result, error) {
	if cc.Kills <= 0 {
		cc.Kills = 1
	}
	if cc.Kills > 1000 {
		return nil, relais.Invalid("load", "crash", "at most 1000 kills (got %d)", cc.Kills)
	}
	if cc.Binary == "" || cc.DB == "" || cc.Data == "" {
		return nil, relais.Invalid("load", "db", "a crash campaign needs the relais binary, --db DSN and --data DIR")
	}
	if cc.Addr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		cc.Addr = ln.Addr().String()
		ln.Close()
	}
	cc.Target = "http://" + cc.Addr
	if err := cc.defaults(); err != nil {
		return nil, err
	}
	logPath := cc.Data + "/serve.log"
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	srv := &server{cc: cc, log: logf}
	// Before the first start: the checkpoint the server signs at start is
	// after it, so every round's check starts from the source's last one.
	since := time.Now().UTC()
	checkArgs := []string{"check", "--db", cc.DB, "--json", "--since", since.Format(time.RFC3339Nano)}
	// The site's public key beside its private one, when there is one:
	// the checkpoints are then verified even when the site table records
	// no key.
	if pub := filepath.Join(cc.Data, "site.pub"); fileExists(pub) {
		checkArgs = append(checkArgs, "--pubkey", pub)
	}
	if err := srv.start(ctx); err != nil {
		return nil, err
	}
	defer srv.stop()
	cc.ServerPID = srv.pid()
	l := newLoad(cc.Config)
	if err := l.setup(ctx); err != nil {
		return nil, err
	}
	// The verifier reads through its own gate (the people's is closed
	// while it reads) and its own recorder (its reads are not the load's).
	var readers []*client
	for _, a := range l.accounts {
		if a.Role == relais.RolePharmacist {
			for range verifyReaders {
				r := newClient(cc.Target, l.tr, newRecorder(), newGate(), "verifier")
				if err := signIn(ctx, r, a.Username, l.pass); err != nil {
					return nil, err
				}
				readers = append(readers, r)
			}
			break
		}
	}
	rep := &CrashReport{DB: redact(cc.DB), Kills: cc.Kills, Log: logPath, Since: since}
	l.rss.setPID(srv.pid())
	started := time.Now()
	l.rss.start = started
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); l.rss.run(rctx, time.Second) }()
	go func() { defer bg.Done(); l.people(rctx) }()
	l.progressEvery(rctx, 10*time.Second)

	rng := rand.New(rand.NewPCG(cc.Seed, 0xc4a54))
	var failures []string
	for n := 1; n <= cc.Kills; n++ {
		up := time.Duration(float64(cc.Duration) / float64(cc.Kills) * (0.5 + rng.Float64()))
		if n == 1 {
			up += cc.RampUp
		}
		if !sleep(ctx, up) {
			return nil, ctx.Err()
		}
		round := CrashRound{N: n, UptimeS: round2(up.Seconds())}
		l.gate.crash()
		killed := time.Now()
		if err := srv.kill(); err != nil {
			return nil, err
		}
		if err := srv.start(ctx); err != nil {
			return nil, fmt.Errorf("restart %d: %w", n, err)
		}
		round.RestartS = round2(time.Since(killed).Seconds())
		l.rss.setPID(srv.pid())
		round.Acked = len(l.ledger.snapshot())
		checkStart := time.Now()
		out, err := srv.tool(ctx, checkArgs...)
		round.CheckS = round2(time.Since(checkStart).Seconds())
		round.CheckOK = err == nil
		var cr sqlstore.CheckReport
		if jerr := json.Unmarshal([]byte(out), &cr); jerr == nil {
			round.CheckedN = cr.Checked["journal.entries"]
			if len(cr.From) > 0 {
				round.CheckFrom = cr.From[0].Seq
			}
		}
		if !round.CheckOK {
			round.CheckOutput = out
			failures = append(failures, fmt.Sprintf("kill %d: relais check failed: %s", n, firstFault(cr, out)))
		}
		checked, missing, err := l.ledger.verify(ctx, readers)
		if err != nil {
			return nil, fmt.Errorf("kill %d: reading the acknowledged writes back: %w", n, err)
		}
		round.Verified, round.Missing = checked, missing
		rep.Missing += len(missing)
		if len(missing) > 0 {
			failures = append(failures, fmt.Sprintf("kill %d: %d acknowledged write(s) missing, e.g. %s %s (want %s, found %s)",
				n, len(missing), missing[0].Kind, missing[0].ID, missing[0].Want, missing[0].Found))
		}
		rep.Rounds = append(rep.Rounds, round)
		l.progress("kill %d/%d after %.1fs: back in %.1fs, check %v (%.1fs), %d acknowledged writes read back, %d missing",
			n, cc.Kills, up.Seconds(), round.RestartS, round.CheckOK, round.CheckS, checked, len(missing))
		l.gate.open()
	}
	// A last stretch of load after the last restart, then the end.
	sleep(ctx, min(cc.Duration/time.Duration(cc.Kills), 10*time.Second))
	cancel()
	bg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	ended := time.Now()
	srv.stop()
	l.progress("the whole relais check, the server stopped…")
	checkStart := time.Now()
	out, err := srv.tool(ctx, "check", "--db", cc.DB)
	rep.FinalCheckS = round2(time.Since(checkStart).Seconds())
	rep.FinalCheckOK = err == nil
	if !rep.FinalCheckOK {
		rep.FinalCheckOutput = out
		failures = append(failures, "the whole relais check after the last round failed: "+lastLine(out))
	}
	res := l.result(started, ended)
	res.Crash = rep
	res.Failures = append(res.Failures, failures...)
	res.Pass = len(res.Failures) == 0
	return res, nil
}

// verifyReaders is how many sessions read the acknowledged writes back
// after a restart, in parallel.
const verifyReaders = 4

// server is the child `relais serve` of a crash campaign.
type server struct {
	cc      CrashConfig
	log     io.Writer
	cmd     *exec.Cmd
	wg      sync.WaitGroup
	exited  chan error // the process's end, once reaped
	running bool
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// start starts the server and waits until /healthz answers 200.
func (s *server) start(ctx context.Context) error {
	cmd := exec.Command(s.cc.Binary, "serve", "--addr", s.cc.Addr, "--db", s.cc.DB, "--data", s.cc.Data, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s serve: %w", s.cc.Binary, err)
	}
	s.cmd, s.running = cmd, true
	exited := make(chan error, 1)
	s.exited = exited
	s.wg.Add(1)
	go func() { defer s.wg.Done(); exited <- cmd.Wait() }()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			s.wg.Wait()
			s.running = false
			return fmt.Errorf("relais serve exited at start (%v): see %s/serve.log", err, s.cc.Data)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := hc.Get(s.cc.Target + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
	}
	return fmt.Errorf("relais serve did not answer /healthz within 2 minutes: see %s/serve.log", s.cc.Data)
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() error {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL to relais serve (pid %d): %w", s.pid(), err)
	}
	<-s.exited
	s.wg.Wait()
	s.running = false
	return nil
}

// stop ends the server gracefully (SIGTERM), at the end of the campaign.
func (s *server) stop() {
	if !s.running {
		return
	}
	s.running = false
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.wg.Wait()
}

// tool runs `relais ARGS…` and returns its output; err when it exits non-zero.
func (s *server) tool(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.cc.Binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// firstFault names the first fault of a failed check, or the last line of
// its output when it printed no report (it could not read the database).
func firstFault(r sqlstore.CheckReport, out string) string {
	if len(r.Faults) > 0 {
		return fmt.Sprintf("%d fault(s), first: %s", len(r.Faults), r.Faults[0].Message)
	}
	return lastLine(out)
}

// lastLine is the last line of a command's output, where its error is.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	lines := strings.Split(s, "\n")
	return lines[len(lines)-1]
}

// redact hides a PostgreSQL password in a DSN for the report.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.Index(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return dsn[:i+3] + rest[:colon] + ":xxx" + rest[at:]
			}
		}
	}
	return dsn
}
