package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// serveConfig holds the flags of `relais serve`, which `relais demo` shares.
type serveConfig struct {
	addr     string
	data     string
	db       string
	site     string
	logLevel string
	auth     authFlags    // sign-in and TLS (serve_auth.go)
	interop  interopFlags // HL7, launch, FHIR, outbox (serve_interop.go)
	network  string       // network configuration file (serve_network.go)
	aidNATS  string       // mutual aid's NATS URL (serve_aid.go)
	debug    string       // Go's profiles, loopback only (serve_debug.go)
	progress io.Writer    // the pre-upgrade snapshot's progress line, when a terminal
}

func (c *serveConfig) flags(fs *flag.FlagSet, defaultData string) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	fs.StringVar(&c.data, "data", defaultData, "data `DIR`: the embedded database, keys and documents")
	fs.StringVar(&c.db, "db", "", "database `DSN`: sqlite:PATH or postgres://USER@HOST:5432/DB (default: sqlite in --data)")
	fs.StringVar(&c.site, "site", "", "this site's `ID` (required when the database is new)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	c.auth.flags(fs)
	c.interop.flags(fs)
	networkFlag(fs, &c.network)
	aidFlag(fs, &c.aidNATS)
	debugFlag(fs, &c.debug)
}

func (c *serveConfig) dsn() string {
	if c.db != "" {
		return c.db
	}
	return "sqlite:" + filepath.Join(c.data, "relais.db")
}

func (c *serveConfig) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", c.logLevel)
	}
	return newLogger(w, lvl), nil
}

func init() {
	register("serve", "serve a site's Relais over HTTP", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		var cfg serveConfig
		fs := newFlags("serve", stderr)
		cfg.flags(fs, "relais-data")
		if err := fs.Parse(args); err != nil {
			return err
		}
		log, err := cfg.logger(stderr)
		if err != nil {
			return err
		}
		// An older schema is migrated only after a verified snapshot
		// (relais upgrade, cmd/relais/upgrade.go).
		cfg.progress = stderr
		db, err := openServing(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		return serve(ctx, cfg, db, log, func(url string) {
			fmt.Fprintf(stdout, "Relais (site %s) is serving on %s\n", db.Site, url)
		})
	})
}

// services builds the web services from a store.
func services(db *sqlstore.DB) web.Services {
	return web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db, Production: db}
}

// serveMemoryLimit is the Go runtime's soft memory limit for a server
// (debug.SetMemoryLimit) unless GOMEMLIMIT says otherwise: near it the
// collector runs sooner rather than letting the heap grow to twice what is
// live (GOGC) — the heap of the requests in flight is most of a busy
// server's memory (docs/campaigns.md, 300 MB for 200 people). SQLite's own
// memory (page caches, prepared statements) is outside it.
const serveMemoryLimit = 200 << 20

// serve listens on cfg.addr until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg serveConfig, db *sqlstore.DB, log *slog.Logger, announce func(url string)) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
	if cfg.debug != "" {
		stop, err := serveDebug(cfg.debug, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv := web.New(db.Site, services(db), log)
	// The clients seen and the API versions they sent, written every
	// minute, for relais upgrade check (cmd/relais/upgrade.go).
	clients := sqlstore.NewClientLog(db)
	srv.Clients = clients
	clientsCtx, stopClients := context.WithCancel(context.Background())
	clientsDone := make(chan struct{})
	go func() { clients.Run(clientsCtx, time.Minute); close(clientsDone) }()
	defer func() { stopClients(); <-clientsDone }()
	// The site's key signs checkpoints of the journal every ten minutes and
	// at shutdown, so that an inspector can verify the chain later with the
	// public key alone (docs/audit.md).
	key, err := LoadOrCreateSiteKey(cfg.data)
	if err != nil {
		return fmt.Errorf("site key in %s: %w", cfg.data, err)
	}
	ckCtx, stopCheckpoints := context.WithCancel(context.Background())
	checkpointsDone := startCheckpoints(ckCtx, db, key, 10*time.Minute, log)
	defer func() {
		stopCheckpoints()
		<-checkpointsDone
	}()
	tlsConfig, err := configureAuth(ctx, cfg.auth, srv, log)
	if err != nil {
		return err
	}
	stopInterop, err := startInterop(ctx, cfg.interop, db, srv, log)
	if err != nil {
		return err
	}
	defer stopInterop()
	stopNetwork, err := startNetwork(ctx, cfg.network, cfg.data, db, key, log)
	if err != nil {
		return err
	}
	defer stopNetwork()
	stopAid, err := startAid(ctx, cfg.aidNATS, db, log)
	if err != nil {
		return err
	}
	defer stopAid()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", cfg.addr, err)
	}
	scheme, serveConn := "http://", func(hs *http.Server) error { return hs.Serve(ln) }
	if tlsConfig != nil {
		// ServeTLS adds HTTP/2 to the settings; the certificate comes from
		// tlsConfig (reloaded when its files change).
		scheme, serveConn = "https://", func(hs *http.Server) error { return hs.ServeTLS(ln, "", "") }
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
	errc := make(chan error, 1)
	go func() { errc <- serveConn(hs) }()
	srv.SetReady()
	announce(scheme + ln.Addr().String() + "/")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	_ = os.Stdout.Sync()
	return nil
}
