package natstest

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartHub runs a hub from server options made elsewhere (for instance a
// configuration with one account per site, network.HubServerOptions): it
// takes a free client port, a free leaf-node port on loopback, and a store
// directory of the test, keeps the accounts, users, exports and imports
// as given, and stops the server when the test ends.
func StartHub(t testing.TB, opts *server.Options) *Server {
	t.Helper()
	o := opts.Clone()
	o.Host, o.Port = "127.0.0.1", server.RANDOM_PORT
	o.LeafNode.Host, o.LeafNode.Port = "127.0.0.1", FreePort(t)
	o.StoreDir = t.TempDir()
	o.NoSigs, o.NoLog = true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("natstest: hub: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("natstest: hub %s not ready", o.ServerName)
	}
	t.Cleanup(s.Shutdown)
	return &Server{Server: s, LeafPort: o.LeafNode.Port}
}

// StartLeafNkey runs a site's leaf node (JetStream domain domain) that
// connects to hub's leaf-node listener authenticating with the user nkey
// seed: it lands in the hub account whose user that key is.
func StartLeafNkey(t testing.TB, hub *Server, name, domain, seed string) *Server {
	t.Helper()
	u, err := url.Parse("nats-leaf://" + net.JoinHostPort("127.0.0.1", fmt.Sprint(hub.LeafPort)))
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		ServerName:      name,
		Host:            "127.0.0.1",
		Port:            server.RANDOM_PORT,
		JetStream:       true,
		JetStreamDomain: domain,
		StoreDir:        t.TempDir(),
		NoSigs:          true,
		NoLog:           true,
	}
	opts.LeafNode.Remotes = []*server.RemoteLeafOpts{{URLs: []*url.URL{u}, Nkey: seed}}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: leaf %s: %v", name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("natstest: leaf %s not ready", name)
	}
	t.Cleanup(s.Shutdown)
	return &Server{Server: s}
}
