// Package aid carries the mutual-aid messages between the sites of the
// network (issue 12, docs/mutual-aid.md): agreements, hand-overs, notices
// (in production, shipped, received, refused, handed back) and hand-back
// requests. The store (sqlstore) decides and journals; this package only
// moves its outbox to the other site and the other site's messages into
// its inbox.
//
// Conventions, the same as the network's journal replication:
//   - a message is addressed from one site to another, on the subject
//     relais.aid.<from>.<to>.<kind>;
//   - each receiving site keeps a stream of the messages addressed to it in
//     its own JetStream domain (stream AID_<SITE>, subjects
//     relais.aid.*.<site>.>), read by one durable consumer ("aid"): its
//     position is the cursor, so a site whose link was down catches up;
//   - a sender publishes each message with Nats-Msg-Id = the message id and
//     waits for the destination stream's acknowledgement before marking it
//     sent; until then it stays in the sender's outbox and is sent again
//     (the stream's duplicate window and the receiver's inbox make a second
//     delivery harmless);
//   - applying a message is idempotent (the store's inbox, by message id).
//
// The transport is behind Transport, so that the network node can carry
// the same messages later.
package aid

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/relais-onco/relais"
)

// Transport moves messages between sites.
type Transport interface {
	// Publish sends m to m.To and returns once the destination has
	// acknowledged it (stored it durably).
	Publish(ctx context.Context, m relais.AidMessage) error
	// Receive hands the messages addressed to site, in order, to handle,
	// until ctx ends. A message is acknowledged when handle returns nil or
	// a Final error, and delivered again later after any other error.
	Receive(ctx context.Context, site string, handle func(context.Context, relais.AidMessage) error) error
}

// Final marks an error that delivering the message again will not cure:
// the message is acknowledged (the store recorded it as failed).
type Final struct{ Err error }

func (f Final) Error() string { return f.Err.Error() }
func (f Final) Unwrap() error { return f.Err }

// Store is the site's side: its outbox and its inbox (sqlstore.DB).
type Store interface {
	PendingAidMessages(ctx context.Context, limit int) ([]relais.AidMessage, error)
	MarkAidSent(ctx context.Context, id relais.ID, sendErr error) error
	ApplyAidMessage(ctx context.Context, m relais.AidMessage) (string, error)
}

// Link joins a site's store to the transport.
type Link struct {
	Site      string
	Store     Store
	Transport Transport
	Log       *slog.Logger
	// Interval between two passes over the outbox (1 s by default).
	Interval time.Duration
}

func (l *Link) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

func (l *Link) system(ctx context.Context) context.Context {
	return relais.WithActor(ctx, relais.SystemActor(l.Site))
}

// Flush publishes the outbox in order and returns how many messages were
// acknowledged. It stops at the first failure, so that messages keep their
// order; the failure is recorded on the message and returned.
func (l *Link) Flush(ctx context.Context) (int, error) {
	ctx = l.system(ctx)
	sent := 0
	for {
		msgs, err := l.Store.PendingAidMessages(ctx, 100)
		if err != nil {
			return sent, err
		}
		if len(msgs) == 0 {
			return sent, nil
		}
		for _, m := range msgs {
			perr := l.Transport.Publish(ctx, m)
			if err := l.Store.MarkAidSent(ctx, m.ID, perr); err != nil {
				return sent, err
			}
			if perr != nil {
				return sent, perr
			}
			sent++
		}
	}
}

// Apply applies one received message: a transient fault is returned as is
// (delivered again), any other failure as Final.
func (l *Link) Apply(ctx context.Context, m relais.AidMessage) error {
	outcome, err := l.Store.ApplyAidMessage(l.system(ctx), m)
	if err != nil {
		k := relais.ErrorKind(err)
		if k == relais.KindOther || k == relais.KindUnavailable {
			l.log().Warn("aid: message not applied, will retry", "id", m.ID, "from", m.From, "kind", m.Kind, "err", err)
			return err
		}
		l.log().Error("aid: message refused", "id", m.ID, "from", m.From, "kind", m.Kind, "err", err)
		return Final{err}
	}
	l.log().Info("aid: message applied", "id", m.ID, "from", m.From, "kind", m.Kind, "outcome", outcome)
	return nil
}

// Run receives and publishes until ctx ends.
func (l *Link) Run(ctx context.Context) error {
	every := l.Interval
	if every <= 0 {
		every = time.Second
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Transport.Receive(ctx, l.Site, l.Apply) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := l.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.log().Warn("aid: outbox not flushed, will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-tick.C:
		}
	}
}
