package hl7

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Handler answers one message: it returns the bytes of the acknowledgement
// to send back. It is called for one connection at a time, in order; calls
// for different connections run concurrently.
type Handler interface {
	ServeHL7(ctx context.Context, peer string, msg []byte) []byte
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, peer string, msg []byte) []byte

func (f HandlerFunc) ServeHL7(ctx context.Context, peer string, msg []byte) []byte {
	return f(ctx, peer, msg)
}

// Server accepts MLLP connections, one goroutine each. A connection that
// sends a malformed or oversized frame gets a reject (or is closed, when it
// does not speak MLLP at all); a connection that stalls mid-frame is cut at
// FrameTimeout. Neither affects the others.
type Server struct {
	Handler Handler
	// Reject builds the answer to a frame that could not be read whole (too
	// large); nil closes the connection instead.
	Reject          func(head []byte, err error) []byte
	MaxMessageBytes int           // default 4 MiB
	IdleTimeout     time.Duration // between messages; default 30 min
	FrameTimeout    time.Duration // from a frame's first byte to its last; default 60 s
	WriteTimeout    time.Duration // default 30 s
	MaxConns        int           // default 256; more are refused
	TLSConfig       *tls.Config   // nil: plain TCP (behind the hospital's network controls)
	Log             *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closing  bool
	ctx      context.Context
	cancelFn context.CancelFunc
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("mllp: server closed")

func (s *Server) defaults() {
	if s.MaxMessageBytes == 0 {
		s.MaxMessageBytes = 4 << 20
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = 30 * time.Minute
	}
	if s.FrameTimeout == 0 {
		s.FrameTimeout = 60 * time.Second
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = 30 * time.Second
	}
	if s.MaxConns == 0 {
		s.MaxConns = 256
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.defaults()
	if s.TLSConfig != nil {
		ln = tls.NewListener(ln, s.TLSConfig)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.conns = map[net.Conn]struct{}{}
	s.ctx, s.cancelFn = context.WithCancel(context.Background())
	s.mu.Unlock()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			// Too many open files and the like: back off, as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			s.Log.Warn("hl7: accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.mu.Lock()
		if len(s.conns) >= s.MaxConns || s.closing {
			s.mu.Unlock()
			s.Log.Warn("hl7: connection refused: too many connections", "peer", conn.RemoteAddr().String(), "max", s.MaxConns)
			conn.Close()
			continue
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(conn)
	}
}

// Addr is the address Serve listens on (nil before Serve).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting, lets each connection finish the message it is
// handling (its answer is sent), closes them, and waits until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.SetReadDeadline(time.Now()) // idle readers wake up; a handler in progress finishes
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		if s.cancelFn != nil {
			s.cancelFn()
		}
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		if s.cancelFn != nil {
			s.cancelFn()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *Server) serveConn(conn net.Conn) {
	peer := conn.RemoteAddr().String()
	defer func() {
		if v := recover(); v != nil {
			s.Log.Error("hl7: panic serving a connection; it is closed, the others go on", "peer", peer, "panic", v)
		}
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.wg.Done()
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			return
		}
		conn.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		if _, err := r.Peek(1); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				s.Log.Info("hl7: connection ended", "peer", peer, "err", err)
			}
			return
		}
		conn.SetReadDeadline(time.Now().Add(s.FrameTimeout))
		msg, err := ReadFrame(r, s.MaxMessageBytes)
		var reply []byte
		switch {
		case errors.Is(err, ErrFrameTooLarge) && s.Reject != nil:
			s.Log.Warn("hl7: message too large, rejected", "peer", peer, "max_bytes", s.MaxMessageBytes)
			reply = s.Reject(msg, err)
		case err != nil:
			if !errors.Is(err, io.EOF) {
				s.Log.Warn("hl7: unreadable frame; connection closed", "peer", peer, "err", err)
			}
			return
		default:
			reply = s.Handler.ServeHL7(s.ctx, peer, msg)
		}
		if reply == nil {
			continue
		}
		conn.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
		if err := WriteFrame(conn, reply); err != nil {
			s.Log.Warn("hl7: answer not delivered; connection closed", "peer", peer, "err", err)
			return
		}
	}
}
