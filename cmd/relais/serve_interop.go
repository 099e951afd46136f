package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/relais-onco/relais/fhir"
	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/hl7/adt"
	"github.com/relais-onco/relais/launch"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// The interoperability kit in `relais serve`: the HL7 listener, the
// contextual launch, the FHIR read API, and the outbox worker
// (docs/integration/).

type interopFlags struct {
	hl7Addr       string
	hl7Authority  string
	hl7MaxBytes   int
	launchConfig  string
	fhirIPPSystem string
	outbox        outboxFlags // serve_outbox.go
}

func (f *interopFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.hl7Addr, "hl7-addr", "", "receive HL7 v2 ADT messages over MLLP on `HOST:PORT` (e.g. 0.0.0.0:2575); off when empty")
	fs.StringVar(&f.hl7Authority, "hl7-ipp-authority", "", "assigning `AUTHORITY` of the site's IPPs in PID-3.4 (namespace or OID); empty: the first identifier of type PI")
	fs.IntVar(&f.hl7MaxBytes, "hl7-max-bytes", 4<<20, "largest HL7 message accepted, in `BYTES`")
	fs.StringVar(&f.launchConfig, "launch-config", "", "contextual launch configuration `FILE` (EHRs, keys, role mapping); launch off when empty")
	fs.StringVar(&f.fhirIPPSystem, "fhir-ipp-system", "", "identifier system `URI` of the site's IPPs in FHIR (e.g. urn:oid:1.2.250.1.…); default urn:relais:SITE:ipp")
	f.outbox.flags(fs)
}

// startInterop switches on what the flags ask for; stop ends it (the HL7
// listener lets each connection finish the message in hand).
func startInterop(ctx context.Context, f interopFlags, db *sqlstore.DB, srv *web.Server, log *slog.Logger) (stop func(), err error) {
	srv.EnableFHIR(&fhir.Server{Site: db.Site, IPPSystem: f.fhirIPPSystem, Patients: db, Treatments: db, Protocols: db,
		Catalogue: db, Production: db, Log: log})
	recv := adt.NewReceiver(db, adt.Config{IPPAuthority: f.hl7Authority}, hl7.Sender{App: "RELAIS", Facility: db.Site}, log)
	srv.EnableHL7Log(recv)
	if f.launchConfig != "" {
		cfg, err := launch.LoadConfig(f.launchConfig)
		if err != nil {
			return nil, err
		}
		if cfg.Site != db.Site {
			return nil, fmt.Errorf("--launch-config: the file is for site %q, this database is site %q", cfg.Site, db.Site)
		}
		srv.EnableLaunch(&launch.Service{Config: cfg, Patients: db, Accounts: db, Used: db})
		log.Info("contextual launch on", "ehrs", len(cfg.EHRs), "path", web.LaunchPath)
	}
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	stopOutbox, err := startOutbox(ctx, f.outbox, db, srv, log)
	if err != nil {
		return nil, err
	}
	stops = append(stops, stopOutbox)
	if f.hl7Addr == "" {
		return stop, nil
	}
	ln, err := net.Listen("tcp", f.hl7Addr)
	if err != nil {
		stop()
		return nil, fmt.Errorf("--hl7-addr %s: %w", f.hl7Addr, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	committed := make(chan struct{})
	go func() { recv.Run(runCtx); close(committed) }()
	hs := &hl7.Server{Handler: recv, Reject: recv.RejectFrame, MaxMessageBytes: f.hl7MaxBytes, Log: log}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("HL7 listener on", "addr", ln.Addr().String())
	stops = append(stops, func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		hs.Shutdown(sctx)
		if err := <-served; err != nil && !errors.Is(err, hl7.ErrServerClosed) {
			log.Warn("HL7 listener", "err", err)
		}
		cancel()
		<-committed
	})
	return stop, nil
}
