package sinktest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/webtrack/webtrack/shared/sink"
)

// LogstoreDown is a sink whose Puts for one logstore fail as unavailable, as
// if that logstore's storage were down, while the others reach Sink.
type LogstoreDown struct {
	sink.Sink
	Logstore string
}

// Put fails b if it is for the logstore that is down, and stores it otherwise.
func (d LogstoreDown) Put(ctx context.Context, b *sink.Batch) error {
	if b.Logstore == d.Logstore {
		return sink.Unavailable(errors.New(d.Logstore + " is down"))
	}
	return d.Sink.Put(ctx, b)
}

// Countdown is how many of the next requests a fault injector is to fail.
type Countdown struct{ atomic.Int64 }

// Take decrements the count if it is positive and says whether it did.
func (c *Countdown) Take() bool {
	for {
		v := c.Load()
		if v <= 0 {
			return false
		}
		if c.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// Gate makes a fault injector's requests wait while it is held, as a server
// that hangs, and lets them all go on when released. The zero Gate is open.
type Gate struct {
	mu sync.Mutex
	ch chan struct{}
}

// Hold makes requests that arrive from now on wait; holding a held gate
// does nothing.
func (g *Gate) Hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
}

// Release lets every waiting request go on and opens the gate.
func (g *Gate) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

// Held returns, while the gate is held, a channel that closes when it is
// released; nil while it is open.
func (g *Gate) Held() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ch
}
