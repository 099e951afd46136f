package hl7

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MLLP, the Minimal Lower Layer Protocol (HL7 v2.5 Appendix C, release 2):
// each message travels as <VT> message <FS><CR>, and the receiver answers
// each one, in order, on the same connection.
const (
	StartBlock = 0x0B // <VT>
	EndBlock   = 0x1C // <FS>
	CarriageRe = 0x0D // <CR>
)

// Framing errors.
var (
	ErrFrameTooLarge = errors.New("mllp: message larger than the limit")
	ErrNotFramed     = errors.New("mllp: data outside an MLLP frame (a message starts with 0x0B)")
)

// maxJunk is how many stray bytes between frames are skipped before the
// peer is taken for something that does not speak MLLP.
const maxJunk = 4096

// ReadFrame reads one frame and returns the message inside it. Whitespace
// between frames is skipped. A frame longer than max is read to its end and
// discarded: the error is ErrFrameTooLarge and the returned bytes are its
// first kilobyte, enough to name the sender in a reject.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	junk := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == StartBlock {
			break
		}
		junk++
		if junk > maxJunk {
			return nil, ErrNotFramed
		}
	}
	var msg []byte
	tooLarge := false
	for {
		chunk, err := r.ReadSlice(EndBlock)
		if len(chunk) > 0 && !tooLarge {
			if len(msg)+len(chunk) > max+1 {
				tooLarge = true
				keep := min(1024, len(msg)+len(chunk))
				if len(msg) < keep {
					msg = append(msg, chunk[:keep-len(msg)]...)
				}
				msg = msg[:keep]
			} else {
				msg = append(msg, chunk...)
			}
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if !tooLarge {
		msg = msg[:len(msg)-1] // the end block
	}
	if c, err := r.ReadByte(); err == nil && c != CarriageRe {
		r.UnreadByte() // a sender that omits the CR: tolerated
	}
	if tooLarge {
		return msg, ErrFrameTooLarge
	}
	return msg, nil
}

// WriteFrame writes msg in one frame.
func WriteFrame(w io.Writer, msg []byte) error {
	buf := make([]byte, 0, len(msg)+3)
	buf = append(buf, StartBlock)
	buf = append(buf, msg...)
	buf = append(buf, EndBlock, CarriageRe)
	_, err := w.Write(buf)
	return err
}

// Client sends messages over one MLLP connection and reads each answer. It
// dials on first use and again after any error. It is safe for concurrent
// use; messages are sent one at a time.
type Client struct {
	Addr      string
	TLSConfig *tls.Config   // nil: plain TCP
	Timeout   time.Duration // per message, dial included (default 30 s)
	MaxReply  int           // default 1 MiB

	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// Send sends msg and returns the reply message (not parsed).
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if c.conn == nil {
		dialer := &net.Dialer{Deadline: deadline}
		var conn net.Conn
		var err error
		if c.TLSConfig != nil {
			conn, err = (&tls.Dialer{NetDialer: dialer, Config: c.TLSConfig}).DialContext(ctx, "tcp", c.Addr)
		} else {
			conn, err = dialer.DialContext(ctx, "tcp", c.Addr)
		}
		if err != nil {
			return nil, fmt.Errorf("mllp: connect to %s: %w", c.Addr, err)
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 64<<10)
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()
	if err := WriteFrame(c.conn, msg); err != nil {
		c.closeLocked()
		return nil, fmt.Errorf("mllp: send to %s: %w", c.Addr, err)
	}
	max := c.MaxReply
	if max == 0 {
		max = 1 << 20
	}
	reply, err := ReadFrame(c.r, max)
	if err != nil {
		c.closeLocked()
		return nil, fmt.Errorf("mllp: no answer from %s: %w", c.Addr, err)
	}
	return reply, nil
}

// Close closes the connection, if open.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked()
}

func (c *Client) closeLocked() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.r = nil, nil
	return err
}
