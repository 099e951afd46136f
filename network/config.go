// Package network carries the journal entries of shared patients between the
// sites of a regional network over NATS JetStream, and brings what other
// sites share into a read-only copy (see docs/network.md).
//
// Each site's Relais embeds (or connects to) a NATS leaf node whose
// JetStream domain is the site id; the leaf connects outward to the hub.
//
//   - Publishing: the site walks its journal with a durable cursor kept in
//     its database. Each entry about a patient whose care is shared (the
//     entities of relais.SharedEntities) is published once per destination
//     site on relais.share.<from>.<to>.<entity>, into the site's own stream
//     RELAIS_OUT_<from> (file storage), with Nats-Msg-Id "<entry id>@<to>"
//     and an ed25519 signature of the site over (from, to, entry hash); the
//     cursor moves only once JetStream acknowledged. A new share sends the
//     patient's earlier history to its site. db.OnCommit wakes the
//     publisher; the cursor in the database is the truth.
//   - Receiving: the site's stream RELAIS_IN_<site> sources, from each other
//     site's stream, only the subjects addressed to it
//     (relais.share.<other>.<site>.>), across domains through the hub. A
//     durable consumer applies each message to the copy (sqlstore
//     remote_event), after checking the signature with the sender's public
//     key from the configuration, the entry's hash and its chaining with
//     neighbouring entries; then acknowledges. Applying is idempotent.
//   - Reads of remote data are published the same way (entity "access") to
//     the owning site, which records them in its access log.
package network

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Config is a site's network configuration file (JSON).
type Config struct {
	// Site is this site's id: its JetStream domain and subject token.
	Site string `json:"site"`
	// Hub lists the hub's leaf-node URLs (nats-leaf://host:7422, or
	// tls://host:7422 with TLS) the embedded leaf node connects to.
	Hub []string `json:"hub"`
	// NATSURL, when set, connects to an existing leaf node (whose JetStream
	// domain must be Site) instead of embedding one.
	NATSURL string `json:"nats_url,omitempty"`
	// StoreDir keeps the embedded node's JetStream files (default: the
	// data directory's "nats" folder).
	StoreDir string `json:"store_dir,omitempty"`
	// Credentials is a NATS credentials file (.creds) for the hub's leaf
	// connection, when the hub runs in JWT (operator) mode.
	Credentials string `json:"credentials,omitempty"`
	// LeafSeedFile is the file holding this site's NATS nkey seed ("SU…",
	// made by `relais hub --new-leaf-key`): the leaf connection
	// authenticates with it into this site's own account on the hub, whose
	// public half is this site's leaf_nkey below.
	LeafSeedFile string `json:"leaf_seed_file,omitempty"`
	// TLS of the connection to the hub.
	TLS *TLSFiles `json:"tls,omitempty"`
	// Sites are the sites of the network, this one included.
	Sites []SiteConfig `json:"sites"`
}

// TLSFiles names the PEM files of the hub connection.
type TLSFiles struct {
	CA   string `json:"ca"`             // the hub's CA
	Cert string `json:"cert,omitempty"` // this site's client certificate
	Key  string `json:"key,omitempty"`
}

// SiteConfig is one site of the network.
type SiteConfig struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"` // chu, chg or other
	// PublicKey is the site's journal checkpoint key (ed25519, base64, as
	// `relais keys show` prints it): it verifies what the site sends.
	PublicKey string `json:"public_key"`
	// LeafNkey is the public NATS user nkey ("U…") the site's leaf node
	// authenticates with: the hub (`relais hub --network`) makes it the
	// only user of the site's account. Empty on a hub without accounts.
	LeafNkey string `json:"leaf_nkey,omitempty"`
}

var siteIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, relais.E("network.config", relais.KindInvalid, relais.Field("network"), fmt.Sprintf("cannot read the network configuration %s", path), err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, relais.E("network.config", relais.KindInvalid, relais.Field("network"), fmt.Sprintf("%s is not a valid network configuration", path), err)
	}
	return c, c.Check()
}

// Check validates the configuration.
func (c Config) Check() error {
	const op = "network.config"
	var errs []error
	if !siteIDRe.MatchString(c.Site) {
		errs = append(errs, relais.Invalid(op, "site", "the site id %q must be letters, digits, - or _ (it names a JetStream domain and a subject token)", c.Site))
	}
	if c.NATSURL == "" && len(c.Hub) == 0 {
		errs = append(errs, relais.Invalid(op, "hub", "name the hub's leaf-node URL(s), e.g. [\"tls://hub.example:7422\"], or nats_url to use an existing leaf node"))
	}
	if c.TLS != nil && c.TLS.CA == "" {
		errs = append(errs, relais.Invalid(op, "tls.ca", "name the PEM file of the hub's certificate authority"))
	}
	if c.Credentials != "" && c.LeafSeedFile != "" {
		errs = append(errs, relais.Invalid(op, "leaf_seed_file", "give either credentials (a hub in JWT mode) or leaf_seed_file (a hub with one account per site, docs/network.md), not both"))
	}
	errs = append(errs, c.checkSites(op)...)
	self := false
	for _, s := range c.Sites {
		self = self || s.ID == c.Site
	}
	if !self {
		errs = append(errs, relais.Invalid(op, "sites", "this site (%q) is not among the sites", c.Site))
	}
	return relais.Errors(op, errs)
}

// checkSites validates the sites list (ids, names, kinds, keys).
func (c Config) checkSites(op string) []error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range c.Sites {
		f := fmt.Sprintf("sites[%d]", i)
		if !siteIDRe.MatchString(s.ID) {
			errs = append(errs, relais.Invalid(op, f+".id", "the site id %q must be letters, digits, - or _", s.ID))
		}
		if seen[s.ID] {
			errs = append(errs, relais.Invalid(op, f+".id", "site %q is listed twice", s.ID))
		}
		seen[s.ID] = true
		if strings.TrimSpace(s.Name) == "" {
			errs = append(errs, relais.Invalid(op, f+".name", "give site %q its name", s.ID))
		}
		if s.Kind != "" && s.Kind != "chu" && s.Kind != "chg" && s.Kind != "other" {
			errs = append(errs, relais.Invalid(op, f+".kind", "kind must be chu, chg or other"))
		}
		if _, err := journal.ParsePublicKey(s.PublicKey); err != nil {
			errs = append(errs, relais.Invalid(op, f+".public_key", "site %q: %v (print it with `relais keys show` at that site)", s.ID, err))
		}
		if s.LeafNkey != "" && !nkeys.IsValidPublicUserKey(s.LeafNkey) {
			errs = append(errs, relais.Invalid(op, f+".leaf_nkey", "site %q: %q is not a public NATS user nkey (\"U…\", printed by `relais hub --new-leaf-key` at that site)", s.ID, s.LeafNkey))
		}
	}
	return errs
}

func (c Config) key(site string) (ed25519.PublicKey, bool) {
	for _, s := range c.Sites {
		if s.ID == site {
			k, err := journal.ParsePublicKey(s.PublicKey)
			return k, err == nil
		}
	}
	return nil, false
}

func (c Config) others() []string {
	var out []string
	for _, s := range c.Sites {
		if s.ID != c.Site {
			out = append(out, s.ID)
		}
	}
	return out
}
