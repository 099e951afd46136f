package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log/slog"
	"net"

	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/outbox"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

type outboxFlags struct {
	config       string
	sourceOID    string
	ippAuthority string
}

func (f *outboxFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "outbox-config", "", "outbox configuration `FILE`: where to send treatment plans and administration reports (MLLP, MSSanté); off when empty")
	fs.StringVar(&f.sourceOID, "site-oid", "", "this site's `OID`, the source of the documents it sends (IHE XDM sourceId; CDA custodian); required when a destination takes CDA")
	fs.StringVar(&f.ippAuthority, "ipp-oid", "", "`OID` of the hospital's IPP domain, in the patient ids of documents sent; required when a destination takes CDA")
}

// startOutbox runs the outbox worker when configured: it queues documents
// from the journal (woken after each commit that calls for one) and sends
// them with backoff.
func startOutbox(ctx context.Context, f outboxFlags, db *sqlstore.DB, srv *web.Server, log *slog.Logger) (stop func(), err error) {
	if f.config == "" {
		srv.EnableOutbox(db, nil)
		return func() {}, nil
	}
	cfg, err := outbox.LoadConfig(f.config)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckCDA(f.sourceOID, f.ippAuthority); err != nil { // document_format cda or both
		return nil, err
	}
	transports := map[string]outbox.Transport{}
	for _, d := range cfg.Destinations {
		switch d.Transport {
		case outbox.TransportMLLP:
			c := &hl7.Client{Addr: d.Addr}
			if d.TLS {
				host, _, _ := net.SplitHostPort(d.Addr)
				c.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
			}
			transports[d.Name] = &outbox.MLLPTransport{Client: c}
		case outbox.TransportSMTP:
			t, err := outbox.NewSMTPTransport(d)
			if err != nil {
				return nil, err
			}
			transports[d.Name] = t
		}
	}
	w := &outbox.Worker{Store: db, Sources: db, Site: db.Site, SourceOID: f.sourceOID, IPPAuthority: f.ippAuthority,
		Config: cfg, Transports: transports, Log: log}
	w.Init()
	srv.EnableOutbox(db, w.Wake)
	db.OnCommit(func(entries []journal.Entry) {
		for _, e := range entries {
			switch e.Action {
			case outbox.ActionSign, outbox.ActionValidateLines, outbox.ActionAdminister, outbox.ActionNotAdministerd:
				w.Wake()
				return
			}
		}
	})
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	log.Info("outbox on", "destinations", len(cfg.Destinations))
	return func() { cancel(); <-done }, nil
}
