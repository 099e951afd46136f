package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// `relais hub` runs the regional hub for tests and demonstrations: an
// embedded NATS server with JetStream (its own domain, files written
// synchronously) and a leaf-node listener the sites' Relais connect to.
// A production hub is a nats-server (or a 3-node cluster) run by IT with
// per-site accounts and TLS: docs/network.md shows its configuration.

func init() {
	register("hub", "run a NATS hub (JetStream, leaf-node listener) for the sites of a network: tests and demos", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		fs := newFlags("hub", stderr)
		client := fs.String("listen", "127.0.0.1:4222", "client `HOST:PORT` (monitoring tools, nats CLI)")
		leaf := fs.String("leaf", "127.0.0.1:7422", "leaf-node `HOST:PORT` the sites connect to")
		store := fs.String("store", "relais-hub", "JetStream store `DIR`")
		domain := fs.String("domain", "hub", "the hub's JetStream `DOMAIN` (each site's is its site id)")
		cert := fs.String("tls-cert", "", "leaf-node listener certificate `FILE` (PEM); plain TCP when empty (loopback tests only)")
		key := fs.String("tls-key", "", "leaf-node listener private key `FILE` (PEM)")
		ca := fs.String("tls-ca", "", "CA `FILE` (PEM) the sites' client certificates must chain to (mutual TLS)")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "usage: relais hub [flags]\n\nRuns a NATS server with JetStream and a leaf-node listener: the hub of a regional network\n(docs/network.md). Each site's `relais serve --network FILE` connects to the leaf URL it prints.\nStops on Ctrl-C.\n\nflags:")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		ch, cp, err := splitHostPort("--listen", *client)
		if err != nil {
			return err
		}
		lh, lp, err := splitHostPort("--leaf", *leaf)
		if err != nil {
			return err
		}
		opts := &server.Options{ServerName: "relais-hub-" + *domain, Host: ch, Port: cp, JetStream: true, JetStreamDomain: *domain,
			StoreDir: *store, SyncAlways: true, NoSigs: true, NoLog: true}
		opts.LeafNode.Host, opts.LeafNode.Port = lh, lp
		scheme := "nats-leaf://"
		if *cert != "" || *key != "" {
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: *cert, KeyFile: *key, CaFile: *ca, Verify: *ca != ""})
			if err != nil {
				return fmt.Errorf("--tls-cert/--tls-key/--tls-ca: %w", err)
			}
			opts.LeafNode.TLSConfig = tc
			scheme = "tls://"
		}
		s, err := server.NewServer(opts)
		if err != nil {
			return err
		}
		go s.Start()
		if !s.ReadyForConnections(15 * time.Second) {
			s.Shutdown()
			return fmt.Errorf("the hub did not start in 15 s")
		}
		fmt.Fprintf(stdout, "Relais hub (JetStream domain %s) ready\n  leaf nodes (sites' \"hub\"): %s%s\n  clients: %s\n", *domain, scheme, net.JoinHostPort(lh, strconv.Itoa(lp)), s.ClientURL())
		<-ctx.Done()
		s.Shutdown()
		s.WaitForShutdown()
		return nil
	})
}

func splitHostPort(flagName, hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: want HOST:PORT", flagName, hp)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s %q: the port is not a number from 0 to 65535", flagName, hp)
	}
	return h, port, nil
}
