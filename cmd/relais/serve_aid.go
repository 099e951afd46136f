package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relais-onco/relais/aid"
	"github.com/relais-onco/relais/sqlstore"
)

// aidFlag declares `relais serve --aid-nats URL`.
func aidFlag(fs *flag.FlagSet, url *string) {
	fs.StringVar(url, "aid-nats", "", "NATS `URL` of this site's leaf node (its own JetStream domain), for mutual aid between sites: hand-overs, notices, shipments (docs/mutual-aid.md); off when empty")
}

// startAid runs the mutual-aid link when configured: the site's stream of
// messages addressed to it, its durable consumer, and the publication of its
// outbox (package aid).
func startAid(ctx context.Context, url string, db *sqlstore.DB, log *slog.Logger) (stop func(), err error) {
	if url == "" {
		return func() {}, nil
	}
	nc, err := nats.Connect(url, nats.Name("relais-aid-"+db.Site), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, err
	}
	tr, err := aid.NewJetStream(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	setup, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := tr.Setup(setup, db.Site); err != nil {
		nc.Close()
		return nil, err
	}
	link := &aid.Link{Site: db.Site, Store: db, Transport: tr, Log: log.With("part", "aid")}
	run, stopRun := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { link.Run(run); close(done) }()
	log.Info("mutual aid on", "site", db.Site, "stream", aid.StreamName(db.Site))
	return func() { stopRun(); <-done; nc.Close() }, nil
}
