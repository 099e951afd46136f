package natstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The hub as a 3-node JetStream cluster (issue 8, docs/network-cluster.md):
// a replicated stream (R3, file storage) receives a site's journal entries
// the way Relais publishes them — Nats-Msg-Id = the entry's id, each
// publication retried until JetStream acks it, the journal sequence in each
// message — while the stream's leader is stopped in the middle. At the end
// every entry is in the stream exactly once and in order, and a durable
// consumer reads them all with no gap and no duplicate.

type journalEvent struct {
	Seq int64  `json:"seq"`
	ID  string `json:"id"`
}

func TestR3StreamLosesNothingWhenTheLeaderStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	const events = 400
	c := StartCluster(t, ClusterOptions{Name: "hub", Domain: "hub"})

	nc, err := nats.Connect(c.ClientURLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stream, err := createWithRetry(ctx, js, jetstream.StreamConfig{
		Name: "RELAIS_JOURNAL_SITE_A", Subjects: []string{"relais.journal.site-a"},
		Replicas: 3, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("the stream is not replicated on 3 nodes: %+v", info.Cluster)
	}
	// The publisher is connected to the stream's leader first (the other
	// nodes after it): stopping the leader also cuts its connection.
	first := c.Node(info.Cluster.Leader)
	if first == nil {
		t.Fatalf("no node named %q (the stream's leader)", info.Cluster.Leader)
	}
	urls := first.ClientURL
	for _, n := range c.Nodes {
		if n != first {
			urls += "," + n.ClientURL
		}
	}
	pc, err := nats.Connect(urls, nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pjs, err := jetstream.New(pc)
	if err != nil {
		t.Fatal(err)
	}

	// The publisher: one entry after the other, each retried until acked.
	type result struct {
		retries int
		err     error
	}
	var acked atomic.Int64 // the last entry acked
	reached := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var r result
		for seq := int64(1); seq <= events; seq++ {
			if seq == events/3 {
				close(reached)
			}
			ev := journalEvent{Seq: seq, ID: fmt.Sprintf("0190f3a2-0000-7000-8000-%012d", seq)}
			b, _ := json.Marshal(ev)
			msg := &nats.Msg{Subject: "relais.journal.site-a", Data: b, Header: nats.Header{}}
			msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
			msg.Header.Set("Relais-Seq", strconv.FormatInt(seq, 10))
			for {
				pctx, pcancel := context.WithTimeout(ctx, time.Second)
				_, err := pjs.PublishMsg(pctx, msg)
				pcancel()
				if err == nil {
					acked.Store(seq)
					break
				}
				if ctx.Err() != nil {
					r.err = fmt.Errorf("entry %d never acked: %v", seq, err)
					done <- r
					return
				}
				r.retries++
				time.Sleep(20 * time.Millisecond)
			}
		}
		done <- r
	}()

	// In the middle, stop the stream's leader.
	select {
	case <-reached:
	case r := <-done:
		t.Fatalf("the publisher ended early: %v", r.err)
	}
	if info, err = stream.Info(ctx); err != nil {
		t.Fatal(err)
	}
	leader := c.Node(info.Cluster.Leader)
	if leader == nil {
		t.Fatalf("no node named %q (the stream's leader)", info.Cluster.Leader)
	}
	leader.Stop()
	atStop := acked.Load()
	t.Logf("stopped %s, the stream's leader, after entry %d was acked", leader.Name, atStop)

	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("all %d entries acked, %d publication attempt(s) retried", events, r.retries)
	if atStop >= events-10 {
		t.Fatalf("the leader stopped only after entry %d of %d: not in the middle of the stream", atStop, events)
	}

	// The node comes back and catches up.
	c.Restart(leader)
	info = waitReplicasCurrent(t, ctx, stream)
	if info.Cluster.Leader == "" {
		t.Fatal("the stream has no leader")
	}

	if info.State.Msgs != events || info.State.FirstSeq != 1 || info.State.LastSeq != events {
		t.Fatalf("the stream holds %d messages (seq %d to %d), want exactly %d (1 to %d)",
			info.State.Msgs, info.State.FirstSeq, info.State.LastSeq, events, events)
	}

	if pc.ConnectedUrl() == first.ClientURL {
		t.Errorf("the publisher is still connected to %s, the stopped and restarted leader: it never failed over", first.Name)
	}

	// Publishing an entry again (an ack lost, the publication retried) is
	// recognised by its id and stored once.
	again := &nats.Msg{Subject: "relais.journal.site-a", Data: []byte(`{"seq":200,"id":"0190f3a2-0000-7000-8000-000000000200"}`), Header: nats.Header{}}
	again.Header.Set(jetstream.MsgIDHeader, "0190f3a2-0000-7000-8000-000000000200")
	ack, err := js.PublishMsg(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate || ack.Sequence != 200 {
		t.Fatalf("entry 200 published again: ack %+v, want a duplicate of sequence 200", ack)
	}
	if info, err = stream.Info(ctx); err != nil || info.State.Msgs != events {
		t.Fatalf("after a duplicate: %v, %d messages", err, info.State.Msgs)
	}

	// A durable consumer reads every entry once, in journal order.
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "site-b", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(1)
	for want <= events {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ev journalEvent
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Seq != want {
				t.Fatalf("read entry %d where entry %d was due: a gap or a duplicate", ev.Seq, want)
			}
			if h := m.Headers().Get("Relais-Seq"); h != strconv.FormatInt(ev.Seq, 10) || m.Headers().Get(jetstream.MsgIDHeader) != ev.ID {
				t.Fatalf("entry %d: headers %v do not match its body", ev.Seq, m.Headers())
			}
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
			want++
		}
		if err := batch.Error(); n == 0 && errors.Is(err, nats.ErrNoResponders) && ctx.Err() == nil {
			// The consumer was just made on a cluster that has just had a
			// node back: its leader may not be elected yet. Ask again.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if batch.Error() != nil && !errors.Is(batch.Error(), jetstream.ErrNoMessages) {
			t.Fatal(batch.Error())
		}
		if n == 0 {
			t.Fatalf("the consumer stopped at entry %d of %d", want, events)
		}
	}
	// Nothing more to read.
	extra, err := cons.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for m := range extra.Messages() {
		t.Fatalf("read one more message after the last entry: %s", m.Data())
	}
}

// createWithRetry creates the stream, waiting out a cluster still settling.
func createWithRetry(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	for {
		s, err := js.CreateOrUpdateStream(ctx, cfg)
		if err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitReplicasCurrent waits until the stream has a leader and both
// followers are current.
func waitReplicasCurrent(t *testing.T, ctx context.Context, s jetstream.Stream) *jetstream.StreamInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := s.Info(ctx)
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2 {
			current := true
			for _, r := range info.Cluster.Replicas {
				current = current && r.Current && !r.Offline
			}
			if current {
				return info
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream's replicas did not catch up: %v %+v", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
