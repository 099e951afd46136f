package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugFlag adds --debug-addr: Go's profiles (net/http/pprof) on a
// listener of their own, for whoever runs the server to see where its time
// and memory go (docs/operations/profiling.md). Off by default, and never
// on an address other machines can reach: a profile shows the memory's
// contents, patients' included.
func debugFlag(fs *flag.FlagSet, addr *string) {
	fs.StringVar(addr, "debug-addr", "", "serve Go's profiles (pprof) on `HOST:PORT`, loopback only (e.g. 127.0.0.1:6060); off when empty")
}

// checkDebugAddr refuses an address that is not on the loopback interface.
func checkDebugAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--debug-addr %q: give HOST:PORT, e.g. 127.0.0.1:6060", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--debug-addr %q: profiles show the server's memory, patients' data included; give a loopback address (127.0.0.1 or [::1])", addr)
	}
	return nil
}

// serveDebug serves the profiles on addr until ctx ends.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	if err := checkDebugAddr(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("debug listener stopped", "err", err)
		}
	}()
	log.Warn("Go's profiles are served on the debug address: keep it loopback only", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}
