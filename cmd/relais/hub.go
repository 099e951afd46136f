package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/relais-onco/relais/network"
)

// `relais hub` runs the regional hub: an embedded NATS server with
// JetStream (its own domain, files written synchronously) and a leaf-node
// listener the sites' Relais connect to. With --network FILE it gives each
// site its own account, which its leaf node authenticates into with the
// site's nkey, and lets only what one site addresses to another cross
// between accounts (network.HubConfig); --print-config prints that
// configuration for an IT running its own nats-server; --new-leaf-key
// makes a site's key pair. Without --network, every leaf node shares one
// account: for loopback tests and demonstrations only.

func init() {
	register("hub", "run the NATS hub of a network (one account per site with --network); print its nats-server configuration; make a site's leaf key", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		fs := newFlags("hub", stderr)
		client := fs.String("listen", "127.0.0.1:4222", "client `HOST:PORT` (monitoring tools, nats CLI)")
		leaf := fs.String("leaf", "127.0.0.1:7422", "leaf-node `HOST:PORT` the sites connect to")
		store := fs.String("store", "relais-hub", "JetStream store `DIR`")
		domain := fs.String("domain", "hub", "the hub's JetStream `DOMAIN` (each site's is its site id)")
		cert := fs.String("tls-cert", "", "leaf-node listener certificate `FILE` (PEM); plain TCP when empty (loopback tests only)")
		key := fs.String("tls-key", "", "leaf-node listener private key `FILE` (PEM)")
		ca := fs.String("tls-ca", "", "CA `FILE` (PEM) the sites' client certificates must chain to (mutual TLS)")
		netFile := fs.String("network", "", "network configuration `FILE` (its sites, each with its leaf_nkey): one account per site; without it, one shared account (tests only)")
		printConfig := fs.Bool("print-config", false, "print the nats-server configuration of the hub (needs --network) and exit")
		newKey := fs.String("new-leaf-key", "", "make a leaf key pair for a site: write its seed to `FILE` (mode 0600, kept at the site, its leaf_seed_file) and print the public key (its leaf_nkey, for the hub's IT), then exit")
		fs.Usage = func() {
			fmt.Fprintln(stderr, `usage: relais hub [flags]
       relais hub --network FILE --print-config [flags] > hub.conf
       relais hub --new-leaf-key FILE

Runs a NATS server with JetStream and a leaf-node listener: the hub of a regional network
(docs/network.md). Each site's `+"`relais serve --network FILE`"+` connects to the leaf URL it prints.
With --network, each site of the file gets its own account, whose only user is the site's
leaf_nkey; a site can read only what another site addresses to it (relais.share.<from>.<site>),
send mutual-aid messages only in its own name, and read the others' protocol buckets.
--print-config prints the same configuration for nats-server (nats-server -c hub.conf).
--new-leaf-key is run at a site: it writes the seed there and prints the public key to send
to the hub's IT. Stops on Ctrl-C.

flags:`)
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("relais hub: unexpected argument %q (see relais hub -h)", fs.Arg(0))
		}
		if *newKey != "" {
			return writeLeafKey(*newKey, stdout)
		}
		if *printConfig && *netFile == "" {
			return fmt.Errorf("--print-config: name the network configuration with --network FILE")
		}
		ch, cp, err := splitHostPort("--listen", *client)
		if err != nil {
			return err
		}
		lh, lp, err := splitHostPort("--leaf", *leaf)
		if err != nil {
			return err
		}
		var opts *server.Options
		accounts := 0
		if *netFile != "" {
			cfg, err := loadHubNetwork(*netFile)
			if err != nil {
				return err
			}
			ho := network.HubOptions{Domain: *domain, Listen: *client, Leaf: *leaf, Store: *store, TLSCert: *cert, TLSKey: *key, TLSCA: *ca}
			if *printConfig {
				text, err := network.HubConfig(cfg, ho)
				if err != nil {
					return err
				}
				_, err = io.WriteString(stdout, text)
				return err
			}
			if opts, err = network.HubServerOptions(cfg, ho); err != nil {
				return err
			}
			opts.NoLog = true
			accounts = len(cfg.Sites)
		} else {
			opts = &server.Options{ServerName: "relais-hub-" + *domain, Host: ch, Port: cp, JetStream: true, JetStreamDomain: *domain,
				StoreDir: *store, SyncAlways: true, NoSigs: true, NoLog: true}
			opts.LeafNode.Host, opts.LeafNode.Port = lh, lp
			if *cert != "" || *key != "" {
				tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: *cert, KeyFile: *key, CaFile: *ca, Verify: *ca != ""})
				if err != nil {
					return fmt.Errorf("--tls-cert/--tls-key/--tls-ca: %w", err)
				}
				opts.LeafNode.TLSConfig = tc
			}
		}
		scheme := "nats-leaf://"
		if *cert != "" || *key != "" {
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
		if accounts > 0 {
			fmt.Fprintf(stdout, "  %d sites, one account each (leaf nodes authenticate with their leaf_nkey)\n", accounts)
		} else {
			fmt.Fprintln(stdout, "  one shared account, no authentication: for tests and demonstrations only (--network FILE for one account per site)")
		}
		<-ctx.Done()
		s.Shutdown()
		s.WaitForShutdown()
		return nil
	})
}

// loadHubNetwork reads the network configuration for the hub: only its
// sites matter (the hub is not a site; "site" and "hub" may be absent).
func loadHubNetwork(path string) (network.Config, error) {
	var c network.Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("--network: cannot read %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("--network: %s is not a valid network configuration: %w", path, err)
	}
	return c, nil
}

// writeLeafKey makes a site's leaf key pair, writes the seed to path
// (refusing to overwrite one) and prints the public key.
func writeLeafKey(path string, stdout io.Writer) error {
	seed, pub, err := network.NewLeafKey()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("--new-leaf-key: %w (an existing seed is never overwritten: move it away first to rotate)", err)
	}
	if _, err := f.WriteString(seed + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	fmt.Fprintf(stdout, "seed written to %s (keep it at this site: \"leaf_seed_file\" of its network configuration)\nleaf_nkey (send it to the hub's IT, and put it in this site's entry of \"sites\"):\n%s\n", path, pub)
	return nil
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
