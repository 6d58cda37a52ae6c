// Package groupcommit lets concurrent requests share one write, as a
// database's group commit lets concurrent transactions share one log flush.
// It wraps any sink.Sink: requests whose entries belong in the same object
// (same project, logstore and UTC hour) queue up while a write for that
// partition is in flight, and when it returns, everything that queued goes
// out as one write. A request that finds nothing in flight is written at
// once, so light traffic waits no longer than without it, and groups grow
// only with load.
//
// Each request is answered when the write that carries its entries returns:
// nil for every member, or the same error for every member. A group's
// entries are one sink.Batch, each member's lines contiguous and in the
// order the members arrived; the batch's RequestID is its first member's,
// and every line names its own request (__tag__:__request_id__).
//
// Deadlines: a member whose deadline passes while it still waits for its
// group's turn leaves the group, answers an error wrapping
// sink.ErrUnavailable, and nothing of it is stored. Once a group's write has
// begun, no member leaves: the write's deadline is the earliest of its
// members' deadlines, so every member has its answer within its own.
package groupcommit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
)

// Options bound the groups.
type Options struct {
	// MaxBytes bounds a group's NDJSON; a request that would pass it starts
	// the next group. A request larger on its own is written alone.
	MaxBytes int
	// MaxEntries bounds a group's entries in the same way.
	MaxEntries int
	// Linger lets a group wait this long for more members before its write
	// begins, even when nothing is in flight: larger objects for added
	// latency. Zero writes at once.
	Linger time.Duration
}

// DefaultOptions are 16 MiB and 100,000 entries per group, and no linger.
func DefaultOptions() Options {
	return Options{MaxBytes: 16 << 20, MaxEntries: 100_000}
}

// Sink is a sink.Sink that groups concurrent Puts for one partition.
type Sink struct {
	inner      sink.Sink
	opts       Options
	mu         sync.Mutex
	partitions map[partitionKey]*partition
	buffers    sync.Pool
}

// New wraps inner.
func New(inner sink.Sink, opts Options) *Sink {
	return &Sink{inner: inner, opts: opts, partitions: map[partitionKey]*partition{}}
}

// partitionKey names the object a batch's entries belong in.
type partitionKey struct {
	project, logstore string
	hour              int64
}

func keyOf(b *sink.Batch) partitionKey {
	return partitionKey{b.Project, b.Logstore, b.ReceivedAt.Unix() / 3600}
}

// partition is one partition's write in flight and the groups waiting for it.
type partition struct {
	busy  bool
	queue []*group
}

// group is the members that go out in one write.
type group struct {
	members []*member
	bytes   int
	entries int
	ripe    bool // its linger has passed, or a later group formed behind it
	done    chan struct{}
	err     error
}

type member struct {
	batch *sink.Batch
	ctx   context.Context
}

// Put stores b, alone or with the requests that queue with it, and returns
// when the write that carries it returns.
func (s *Sink) Put(ctx context.Context, b *sink.Batch) error {
	k := keyOf(b)
	s.mu.Lock()
	p := s.partitions[k]
	if p == nil {
		p = &partition{}
		s.partitions[k] = p
	}
	if !p.busy && len(p.queue) == 0 && s.opts.Linger <= 0 {
		p.busy = true // nothing in flight: written at once, alone
		s.mu.Unlock()
		err := s.inner.Put(ctx, b)
		s.finish(k, p)
		return err
	}
	m := &member{batch: b, ctx: ctx}
	g := s.join(k, p, m)
	s.mu.Unlock()

	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	if i := slices.Index(p.queue, g); i >= 0 { // not begun: leave it
		g.remove(m)
		if len(g.members) == 0 {
			p.queue = slices.Delete(p.queue, i, i+1)
			s.startNext(k, p)
		}
		s.mu.Unlock()
		return sink.Unavailable(fmt.Errorf("request %s left its group unwritten: %w while the partition's write was in flight", b.RequestID, ctx.Err()))
	}
	s.mu.Unlock()
	<-g.done // begun: its deadline is at most ours
	return g.err
}

