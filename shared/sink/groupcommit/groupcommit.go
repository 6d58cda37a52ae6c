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
// # Deadlines
//
// A request that queues waits for the write in flight and then for its
// group's write: up to two writes' time, where alone it takes one. With a
// slow sink that is more than a deadline allows, and a group's write, which
// ends at its earliest member's deadline, ended at once when that member was
// already out of time: a sink taking 600 ms, 1 s deadlines and a request
// every 50 ms stored 1 request of 60, against 60 written alone. So group
// commit keeps to what it can do in time:
//
//   - A write is expected to take as long as the longest of the last 16
//     writes (or as the write in flight has taken so far, if longer), with
//     a quarter to spare for jitter. The longest, not an average: a group
//     that misses its deadline fails all its members, so the estimate errs
//     towards writing alone. Until 16 writes have returned, a write is
//     taken to last at least ColdWriteEstimate (1 s).
//   - A request with a deadline queues only if its group is expected to
//     end before it. Otherwise it is written at once, alone, beside the
//     write in flight, as without group commit.
//     The same rule keeps a group from lingering (Options.Linger) longer
//     than its members can afford. A request without a deadline always
//     queues.
//   - A queued request whose group has not begun by its deadline less an
//     expected write leaves the group and is written alone.
//   - When a group's write begins, a member whose deadline does not leave
//     an expected write is written alone instead, so that it cannot cut
//     the others' write short.
//
// No request makes more than one write of its own, so group commit never
// makes more writes than writing each request alone. Measured with a sink
// of fixed latency L, 1 s deadlines and a request every 50 ms
// (TestSlowSinkStoresAsMuchAsWritingAlone), every request is stored with and
// without group commit from L = 200 ms to 800 ms; once warm, 30 requests
// take 9 writes at L = 200 ms, 22 at 600 ms and 30 at 800 ms. With 200
// requests 25 ms apart and latencies spread uniformly over 200-400, 300-600,
// 100-700 or 50-950 ms, it stored all 200 in three runs of each, as writing
// alone did, in about 43, 160, 185 and 200 writes. Trusting an average
// latency, or the first write's, lost whole groups there: a group whose
// write overruns fails all its members.
//
// A group's write ends at the earliest of its members' deadlines, which the
// rules above keep beyond its expected end: every member is answered within
// its own deadline, and with the truth about the write that carried it. A
// write that ran on to its latest member's deadline while earlier members
// answered 503 at theirs would store data whose clients were told it
// failed, and which they send again. A member whose context is cancelled
// while it waits leaves its group unwritten with an error wrapping
// sink.ErrUnavailable. A write that runs out of time answers every member
// the sink's error; as without group commit, the back end may still have
// stored the object (a PUT that completed as the client gave up), and a
// client that sends the request again then has it stored twice: delivery
// is at least once, never less.
//
// A panic in the wrapped sink is recovered and logged with its stack; every
// request of that write answers an error that is not retryable (the
// processor's 500), and the instance, its other requests and the partition
// go on.
package groupcommit

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
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
	recent     [16]time.Duration // the last writes' durations
	observed   int               // writes returned
	latency    time.Duration     // the longest in recent
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
	since time.Time // when the write in flight began
	queue []*group
}

// group is the members that go out in one write.
type group struct {
	members []*member
	bytes   int
	entries int
	formed  time.Time
	ripe    bool // its linger has passed, or a later group formed behind it
}

// member is one request in a group, answered when its write returns.
type member struct {
	batch    *sink.Batch
	ctx      context.Context
	deadline time.Time // ctx's, or zero
	queued   bool      // its group waits in the partition's queue
	done     chan struct{}
	err      error
}

func (m *member) answer(err error) {
	m.err = err
	close(m.done)
}

// Put stores b, alone or with the requests that queue with it, and returns
// when the write that carries it returns.
func (s *Sink) Put(ctx context.Context, b *sink.Batch) error {
	k := keyOf(b)
	s.mu.Lock()
	p := s.partitions[k]
	if p == nil {
		p = &partition{}
	}
	if !p.busy && len(p.queue) == 0 && s.opts.Linger <= 0 {
		p.busy, p.since = true, time.Now() // nothing in flight: written at once, alone
		s.partitions[k] = p
		s.mu.Unlock()
		took, err := s.put(ctx, b, 1)
		s.finish(k, p, took)
		return err
	}
	if !s.canWait(ctx, p, b) {
		s.mu.Unlock()
		return s.alone(ctx, b)
	}
	s.partitions[k] = p
	m := &member{batch: b, ctx: ctx, done: make(chan struct{})}
	m.deadline, _ = ctx.Deadline()
	g := s.join(k, p, m)
	var leave <-chan time.Time // when it must leave to be written alone in time
	if !m.deadline.IsZero() {
		t := time.NewTimer(time.Until(m.deadline.Add(-withSpare(s.estimate(p)))))
		defer t.Stop()
		leave = t.C
	}
	s.mu.Unlock()

	select {
	case <-m.done:
		return m.err
	case <-ctx.Done():
	case <-leave:
	}
	s.mu.Lock()
	if !m.queued { // its write has begun, or it was sent to write alone
		s.mu.Unlock()
		<-m.done
		return m.err
	}
	m.queued = false
	g.remove(m)
	if len(g.members) == 0 {
		p.queue = slices.DeleteFunc(p.queue, func(x *group) bool { return x == g })
		s.startNext(k, p)
	}
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return sink.Unavailable(fmt.Errorf("request %s left its group unwritten: %w while the partition's write was in flight", b.RequestID, err))
	}
	return s.alone(ctx, b) // the writes ahead ran late: alone, it may still be in time
}

