package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The demo serves on the address given, prints its URL and the demo logins,
// and answers /healthz once ready.
func TestDemoServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn"}, nil, pw, &stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var url string
	var out strings.Builder
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if i := strings.Index(line, "http://"); i >= 0 && url == "" {
			url = strings.TrimSpace(line[i:])
		}
		if strings.Contains(line, "Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatalf("no URL printed:\n%s\n%s", out.String(), stderr.String())
	}
	if !strings.Contains(out.String(), "ph.durand") || !strings.Contains(out.String(), "relais-demo") {
		t.Fatalf("logins not printed:\n%s", out.String())
	}
	var resp *http.Response
	var err error
	for i := 0; i < 50; i++ {
		resp, err = http.Get(url + "healthz")
		if err == nil && resp.StatusCode == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d: %s", code, stderr.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, nil, &out, io.Discard); code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"relais ", "schema ", "api "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("version output lacks %q: %s", want, out.String())
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	if code := run(context.Background(), []string{"frobnicate"}, nil, io.Discard, io.Discard); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
