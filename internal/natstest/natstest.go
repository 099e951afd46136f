// Package natstest runs real NATS servers with JetStream in-process for tests:
// a single server, a hub with leaf nodes (each leaf its own JetStream domain,
// as a site's Relais connects to the regional hub), or a clustered hub.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options shape one in-process server.
type Options struct {
	Name   string // server name; defaults to a unique one
	Domain string // JetStream domain ("" for none)
	// LeafListen opens a leaf-node listener on a free loopback port (a hub).
	LeafListen bool
	// LeafRemotes are hub leaf-node URLs this server connects to (a site).
	LeafRemotes []string
	// StoreDir keeps JetStream's files; defaults to a temp dir of the test.
	StoreDir string
	// Port of client connections; 0 picks a free one.
	Port int
}

// Server is a running in-process server.
type Server struct {
	*server.Server
	LeafPort int // the leaf-node listener's port, when Options.LeafListen
}

// Start runs a server with JetStream and stops it when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("relais-test-%d", time.Now().UnixNano())
	}
	opts := &server.Options{
		ServerName:      o.Name,
		Host:            "127.0.0.1",
		Port:            o.Port,
		JetStream:       true,
		JetStreamDomain: o.Domain,
		StoreDir:        o.StoreDir,
		NoSigs:          true,
		NoLog:           true,
	}
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if o.LeafListen {
		opts.LeafNode.Host = "127.0.0.1"
		opts.LeafNode.Port = FreePort(t)
	}
	for _, r := range o.LeafRemotes {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatalf("natstest: leaf remote %q: %v", r, err)
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, &server.RemoteLeafOpts{URLs: []*url.URL{u}})
	}
	return run(t, opts)
}

// run starts a server from opts, waits until it takes connections, and
// stops it when the test ends.
func run(t testing.TB, opts *server.Options) *Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: %s: %v", opts.ServerName, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("natstest: server %s not ready", opts.ServerName)
	}
	t.Cleanup(s.Shutdown)
	return &Server{Server: s, LeafPort: opts.LeafNode.Port}
}

// LeafURL is the hub's leaf-node URL, for Options.LeafRemotes.
func LeafURL(t testing.TB, hub *Server) string {
	t.Helper()
	port := hub.LeafPort
	if port <= 0 {
		t.Fatal("natstest: the hub has no leaf-node listener (Options.LeafListen)")
	}
	return "nats-leaf://" + net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
}

// FreePort returns a loopback TCP port free at the time of the call (for
// listeners the server cannot report back, such as leaf nodes and routes).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitLeafs waits until the hub sees n leaf connections.
func WaitLeafs(t testing.TB, hub *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for hub.NumLeafNodes() < n {
		if time.Now().After(deadline) {
			t.Fatalf("natstest: %d leaf nodes connected, want %d", hub.NumLeafNodes(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
