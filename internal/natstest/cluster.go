package natstest

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is an in-process JetStream cluster: the shape of a regional hub
// that one server is not enough for (docs/network-cluster.md). Every node
// runs JetStream with its own store, routes to the others, and keeps its
// ports and store across Stop/Restart, as a real node does across a reboot.
type Cluster struct {
	Name  string
	Nodes []*ClusterNode

	t testing.TB
}

// ClusterNode is one node of a Cluster.
type ClusterNode struct {
	Name      string
	ClientURL string // nats://127.0.0.1:port, stable across restarts

	mu   sync.Mutex
	srv  *server.Server
	opts server.Options
}

// ClusterOptions shape a cluster.
type ClusterOptions struct {
	Name   string // cluster name; defaults to a unique one
	Size   int    // number of nodes; 3 when zero
	Domain string // JetStream domain of the cluster ("" for none)
	// LeafListen opens a leaf-node listener on every node (a hub that
	// sites' leaf nodes connect to).
	LeafListen bool
}

// StartCluster runs a JetStream cluster and stops it when the test ends. It
// returns once every node is ready and JetStream has a meta leader.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Size == 0 {
		o.Size = 3
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("relais-cluster-%d", time.Now().UnixNano())
	}
	c := &Cluster{Name: o.Name, t: t}
	routePorts := make([]int, o.Size)
	for i := range routePorts {
		routePorts[i] = FreePort(t)
	}
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	for i := 0; i < o.Size; i++ {
		name := fmt.Sprintf("%s-n%d", o.Name, i+1)
		opts := server.Options{
			ServerName:      name,
			Host:            "127.0.0.1",
			Port:            FreePort(t),
			JetStream:       true,
			JetStreamDomain: o.Domain,
			StoreDir:        t.TempDir(),
			NoSigs:          true,
			NoLog:           true,
			Routes:          routes,
		}
		opts.Cluster.Name = o.Name
		opts.Cluster.Host = "127.0.0.1"
		opts.Cluster.Port = routePorts[i]
		if o.LeafListen {
			opts.LeafNode.Host = "127.0.0.1"
			opts.LeafNode.Port = FreePort(t)
		}
		n := &ClusterNode{Name: name, opts: opts, ClientURL: fmt.Sprintf("nats://127.0.0.1:%d", opts.Port)}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		n.start(t)
	}
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			n.Stop()
		}
	})
	c.WaitReady(30 * time.Second)
	return c
}

func (n *ClusterNode) start(t testing.TB) {
	t.Helper()
	opts := n.opts // the server keeps and changes its copy
	s, err := server.NewServer(&opts)
	if err != nil {
		t.Fatalf("natstest: node %s: %v", n.Name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		t.Fatalf("natstest: node %s not ready", n.Name)
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
}

// Server is the node's running server, nil while stopped.
func (n *ClusterNode) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// Running reports whether the node is up.
func (n *ClusterNode) Running() bool { return n.Server() != nil }

// Stop shuts the node down (its store stays on disk); a stopped node is left
// as is.
func (n *ClusterNode) Stop() {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts a stopped node again on the same ports and store.
func (c *Cluster) Restart(n *ClusterNode) {
	c.t.Helper()
	if n.Running() {
		c.t.Fatalf("natstest: node %s is running", n.Name)
	}
	n.start(c.t)
}

// LeafURL is a node's leaf-node URL (ClusterOptions.LeafListen).
func (n *ClusterNode) LeafURL() string {
	return fmt.Sprintf("nats-leaf://127.0.0.1:%d", n.opts.LeafNode.Port)
}

// ClientURLs lists every node's client URL, comma-separated, for
// nats.Connect: a client fails over to another node when its node stops.
func (c *Cluster) ClientURLs() string {
	s := ""
	for i, n := range c.Nodes {
		if i > 0 {
			s += ","
		}
		s += n.ClientURL
	}
	return s
}

// Node returns the node named name (a server name, as JetStream reports
// a stream's leader), or nil.
func (c *Cluster) Node(name string) *ClusterNode {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// WaitReady waits until every running node sees the JetStream meta leader
// and is connected to the others.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, running := true, 0
		for _, n := range c.Nodes {
			if n.Running() {
				running++
			}
		}
		for _, n := range c.Nodes {
			s := n.Server()
			if s == nil {
				continue
			}
			if !s.JetStreamIsClustered() || !s.JetStreamIsCurrent() || s.NumRoutes() < running-1 {
				ok = false
				break
			}
		}
		if ok && c.metaLeader() != "" {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range c.Nodes {
				if s := n.Server(); s != nil {
					c.t.Logf("natstest: %s: clustered %v, current %v, %d routes, meta leader %v",
						n.Name, s.JetStreamIsClustered(), s.JetStreamIsCurrent(), s.NumRoutes(), s.JetStreamIsLeader())
				}
			}
			c.t.Fatalf("natstest: cluster %s not ready after %s", c.Name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) metaLeader() string {
	for _, n := range c.Nodes {
		if s := n.Server(); s != nil && s.JetStreamIsLeader() {
			return n.Name
		}
	}
	return ""
}
