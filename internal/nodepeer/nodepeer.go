// Package nodepeer gives the interoperability tests peers that no one at
// Relais wrote: npm packages (an HL7 v2 MLLP client, the official FHIR R4
// JSON schema and a validator, a FHIR client, an SMTP server) installed once
// per machine from package.json beside this file, and a way to run Node
// scripts with them. A test that needs them is skipped, saying why, only
// when node or npm is missing or the npm registry cannot be reached.
package nodepeer

import (
	"bytes"
	"context"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

//go:embed package.json
var packageJSON []byte

// Dir returns the directory whose node_modules holds the peers, installing
// them at first use (several test processes may ask at once: a file lock
// makes one install and the others wait).
func Dir(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the Node peers cannot run (apt-get install nodejs npm)")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed: the Node peers cannot be installed (apt-get install npm)")
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "relais-interop-node")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	installed, _ := os.ReadFile(filepath.Join(dir, ".installed"))
	if bytes.Equal(installed, packageJSON) {
		return dir
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), packageJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("npm install of the test peers failed (no registry?): %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, ".installed"), packageJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Command returns a node command running script (JavaScript source) with
// the peers on its module path; args follow the script.
func Command(t testing.TB, ctx context.Context, script string, args ...string) *exec.Cmd {
	t.Helper()
	dir := Dir(t)
	f := filepath.Join(t.TempDir(), "peer.js")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "node", append([]string{f}, args...)...)
	// NODE_PATH serves require(); ES modules, which ignore it, are imported
	// from NODE_PEERS.
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "NODE_PEERS="+filepath.Join(dir, "node_modules"))
	return cmd
}

// Run runs script to its end and returns its standard output; a non-zero
// exit fails the test with the script's standard error.
func Run(t testing.TB, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := Command(t, ctx, script, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node script failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), strings.TrimSpace(stderr.String()))
	}
	return stdout.String()
}

// ModulePath is where a package's files are, for scripts that read data
// files (the FHIR schema).
func ModulePath(t testing.TB, pkg string) string {
	return filepath.Join(Dir(t), "node_modules", filepath.FromSlash(pkg))
}
