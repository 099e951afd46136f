package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais/launch"
)

// What `relais launch` prints is what a site configured with the EHR's
// public key (the file docs/integration/launch.md shows) accepts.
func TestLaunchCommandMakesAcceptedTokens(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "ehr.pem")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"launch", "--new-key", key}, nil, &out, &errb); code != 0 {
		t.Fatalf("new key: %d %s", code, errb.String())
	}
	cfgFile := filepath.Join(dir, "launch.json")
	os.WriteFile(cfgFile, []byte(`{"site": "chu-test", "ehrs": [{"id": "dpi-chg", "name": "DPI du CHG", "public_keys": ["ehr.pem.pub"],
		"roles": {"MED": "prescriber", "IDE": "nurse"}, "create_patients": true}]}`), 0o644)
	cfg, err := launch.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"launch", "--key", key, "--ehr", "dpi-chg", "--site", "chu-test", "--user", "u42", "--user-name", "Dr Claire Martin",
		"--role", "MED", "--patient-ipp", "7001", "--patient-ins", "2 06 12 75 111 005 64", "--patient-birth-name", "DUPONT",
		"--patient-first-names", "Marie", "--patient-birth-date", "2006-12-14", "--patient-sex", "F"}
	out.Reset()
	if code := run(context.Background(), args, nil, &out, &errb); code != 0 {
		t.Fatalf("launch: %d %s", code, errb.String())
	}
	c, _, err := launch.Verify(cfg, strings.TrimSpace(out.String()), time.Now())
	if err != nil {
		t.Fatalf("the site refuses the token relais launch made: %v", err)
	}
	// A published NIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
	// « Calcul de la clé du n° de sécurité sociale », 2007), typed with
	// spaces as people do.
	if c.Patient.INS.Matricule != "206127511100564" || c.Patient.INS.Status != "qualified" || c.User.Name != "Dr Claire Martin" {
		t.Errorf("claims = %+v", c)
	}
	out.Reset()
	if code := run(context.Background(), append(args, "--html", "https://relais.chu.example/"), nil, &out, &errb); code != 0 {
		t.Fatalf("launch --html: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `action="https://relais.chu.example/launch"`) || !strings.Contains(out.String(), `name="token"`) {
		t.Errorf("HTML page:\n%s", out.String())
	}
	// Missing flags are named.
	errb.Reset()
	if code := run(context.Background(), []string{"launch", "--key", key}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--ehr") {
		t.Errorf("missing flags: %d %s", code, errb.String())
	}
}
