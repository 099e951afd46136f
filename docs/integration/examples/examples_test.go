// Package examples tests the integrators' examples as an EHR's IT would run
// them: the tokens they make are accepted by a site configured with the
// EHR's public key, and the ADT they send is acknowledged AA and files the
// patient.
package examples

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/hl7/adt"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/launch"
	"github.com/relais-onco/relais/sqlstore"
)

var tokenArgs = []string{"--key", "", "--ehr", "dpi-chg", "--site", "chu-test", "--user", "u42", "--user-name", "Dr Claire Martin",
	"--role", "MED", "--ipp", "7001", "--ins", "206127511100564", "--birth-name", "DUPONT", "--first-names", "Marie",
	"--birth-date", "2006-12-14", "--sex", "F"}

// keyPair makes an EHR key pair with openssl, as the kit's checklist says.
func keyPair(t *testing.T) (priv, pub string) {
	t.Helper()
	ssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "ehr.pem"), filepath.Join(dir, "ehr.pub.pem")
	for _, args := range [][]string{{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", priv},
		{"pkey", "-in", priv, "-pubout", "-out", pub}} {
		if out, err := exec.Command(ssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	return priv, pub
}

func siteConfig(t *testing.T, pub string) *launch.Config {
	t.Helper()
	f := filepath.Join(t.TempDir(), "launch.json")
	os.WriteFile(f, []byte(`{"site": "chu-test", "ehrs": [{"id": "dpi-chg", "public_keys": ["`+pub+`"], "roles": {"MED": "prescriber"}}]}`), 0o644)
	cfg, err := launch.LoadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func checkToken(t *testing.T, cfg *launch.Config, tok string) {
	t.Helper()
	c, _, err := launch.Verify(cfg, strings.TrimSpace(tok), time.Now())
	if err != nil {
		t.Fatalf("Relais refuses the example's token: %v", err)
	}
	if c.Patient.INS.Matricule != "206127511100564" || c.User.Role != "MED" || c.Expiry.Time().Sub(c.IssuedAt.Time()) > time.Minute {
		t.Errorf("claims = %+v", c)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s\n%s", name, args, err, out, stderr)
	}
	return string(out)
}

func withKey(key string) []string {
	a := append([]string(nil), tokenArgs...)
	a[1] = key
	return a
}

// python returns a Python 3 that has the modules: the one on PATH, or
// Debian's (a pyenv or venv python on PATH may lack Debian's packages).
func python(t *testing.T, modules string) string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import "+modules).Run() == nil {
			return p
		}
	}
	t.Skipf("no python3 with %s (apt-get install python3-jwt python3-cryptography)", modules)
	return ""
}

func TestPythonLaunchToken(t *testing.T) {
	py := python(t, "jwt, cryptography")
	priv, pub := keyPair(t)
	checkToken(t, siteConfig(t, pub), run(t, py, append([]string{"python/make_launch_token.py"}, withKey(priv)...)...))
}

func TestJavaScriptLaunchToken(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	priv, pub := keyPair(t)
	checkToken(t, siteConfig(t, pub), run(t, "node", append([]string{"javascript/make_launch_token.js"}, withKey(priv)...)...))
}

// listener is a site's HL7 listener on a fresh database.
func listener(t *testing.T) (string, *sqlstore.DB) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlstore.Open(context.Background(), testdb.SQLite(t), sqlstore.Options{Site: "chu-test", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	recv := adt.NewReceiver(db, adt.Config{}, hl7.Sender{App: "RELAIS", Facility: "chu-test"}, quiet)
	done := make(chan struct{})
	go func() { recv.Run(ctx); close(done) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &hl7.Server{Handler: recv, Log: quiet}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()); cancel(); <-done })
	return ln.Addr().String(), db
}

func checkFiled(t *testing.T, db *sqlstore.DB, out string) {
	t.Helper()
	if !strings.Contains(out, "MSA|AA|EX-A28-0001") {
		t.Fatalf("no AA:\n%s", out)
	}
	ps, err := db.SearchPatients(relais.WithActor(context.Background(), relais.SystemActor("chu-test")), "7001", 5)
	if err != nil || len(ps) != 1 || ps[0].BirthName != "DUPONT" || ps[0].INS.Status != relais.IdentityQualified {
		t.Fatalf("patient filed: %+v %v", ps, err)
	}
}

func TestPythonSendADT(t *testing.T) {
	py := python(t, "socket")
	addr, db := listener(t)
	host, port, _ := net.SplitHostPort(addr)
	checkFiled(t, db, run(t, py, "python/send_adt.py", "--host", host, "--port", port, "adt_a28.hl7"))
}

func TestJavaScriptSendADT(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	addr, db := listener(t)
	host, port, _ := net.SplitHostPort(addr)
	checkFiled(t, db, run(t, "node", "javascript/send_adt.js", "--host", host, "--port", port, "adt_a28.hl7"))
}
