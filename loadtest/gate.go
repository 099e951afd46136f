package loadtest

import (
	"context"
	"sync"
)

// gate holds the simulated people while the server is down on purpose (the
// crash campaign): a request waits at the gate; the epoch counts crashes,
// so that a request cut by one is told apart from a real failure.
type gate struct {
	mu     sync.Mutex
	closed bool
	ch     chan struct{} // closed when the gate opens
	epoch  uint64
}

func newGate() *gate {
	ch := make(chan struct{})
	close(ch)
	return &gate{ch: ch}
}

// wait returns once the gate is open, with the current crash epoch.
func (g *gate) wait(ctx context.Context) (uint64, error) {
	for {
		g.mu.Lock()
		ch, closed, epoch := g.ch, g.closed, g.epoch
		g.mu.Unlock()
		if !closed {
			return epoch, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// crash closes the gate and starts a new epoch: call it just before
// killing the server.
func (g *gate) crash() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.epoch++
	if !g.closed {
		g.closed = true
		g.ch = make(chan struct{})
	}
}

// open lets the people through again.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.ch)
	}
}

// crashedSince reports whether a crash began after a request that started
// in epoch, or the gate is closed now (the server is down on purpose).
func (g *gate) crashedSince(epoch uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed || g.epoch != epoch
}
