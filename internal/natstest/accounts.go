package natstest

import (
	"fmt"
	"net"
	"net/url"
	"testing"

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
	return run(t, o)
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
	return run(t, opts)
}
