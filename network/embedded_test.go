package network_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/network"
	"github.com/relais-onco/relais/sqlstore"
)

// Two sites each embedding their leaf node (as `relais serve --network`
// does), connected to a hub: a patient shared by A reaches B.
func TestEmbeddedLeafNodes(t *testing.T) {
	each(t, func(t *testing.T, open func(testing.TB) string) {
		ctx := context.Background()
		hub := natstest.Start(t, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
		cfg := network.Config{Hub: []string{natstest.LeafURL(t, hub)}}
		dbs, keys := map[string]*sqlstore.DB{}, map[string]ed25519.PrivateKey{}
		for _, id := range []string{siteA, siteB} {
			db, err := sqlstore.Open(ctx, open(t), sqlstore.Options{Site: id, Log: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			_, k, _ := ed25519.GenerateKey(rand.Reader)
			dbs[id], keys[id] = db, k
			cfg.Sites = append(cfg.Sites, network.SiteConfig{ID: id, Name: id, Kind: "chg", PublicKey: journal.EncodePublicKey(k.Public().(ed25519.PublicKey))})
		}
		for _, id := range []string{siteA, siteB} {
			c := cfg
			c.Site = id
			n, err := network.Start(ctx, network.Options{Config: c, DB: dbs[id], Key: keys[id], DataDir: t.TempDir(), Poll: 100 * time.Millisecond, Log: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(n.Close)
		}
		natstest.WaitLeafs(t, hub, 2)
		doc := actor(siteA, relais.RolePrescriber, "dr.a")
		p, err := dbs[siteA].CreatePatient(doc, relais.PatientInput{IPP: "A0001", INS: relais.INS{Status: relais.IdentityProvisional},
			BirthName: "LEROUX", FirstNames: []string{"Inès"}, BirthDate: "2019-03-02", Sex: relais.SexFemale})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dbs[siteA].SharePatientCare(doc, p.ID, relais.ShareInput{ToSite: siteB, InformedBy: "Dr A", InformedAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "B receives the shared patient", 15*time.Second, func() (bool, string) {
			rps, err := dbs[siteB].RemotePatients(ctx)
			return err == nil && len(rps) == 1 && rps[0].Patient.ID == p.ID, "not yet"
		})
	})
}

func TestConfigCheck(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	pub := journal.EncodePublicKey(k.Public().(ed25519.PublicKey))
	good := network.Config{Site: "chu-a", Hub: []string{"nats-leaf://127.0.0.1:7422"},
		Sites: []network.SiteConfig{{ID: "chu-a", Name: "CHU A", PublicKey: pub}, {ID: "chg-b", Name: "CH B", PublicKey: pub}}}
	if err := good.Check(); err != nil {
		t.Fatalf("a good configuration is refused: %v", err)
	}
	for _, c := range []struct {
		name, field string
		change      func(c *network.Config)
	}{
		{"site with a dot", "site", func(c *network.Config) { c.Site = "chu.a" }},
		{"no hub", "hub", func(c *network.Config) { c.Hub = nil }},
		{"site not listed", "sites", func(c *network.Config) { c.Site = "chg-z" }},
		{"bad key", "sites[1].public_key", func(c *network.Config) { c.Sites[1].PublicKey = "not-a-key" }},
		{"listed twice", "sites[1].id", func(c *network.Config) { c.Sites[1].ID = "chu-a" }},
		{"TLS without CA", "tls.ca", func(c *network.Config) { c.TLS = &network.TLSFiles{Cert: "c.pem"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			cfg.Sites = append([]network.SiteConfig(nil), good.Sites...)
			c.change(&cfg)
			err := cfg.Check()
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, fe := range relais.FieldErrors(err) {
				found = found || fe.Field == c.field
			}
			if !found {
				t.Errorf("the error does not name field %s: %v", c.field, err)
			}
		})
	}
	// A file with an unknown field is refused, naming the file.
	path := filepath.Join(t.TempDir(), "network.json")
	b, _ := json.Marshal(map[string]any{"site": "chu-a", "hubs": []string{"x"}})
	os.WriteFile(path, b, 0o600)
	if _, err := network.LoadConfig(path); err == nil || !strings.Contains(err.Error(), "network.json") {
		t.Errorf("unknown field: %v", err)
	}
}
