package outbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"strings"
	"time"

	"github.com/relais-onco/relais/hl7"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Transport sends one payload; the string is the peer's answer, kept with
// the message.
type Transport interface {
	Send(ctx context.Context, payload []byte) (reply string, err error)
}

// MLLPTransport sends HL7 messages to an EHR and requires an AA (or CA).
type MLLPTransport struct {
	Client *hl7.Client
}

// Send sends and reads the acknowledgement.
func (t *MLLPTransport) Send(ctx context.Context, payload []byte) (string, error) {
	reply, err := t.Client.Send(ctx, payload)
	if err != nil {
		return "", err
	}
	ack, err := hl7.Parse(reply)
	if err != nil {
		return string(reply), fmt.Errorf("the EHR's answer is not an HL7 message: %v", err)
	}
	msa := ack.Segment("MSA")
	switch code := msa.Get(1); code {
	case hl7.AA, "CA":
		return strings.ReplaceAll(string(reply), "\r", "\n"), nil
	default:
		why := msa.Get(3)
		if e := ack.Segment("ERR"); e != nil {
			why = strings.TrimSpace(why + " " + e.Get(8) + " " + e.Comp(3, 2))
		}
		return strings.ReplaceAll(string(reply), "\r", "\n"), fmt.Errorf("the EHR answered %s: %s", code, why)
	}
}

// SMTPTransport submits mails to an MSSanté operator's server. STARTTLS is
// required: a server that does not offer it is refused, the message is not
// sent in clear.
type SMTPTransport struct {
	Addr      string // host:port
	From      string
	To        []string
	Username  string
	Password  string
	TLSConfig *tls.Config // nil: system roots, server name from Addr
	Timeout   time.Duration
}

// NewSMTPTransport reads a destination's secrets and CA.
func NewSMTPTransport(d Destination) (*SMTPTransport, error) {
	t := &SMTPTransport{Addr: d.SMTPAddr, From: d.From, To: d.To, Username: d.Username}
	if d.PasswordFile != "" {
		b, err := os.ReadFile(d.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		t.Password = strings.TrimSpace(string(b))
	}
	host, _, err := net.SplitHostPort(d.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("destination %s: smtp_addr %q: %w", d.Name, d.SMTPAddr, err)
	}
	t.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if d.CAFile != "" {
		pem, err := os.ReadFile(d.CAFile)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("destination %s: %s holds no PEM certificate", d.Name, d.CAFile)
		}
		t.TLSConfig.RootCAs = pool
	}
	return t, nil
}

// Send submits one mail.
func (t *SMTPTransport) Send(ctx context.Context, payload []byte) (string, error) {
	timeout := t.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn, err := (&net.Dialer{Deadline: deadline}).DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return "", fmt.Errorf("smtp: connect to %s: %w", t.Addr, err)
	}
	conn.SetDeadline(deadline)
	host, _, _ := net.SplitHostPort(t.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return "", fmt.Errorf("smtp: %s: %w", t.Addr, err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return "", fmt.Errorf("smtp: EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return "", errors.New("smtp: the server does not offer STARTTLS: the message is not sent in clear")
	}
	cfg := t.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if err := c.StartTLS(cfg); err != nil {
		return "", fmt.Errorf("smtp: STARTTLS: %w", err)
	}
	if t.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", t.Username, t.Password, host)); err != nil {
			return "", fmt.Errorf("smtp: authentication: %w", err)
		}
	}
	if err := c.Mail(t.From); err != nil {
		return "", fmt.Errorf("smtp: MAIL FROM %s: %w", t.From, err)
	}
	for _, to := range t.To {
		if err := c.Rcpt(to); err != nil {
			return "", fmt.Errorf("smtp: RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return "", fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("smtp: the server refused the message: %w", err)
	}
	c.Quit()
	return "250 accepted by " + t.Addr, nil
}

func helloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "relais.localdomain"
	}
	return h
}
