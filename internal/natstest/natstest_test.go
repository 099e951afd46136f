package natstest

import (
	"testing"

	"github.com/nats-io/nats.go"
)

func TestHubAndLeaf(t *testing.T) {
	hub := Start(t, Options{Name: "hub", Domain: "hub", LeafListen: true})
	leaf := Start(t, Options{Name: "site-a", Domain: "site-a", LeafRemotes: []string{LeafURL(t, hub)}})
	WaitLeafs(t, hub, 1)
	nc, err := nats.Connect(leaf.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nh, err := nats.Connect(hub.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	sub, _ := nh.SubscribeSync("x")
	nh.Flush()
	// subscription interest propagates to the leaf
	for i := 0; i < 50; i++ {
		nc.Publish("x", []byte("hi"))
		nc.Flush()
		if m, err := sub.NextMsg(100e6); err == nil {
			if string(m.Data) != "hi" {
				t.Fatal(string(m.Data))
			}
			return
		}
	}
	t.Fatal("no message crossed the leaf connection")
}