// join adds m to the last waiting group of p, or to a new one if it would
// pass the group's limits. It is called with s.mu held.
func (s *Sink) join(k partitionKey, p *partition, m *member) *group {
	n := len(m.batch.NDJSON)
	var g *group
	if last := len(p.queue) - 1; last >= 0 {
		g = p.queue[last]
		if g.bytes+n > s.opts.MaxBytes || g.entries+m.batch.Entries > s.opts.MaxEntries {
			g.ripe = true // full: it goes as soon as the partition is free
			g = nil
		}
	}
	if g == nil {
		g = &group{done: make(chan struct{}), ripe: s.opts.Linger <= 0}
		p.queue = append(p.queue, g)
		if !g.ripe {
			time.AfterFunc(s.opts.Linger, func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				g.ripe = true
				s.startNext(k, p)
			})
		}
	}
	g.members = append(g.members, m)
	g.bytes += n
	g.entries += m.batch.Entries
	s.startNext(k, p)
	return g
}

// startNext begins the write of p's first group if p is free and the group
// is ripe. It is called with s.mu held.
func (s *Sink) startNext(k partitionKey, p *partition) {
	if p.busy {
		return
	}
	if len(p.queue) == 0 {
		if s.partitions[k] == p {
			delete(s.partitions, k)
		}
		return
	}
	g := p.queue[0]
	if !g.ripe {
		return
	}
	// Out of the queue, the group is closed: nobody joins or leaves it, so
	// its members' batches stay valid until its write returns.
	p.queue = p.queue[1:]
	p.busy = true
	go func() {
		ctx, cancel, batch := s.assemble(g)
		g.err = s.inner.Put(ctx, batch)
		cancel()
		if len(g.members) > 1 {
			s.release(batch)
		}
		close(g.done)
		s.finish(k, p)
	}()
}

// finish marks p's write as returned and begins the next one.
func (s *Sink) finish(k partitionKey, p *partition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.busy = false
	s.startNext(k, p)
}

// assemble builds a closed group's batch and the context of its write: no
// cancellation, and the earliest of its members' deadlines.
func (s *Sink) assemble(g *group) (context.Context, context.CancelFunc, *sink.Batch) {
	first := g.members[0]
	ctx, cancel := context.WithoutCancel(first.ctx), context.CancelFunc(func() {})
	var deadline time.Time
	for _, m := range g.members {
		if d, ok := m.ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
			deadline = d
		}
	}
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	if len(g.members) == 1 {
		return ctx, cancel, first.batch
	}
	b := *first.batch
	b.Entries = g.entries
	b.NDJSON = s.buffer(g.bytes)
	for _, m := range g.members {
		b.NDJSON = append(b.NDJSON, m.batch.NDJSON...)
	}
	return ctx, cancel, &b
}

// maxPooledBuffer keeps one outsized group from pinning memory in the pool.
const maxPooledBuffer = 32 << 20

func (s *Sink) buffer(n int) []byte {
	if buf, ok := s.buffers.Get().(*[]byte); ok && cap(*buf) >= n {
		return (*buf)[:0]
	}
	return make([]byte, 0, n)
}

func (s *Sink) release(b *sink.Batch) {
	if cap(b.NDJSON) <= maxPooledBuffer {
		buf := b.NDJSON[:0]
		s.buffers.Put(&buf)
	}
}

// MaxLineBytes is the wrapped sink's, so that a line it cannot carry is
// refused before it could fail a whole group.
func (s *Sink) MaxLineBytes() int { return sink.MaxLineBytes(s.inner) }

// Close closes the wrapped sink.
func (s *Sink) Close() error { return s.inner.Close() }

// remove takes m, which waits in g, out of it.
func (g *group) remove(m *member) {
	g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
	g.bytes -= len(m.batch.NDJSON)
	g.entries -= m.batch.Entries
}
