package hl7

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadFrame(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     []string
		err      error
	}{
		{"one", "\x0bMSH|a\x1c\r", 100, []string{"MSH|a"}, io.EOF},
		{"two, whitespace between", "\x0bA\x1c\r\r\n\x0bB\x1c\r", 100, []string{"A", "B"}, io.EOF},
		{"no CR after FS", "\x0bA\x1c\x0bB\x1c\r", 100, []string{"A", "B"}, io.EOF},
		{"cut in the middle", "\x0bMSH|abc", 100, nil, io.ErrUnexpectedEOF},
		{"not MLLP", strings.Repeat("GET / HTTP/1.1\r\n", 400), 100, nil, ErrNotFramed},
		{"too large", "\x0b" + strings.Repeat("x", 200) + "\x1c\r\x0bOK\x1c\r", 100, []string{"<too large>", "OK"}, io.EOF},
	} {
		r := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
		var got []string
		var err error
		for {
			var f []byte
			f, err = ReadFrame(r, tc.max)
			if errors.Is(err, ErrFrameTooLarge) {
				if len(f) == 0 || len(f) > 1024 {
					t.Errorf("%s: head of a large frame is %d bytes", tc.name, len(f))
				}
				got = append(got, "<too large>")
				continue
			}
			if err != nil {
				break
			}
			got = append(got, string(f))
		}
		if !errors.Is(err, tc.err) || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("\x0bMSH|^~\\&|A\x1c\r"), 64)
	f.Add([]byte("junk\x0b\x0b\x1c\x1c\r\r"), 1)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 || max > 1<<20 {
			return
		}
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for range 1000 {
			f, err := ReadFrame(r, max)
			if err != nil && !errors.Is(err, ErrFrameTooLarge) {
				return
			}
			if err == nil && len(f) > max {
				t.Fatalf("frame of %d bytes over the limit %d", len(f), max)
			}
		}
	})
}

// echo answers each message with an AA built from it.
func echo(ctx context.Context, peer string, msg []byte) []byte {
	m, err := Parse(msg)
	if err != nil {
		return EncodeAck(NewAck(SalvageHeader(msg), AR, err.Error(), nil, Sender{App: "T"}, "1", time.Now()))
	}
	return EncodeAck(NewAck(m, AA, "", nil, Sender{App: "T"}, "1", time.Now()))
}

func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func msg(id string) []byte {
	return []byte("MSH|^~\\&|EHR|H|RELAIS|S|20250101||ADT^A08|" + id + "|P|2.5\rPID|||1^^^X^PI||A^B\r")
}

// A stalled sender, a sender of garbage and a sender of an oversized frame
// do not hold up a well-behaved one, and the server stays up.
func TestServerIsolatesBadPeers(t *testing.T) {
	s := &Server{Handler: HandlerFunc(echo), MaxMessageBytes: 4096, FrameTimeout: 300 * time.Millisecond,
		Reject: func(head []byte, err error) []byte {
			return EncodeAck(NewAck(SalvageHeader(head), AR, "too large", nil, Sender{App: "T"}, "R", time.Now()))
		}}
	addr := startServer(t, s)

	// Stalled: starts a frame and stops.
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write([]byte("\x0bMSH|^~\\&|SLOW"))

	// Garbage: an HTTP request.
	garbage, _ := net.Dial("tcp", addr)
	defer garbage.Close()
	garbage.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 300)))

	// Oversized: gets an AR naming its control id, then the connection
	// goes on.
	big := &Client{Addr: addr, Timeout: 5 * time.Second}
	defer big.Close()
	large := append(msg("BIG1"), []byte("NTE|1||"+strings.Repeat("x", 5000)+"\r")...)
	reply, err := big.Send(context.Background(), large)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := Parse(reply)
	if err != nil || ack.Segment("MSA").Get(1) != AR || ack.Segment("MSA").Get(2) != "BIG1" {
		t.Fatalf("oversized: %v %q", err, reply)
	}
	if reply, err = big.Send(context.Background(), msg("SMALL")); err != nil || !bytes.Contains(reply, []byte("MSA|AA|SMALL")) {
		t.Fatalf("after an oversized frame: %v %q", err, reply)
	}

	// Meanwhile, several good clients in parallel all get their ACKs.
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &Client{Addr: addr, Timeout: 5 * time.Second}
			defer cl.Close()
			for i := range 50 {
				id := fmt.Sprintf("C%d-%d", c, i)
				reply, err := cl.Send(context.Background(), msg(id))
				if err != nil || !bytes.Contains(reply, []byte("MSA|AA|"+id+"\r")) {
					t.Errorf("%s: %v %q", id, err, reply)
					return
				}
			}
		}()
	}
	wg.Wait()

	// The stalled frame is cut after FrameTimeout.
	stalled.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := stalled.Read(make([]byte, 10)); err == nil {
		t.Error("the stalled connection was answered instead of closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the stalled connection was not closed by the server")
	}
	garbage.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadAll(garbage); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Error("the garbage connection was not closed")
		}
	}
}

// A handler that panics closes its connection only.
func TestServerSurvivesPanic(t *testing.T) {
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, peer string, m []byte) []byte {
		if bytes.Contains(m, []byte("BOOM")) {
			panic("boom")
		}
		return echo(ctx, peer, m)
	})}
	addr := startServer(t, s)
	c := &Client{Addr: addr, Timeout: 2 * time.Second}
	defer c.Close()
	if _, err := c.Send(context.Background(), msg("BOOM")); err == nil {
		t.Fatal("a panicking handler answered")
	}
	if reply, err := c.Send(context.Background(), msg("AFTER")); err != nil || !bytes.Contains(reply, []byte("MSA|AA|AFTER")) {
		t.Fatalf("after a panic: %v %q", err, reply)
	}
}
