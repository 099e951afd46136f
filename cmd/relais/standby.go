package main

import (
	"context"
	"encoding/json"

	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// relais standby: a live, read-only copy of a site on another machine (a
// laptop in the pharmacy), ready to become a crisis node (docs/continuity.md).

func init() {
	register("standby", "follow a site as a read-only standby node (relais standby status --data DIR: its lag)", runStandby)
}

func runStandby(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "status" {
		return standbyStatus(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("standby", stderr)
	follow := fs.String("follow", "", "the site's base `URL` to follow, e.g. https://relais.chu.example")
	data := fs.String("data", "", "data `DIR` of the standby: relais.db, snapshots/, packs/")
	token := fs.String("token", "", "an API `TOKEN` with journal.read (or set RELAIS_STANDBY_TOKEN)")
	user := fs.String("user", "", "or an account `NAME` (HTTP Basic; password in RELAIS_STANDBY_PASSWORD)")
	addr := fs.String("addr", "127.0.0.1:8081", "serve the read-only copy and its status on `HOST:PORT` (empty: do not serve)")
	var recipients strList
	fs.Var(&recipients, "recipient", "age public `KEY` the daily snapshots are encrypted to (repeat); none: no daily snapshots")
	keyFile := fs.String("key", "", "site key `FILE` that signs the daily snapshots (default: DATA/site.key, made if missing)")
	wait := fs.Duration("wait", 10*time.Second, "long-poll `DURATION`: the most the copy waits for news (its lag while the site is quiet is 0)")
	packEvery := fs.Duration("pack-every", 4*time.Hour, "write the downtime pack at least this often")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *follow == "" || *data == "" {
		return exitError{exitUsage, "relais standby: --follow URL and --data DIR are required"}
	}
	if *token == "" {
		*token = os.Getenv("RELAIS_STANDBY_TOKEN")
	}
	log := newLogger(stderr, slog.LevelInfo)
	cfg := continuity.StandbyConfig{Source: *follow, Token: *token, User: *user, Pass: os.Getenv("RELAIS_STANDBY_PASSWORD"), Dir: *data,
		Wait: *wait, PackEvery: *packEvery, Log: log}
	if cfg.Token == "" && cfg.User == "" {
		return exitError{exitUsage, "relais standby: give --token (an API token with journal.read) or --user with RELAIS_STANDBY_PASSWORD"}
	}
	if len(recipients) > 0 {
		rs, names, err := continuity.ParseRecipients(recipients)
		if err != nil {
			return err
		}
		path := *keyFile
		if path == "" {
			if _, err := LoadOrCreateSiteKey(*data); err != nil {
				return err
			}
			path, _ = keyPath("", *data)
		}
		key, err := loadSiteKey(path)
		if err != nil {
			return err
		}
		cfg.Recipients, cfg.RecipientIDs, cfg.Key = rs, names, key
	} else {
		log.Warn("standby: no --recipient: no daily snapshots will be kept")
	}
	sb, err := continuity.OpenStandby(ctx, cfg)
	if err != nil {
		return err
	}
	defer sb.DB.Close()
	fmt.Fprintf(stdout, "Standby of site %s following %s into %s\n", sb.DB.Site, *follow, *data)
	if *addr != "" {
		srv := web.New(sb.DB.Site, services(sb.DB), log)
		srv.SetReady()
		h := standbyHandler(sb.DB, *data, srv.Handler())
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return fmt.Errorf("--addr %s: %w", *addr, err)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
		fmt.Fprintf(stdout, "Read-only copy on http://%s/ (status: http://%s/standby/status)\n", ln.Addr(), ln.Addr())
	}
	return sb.Run(ctx)
}

// standbyHandler serves the copy read-only: pages and API reads, sign-in and
// sign-out; every other write is refused (the copy changes only by
// following its site, until a crisis is declared). /standby/status says the
// lag without signing in (it shows no patient data).
func standbyHandler(db *sqlstore.DB, dir string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/standby/status" {
			st, err := continuity.StandbyStatus(r.Context(), db, dir)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			if err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			json.NewEncoder(w).Encode(st)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		default:
			p := r.URL.Path
			if p != "/login" && p != "/logout" && !strings.HasPrefix(p, "/api/v1/session") {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				json.NewEncoder(w).Encode(web.Problem{Type: "about:blank", Title: "Read-only standby", Status: http.StatusServiceUnavailable,
					Kind: relais.KindUnavailable.String(), Detail: "this is a read-only standby copy of the site: work on the site itself, or declare a crisis (relais crisis start) to work here"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func standbyStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("standby status", stderr)
	data := fs.String("data", "", "data `DIR` of the standby")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return exitError{exitUsage, "relais standby status: --data DIR is required"}
	}
	db, err := openReadOnly(ctx, "sqlite:"+continuity.DBPath(*data), "")
	if err != nil {
		return exitError{exitNotRead, err.Error()}
	}
	defer db.Close()
	st, err := continuity.StandbyStatus(ctx, db, *data)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			return exitError{exitFaults, "this copy has never polled its site"}
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	lag := "never in sync"
	if st.LagSeconds >= 0 {
		lag = fmt.Sprintf("%.1f s", st.LagSeconds)
	}
	fmt.Fprintf(stdout, "Standby of %s following %s\n  applied entry %d of %d; data age (lag) %s\n  snapshots: %d kept%s\n",
		st.Site, st.Source, st.AppliedSeq, st.SourceSeq, lag, len(st.Snapshots), lastOf(st.Snapshots))
	if st.Pack != "" {
		fmt.Fprintf(stdout, "  downtime pack: %s (written %s)\n", st.Pack, st.PackTime.In(relais.DisplayZone).Format("02/01/2006 15:04"))
	}
	if st.LastError != "" {
		fmt.Fprintf(stdout, "  last error: %s\n", st.LastError)
	}
	return nil
}

func lastOf(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ", newest " + ss[len(ss)-1]
}
