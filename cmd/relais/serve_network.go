package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"github.com/relais-onco/relais/harmonize"
	"log/slog"

	"github.com/relais-onco/relais/network"
	"github.com/relais-onco/relais/sqlstore"
)

// networkFlag declares `relais serve --network FILE`.
func networkFlag(fs *flag.FlagSet, file *string) {
	fs.StringVar(file, "network", "", "network configuration `FILE` (JSON: this site, the hub's leaf URLs, TLS, the network's sites and keys; docs/network.md); off when empty")
}

// startNetwork joins the regional network when configured: the site's
// embedded NATS leaf node connects to the hub, the site publishes the
// journal entries of the patients whose care it shares, and applies what
// the others share with it into a read-only copy (package network).
func startNetwork(ctx context.Context, file, dataDir string, db *sqlstore.DB, key ed25519.PrivateKey, log *slog.Logger) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	cfg, err := network.LoadConfig(file)
	if err != nil {
		return nil, err
	}
	n, err := network.Start(ctx, network.Options{Config: cfg, DB: db, Key: key, Log: log, DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	log.Info("joined the network", "site", cfg.Site, "hub", cfg.Hub, "sites", len(cfg.Sites))
	// Protocol harmonisation: this site's library published in a bucket
	// of its own domain, the others' followed into the local copy.
	others := make([]string, 0, len(cfg.Sites))
	for _, s := range cfg.Sites {
		others = append(others, s.ID)
	}
	hctx, stopHarmonize := context.WithCancel(context.Background())
	harmonized := make(chan struct{})
	go func() {
		defer close(harmonized)
		if err := harmonize.RunPerSite(hctx, n.Conn(), cfg.Site, others, db, log.With("part", "harmonize")); err != nil && hctx.Err() == nil {
			log.Error("protocol harmonisation stopped", "err", err)
		}
	}()
	return func() { stopHarmonize(); <-harmonized; n.Close() }, nil
}