// alone writes b by itself, at once.
func (s *Sink) alone(ctx context.Context, b *sink.Batch) error {
	took, err := s.put(ctx, b, 1)
	s.mu.Lock()
	s.observe(took)
	s.mu.Unlock()
	return err
}

// canWait says whether b, due by ctx's deadline, can queue in p: whether
// the group it would join is expected to end a quarter of a write's time
// before that deadline. It is called with s.mu held.
func (s *Sink) canWait(ctx context.Context, p *partition, b *sink.Batch) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return true
	}
	now, est := time.Now(), s.estimate(p)
	free := now // when the partition's write in flight is expected to end
	if p.busy {
		free = later(free, p.since.Add(est))
	}
	ahead, lingerEnd := len(p.queue), now.Add(s.opts.Linger)
	if ahead > 0 && s.fits(p.queue[ahead-1], b) {
		ahead--
		lingerEnd = p.queue[ahead].formed.Add(s.opts.Linger)
	}
	start := free.Add(time.Duration(ahead) * est) // after the groups ahead
	if s.opts.Linger > 0 {
		start = later(start, lingerEnd)
	}
	return !start.Add(withSpare(est)).After(deadline)
}

// estimate is how long a write to p is expected to take: as long as the
// longest recent write, or as p's write in flight has taken so far if that
// is longer. It is called with s.mu held.
func (s *Sink) estimate(p *partition) time.Duration {
	latency := s.latency
	if s.observed < len(s.recent) {
		latency = max(latency, ColdWriteEstimate)
	}
	if p.busy {
		return max(latency, time.Since(p.since))
	}
	return latency
}

// ColdWriteEstimate is how long a write is taken to last, at the least,
// until 16 writes have returned: long for an object store's PUT, so that
// only requests with several times that left (as the processor's 10 s sink
// timeout gives) queue before the sink's latency is known.
const ColdWriteEstimate = time.Second

// withSpare is a write's expected time d with a quarter to spare, for the
// jitter of a real store.
func withSpare(d time.Duration) time.Duration { return d + d/4 }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// fits says whether b can join g within the group limits.
func (s *Sink) fits(g *group, b *sink.Batch) bool {
	return g.bytes+len(b.NDJSON) <= s.opts.MaxBytes && g.entries+b.Entries <= s.opts.MaxEntries
}

// join adds m to the last waiting group of p, or to a new one if it would
// pass the group's limits. It is called with s.mu held.
func (s *Sink) join(k partitionKey, p *partition, m *member) *group {
	var g *group
	if last := len(p.queue) - 1; last >= 0 {
		g = p.queue[last]
		if !s.fits(g, m.batch) {
			g.ripe = true // full: it goes as soon as the partition is free
			g = nil
		}
	}
	if g == nil {
		g = &group{formed: time.Now(), ripe: s.opts.Linger <= 0}
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
	m.queued = true
	g.members = append(g.members, m)
	g.bytes += len(m.batch.NDJSON)
	g.entries += m.batch.Entries
	s.startNext(k, p)
	return g
}

// startNext begins the write of p's first group if p is free and the group
// is ripe. Members whose deadline no longer leaves the write its expected
// time, with a quarter to spare, are written alone instead, at once, so that
// they cannot cut the group's write short. It is called with s.mu held.
func (s *Sink) startNext(k partitionKey, p *partition) {
	for !p.busy {
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
		// Out of the queue, the group is closed: nobody joins or leaves it,
		// so its members' batches stay valid until its write returns.
		p.queue = p.queue[1:]
		cutoff := time.Now().Add(withSpare(s.latency))
		for _, m := range slices.Clone(g.members) {
			m.queued = false
			if !m.deadline.IsZero() && m.deadline.Before(cutoff) {
				g.remove(m)
				go func() { m.answer(s.alone(m.ctx, m.batch)) }()
			}
		}
		if len(g.members) > 0 {
			p.busy, p.since = true, time.Now()
			go s.write(k, p, g)
		}
	}
}

// write writes g's members as one batch, answers them, and begins p's next
// write.
func (s *Sink) write(k partitionKey, p *partition, g *group) {
	ctx, cancel, batch := s.assemble(g)
	took, err := s.put(ctx, batch, len(g.members))
	cancel()
	if len(g.members) > 1 {
		s.release(batch)
	}
	for _, m := range g.members {
		m.answer(err)
	}
	s.finish(k, p, took)
}

// put writes b, the batch of the given number of requests, through the
// wrapped sink, and says how long it took. A panic in the sink is recovered
// here, where no request's recovery reaches, and logged with its stack; it
// becomes an error that is not retryable.
func (s *Sink) put(ctx context.Context, b *sink.Batch, requests int) (took time.Duration, err error) {
	start := time.Now()
	defer func() {
		took = time.Since(start)
		if v := recover(); v != nil {
			slog.Error("group commit: the sink panicked; the requests of its write answer 500",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()),
				"project", b.Project, "logstore", b.Logstore, "request_id", b.RequestID, "requests", requests)
			err = fmt.Errorf("the sink panicked storing request %s and %d more: %v", b.RequestID, requests-1, v)
		}
	}()
	return 0, s.inner.Put(ctx, b)
}

// observe takes a write's duration into the latency estimate. It is called
// with s.mu held.
func (s *Sink) observe(took time.Duration) {
	s.recent[s.observed%len(s.recent)] = took
	s.observed++
	s.latency = slices.Max(s.recent[:])
}

// finish marks p's write, which took took, as returned and begins the next
// one.
func (s *Sink) finish(k partitionKey, p *partition, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe(took)
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
		if !m.deadline.IsZero() && (deadline.IsZero() || m.deadline.Before(deadline)) {
			deadline = m.deadline
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
