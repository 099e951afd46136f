package aid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relais-onco/relais"
)

// JetStream is the Transport over NATS JetStream: nc is a connection to the
// site's own server (a leaf node of the regional hub, with its own
// JetStream domain), on which the site's stream lives.
type JetStream struct {
	nc *nats.Conn
	js jetstream.JetStream
	// AckWait bounds the wait for a destination's acknowledgement (5 s by
	// default): a destination whose link is down is tried again later.
	AckWait time.Duration
}

// Subject is where a message from one site to another travels.
func Subject(from, to, kind string) string { return "relais.aid." + from + "." + to + "." + kind }

// StreamName is the stream holding the messages addressed to site.
func StreamName(site string) string {
	var b strings.Builder
	b.WriteString("AID_")
	for _, r := range strings.ToUpper(site) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ConsumerName is the receiving site's durable consumer on its stream.
const ConsumerName = "aid"

// NewJetStream prepares the transport on nc.
func NewJetStream(nc *nats.Conn) (*JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, relais.E("aid.transport", relais.KindUnavailable, "JetStream is not available on this connection", err)
	}
	return &JetStream{nc: nc, js: js, AckWait: 5 * time.Second}, nil
}

// validSite refuses a site id that cannot be a subject token.
func validSite(field, site string) error {
	if site == "" || strings.ContainsAny(site, ".*> \t\r\n") {
		return relais.Invalid("aid.transport", field, "site id %q cannot name a subject: letters, digits and hyphens only", site)
	}
	return nil
}

// Setup creates (or updates) site's stream and durable consumer in the
// local JetStream domain. It is idempotent.
func (t *JetStream) Setup(ctx context.Context, site string) (jetstream.Consumer, error) {
	if err := validSite("site", site); err != nil {
		return nil, err
	}
	s, err := t.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName(site),
		Description: "Relais mutual-aid messages addressed to " + site,
		Subjects:    []string{"relais.aid.*." + site + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  24 * time.Hour,
	})
	if err != nil {
		return nil, relais.E("aid.transport", relais.KindUnavailable, "the mutual-aid stream cannot be created", err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 1, // in order, one at a time
	})
	if err != nil {
		return nil, relais.E("aid.transport", relais.KindUnavailable, "the mutual-aid consumer cannot be created", err)
	}
	return c, nil
}

// Publish sends m and waits for the destination stream's acknowledgement.
func (t *JetStream) Publish(ctx context.Context, m relais.AidMessage) error {
	if err := validSite("to", m.To); err != nil {
		return err
	}
	if err := validSite("from", m.From); err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(Subject(m.From, m.To, m.Kind))
	msg.Data = data
	ctx, cancel := context.WithTimeout(ctx, t.AckWait)
	defer cancel()
	ack, err := t.js.PublishMsg(ctx, msg, jetstream.WithMsgID(string(m.ID)), jetstream.WithExpectStream(StreamName(m.To)))
	if err != nil {
		return relais.E("aid.publish", relais.KindUnavailable, fmt.Sprintf("%s did not acknowledge message %s (%s): its link may be down; it will be sent again", m.To, m.ID, m.Kind), err)
	}
	if ack.Stream != StreamName(m.To) {
		return relais.E("aid.publish", relais.KindIntegrity, fmt.Sprintf("message %s for %s was stored by stream %s", m.ID, m.To, ack.Stream))
	}
	return nil
}

// Receive fetches site's messages in order until ctx ends.
func (t *JetStream) Receive(ctx context.Context, site string, handle func(context.Context, relais.AidMessage) error) error {
	c, err := t.Setup(ctx, site)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		batch, err := c.Fetch(10, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			select { // the server may be restarting: wait, then try again
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		for msg := range batch.Messages() {
			var m relais.AidMessage
			if err := json.Unmarshal(msg.Data(), &m); err != nil || m.ID == "" {
				msg.Term() // not a message of ours: nothing will ever read it
				continue
			}
			err := handle(ctx, m)
			var final Final
			switch {
			case err == nil || errors.As(err, &final):
				msg.DoubleAck(ctx)
			default:
				msg.NakWithDelay(2 * time.Second)
			}
		}
	}
	return nil
}
