package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"

	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/sqlstore"
)

// A server killed with SIGKILL in the middle of a burst of releases loses
// no acknowledged write: after a restart, every release answered 2xx is
// there, and `relais check` passes. (SQLite in WAL mode with
// synchronous=FULL: a commit is on disk before the answer is sent.)
func TestSIGKILLLosesNoAcknowledgedRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	dsn := "sqlite:" + filepath.Join(data, "relais.db")

	// A site with preparations checked and waiting for release.
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: "chu-kill", Log: quietLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	if err := continuity.LoadSite(ctx, db); err != nil {
		t.Fatal(err)
	}
	team, err := continuity.NewTeam(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := continuity.Regimens(ctx, db, team)
	if err != nil {
		t.Fatal(err)
	}
	var ready []relais.ID
	for i := 0; len(ready) < 40 && i < 200; i++ {
		preps, err := continuity.TreatPatient(ctx, db, team, regs[i%len(regs)], i)
		if err != nil {
			continue
		}
		for _, p := range preps {
			if p.Mode == relais.ModeCompounded && p.Status == relais.PrepToPrepare {
				if _, err := continuity.PrepareAndCheck(ctx, db, team, p.ID); err == nil {
					ready = append(ready, p.ID)
				}
			}
		}
	}
	if len(ready) < 20 {
		t.Fatalf("only %d preparations could be made ready", len(ready))
	}
	users, _ := db.Users(ctx)
	var admin, ph relais.User
	for _, u := range users {
		switch u.Username {
		case "admin.pharma":
			admin = u
		case "ph.durand":
			ph = u
		}
	}
	_, token, err := db.CreateToken(relais.WithActor(ctx, admin.Actor()), relais.TokenInput{UserID: ph.ID, Name: "burst",
		Permissions: []relais.Permission{relais.PermProductionRelease, relais.PermProductionRead}, ExpiresIn: 1})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	bin := filepath.Join(dir, "relais")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The burst: 4 clients release the preparations; the server is killed
	// once a third of them are answered.
	url, srv := startServe(t, bin, data)
	var mu sync.Mutex
	var acked []relais.ID
	var refused string
	killAt := len(ready) / 3
	var wg sync.WaitGroup
	next := make(chan relais.ID)
	go func() {
		for _, id := range ready {
			next <- id
		}
		close(next)
	}()
	var once sync.Once
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				req, _ := http.NewRequest("POST", url+"api/v1/preparations/"+string(id)+"/release", strings.NewReader(`{"comment":"rafale"}`))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Relais-Client-Version", relais.APIVersion) // programs say their API version
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue // killed: not acknowledged
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					mu.Lock()
					if refused == "" {
						refused = fmt.Sprintf("%d %s", resp.StatusCode, body)
					}
					mu.Unlock()
				}
				if resp.StatusCode/100 == 2 {
					mu.Lock()
					acked = append(acked, id)
					n := len(acked)
					mu.Unlock()
					if n >= killAt {
						once.Do(func() { srv.Process.Signal(syscall.SIGKILL) })
					}
				}
			}
		}()
	}
	wg.Wait()
	once.Do(func() { srv.Process.Signal(syscall.SIGKILL) })
	srv.Wait()
	if len(acked) < killAt {
		t.Fatalf("only %d releases were acknowledged before the kill (first refusal: %s)", len(acked), refused)
	}
	t.Logf("%d of %d releases acknowledged before SIGKILL", len(acked), len(ready))

	// Restart: every acknowledged release is there.
	url, srv = startServe(t, bin, data)
	for _, id := range acked {
		req, _ := http.NewRequest("GET", url+"api/v1/preparations/"+string(id), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Relais-Client-Version", relais.APIVersion)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"status":"released"`)) {
			t.Errorf("acknowledged release of %s is lost after the restart: %d %s", id, resp.StatusCode, b)
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"check", "--db", dsn}, nil, &out, &errb); code != 0 {
		t.Errorf("relais check after the kill exits %d:\n%s%s", code, out.String(), errb.String())
	}
}

// startServe runs `relais serve` on a free loopback port and returns its
// base URL once it answers.
func startServe(t *testing.T, bin, data string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "error")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "http://"); i >= 0 {
				urls <- sc.Text()[i:]
			}
		}
	}()
	select {
	case u := <-urls:
		return u, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("relais serve did not start")
	}
	return "", nil
}
