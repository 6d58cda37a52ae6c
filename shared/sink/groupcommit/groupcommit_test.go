package groupcommit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/groupcommit"
)

// slowSink takes a while over each write, as a real store does, and keeps
// a copy of every batch it stored.
type slowSink struct {
	delay    time.Duration
	perEntry time.Duration // added to delay for each entry
	fail     error
	started  atomic.Int32
	mu       sync.Mutex
	puts     []sink.Batch
}

func (s *slowSink) Put(ctx context.Context, b *sink.Batch) error {
	s.started.Add(1)
	select {
	case <-time.After(s.delay + time.Duration(b.Entries)*s.perEntry):
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.fail != nil {
		return s.fail
	}
	c := *b
	c.NDJSON = bytes.Clone(b.NDJSON)
	s.mu.Lock()
	s.puts = append(s.puts, c)
	s.mu.Unlock()
	return nil
}

func (*slowSink) Close() error { return nil }

// waitStarted waits until a write is in flight.
func (s *slowSink) waitStarted(t *testing.T) {
	for deadline := time.Now().Add(5 * time.Second); s.started.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no write began")
		}
	}
}

var hour = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// request builds request i's batch of n entries, each line naming it.
func request(i, n int) *sink.Batch {
	var nd []byte
	for e := range n {
		nd = fmt.Appendf(nd, `{"__tag__:__request_id__":"r%d","e":%d}`+"\n", i, e)
	}
	return &sink.Batch{Project: "p", Logstore: "web", RequestID: fmt.Sprintf("r%d", i), ReceivedAt: hour.Add(time.Duration(i) * time.Millisecond), Entries: n, NDJSON: nd}
}

// warm makes 16 writes through s, at once and each into a partition of its
// own, so that none queues behind another: s then knows how long inner's
// writes take, instead of taking them to last ColdWriteEstimate. inner
// then forgets them.
func warm(t *testing.T, s sink.Sink, inner *slowSink) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b := request(1000+i, 1)
			b.Logstore = fmt.Sprintf("warm-up-%d", i)
			if err := s.Put(ctx, b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	inner.puts = nil
	inner.started.Store(0)
}

// put sends request i, of 10 entries, with its own timeout, and then
// reuses its batch, which is the caller's again once Put returns.
func put(s sink.Sink, i int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := request(i, 10)
	err := s.Put(ctx, b)
	b.NDJSON = append(b.NDJSON[:0], "reused by the caller\n"...)
	return err
}

// putAll sends n requests of 10 entries at once, each with its own
// deadline, and returns their errors.
func putAll(t *testing.T, s sink.Sink, n int, timeout time.Duration) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = put(s, i, timeout) })
	}
	wg.Wait()
	return errs
}

// checkStored checks that every request in want is stored exactly once,
// its lines contiguous and in order, and nothing else is stored.
func checkStored(t *testing.T, puts []sink.Batch, want map[int]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, b := range puts {
		lines := strings.Split(strings.TrimSuffix(string(b.NDJSON), "\n"), "\n")
		if len(lines) != b.Entries {
			t.Errorf("write %s: %d lines, Entries %d", b.RequestID, len(lines), b.Entries)
		}
		prev, next := "", 0
		for _, l := range lines {
			var line struct {
				ID string `json:"__tag__:__request_id__"`
				E  int    `json:"e"`
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("write %s holds %q: %v", b.RequestID, l, err)
			}
			if line.ID != prev {
				if seen[line.ID] > 0 {
					t.Errorf("request %s stored twice or split", line.ID)
				}
				prev, next = line.ID, 0
			}
			if line.E != next {
				t.Errorf("request %s: entry %d where %d was due", line.ID, line.E, next)
			}
			next++
			seen[line.ID]++
		}
	}
	for i := range want {
		if want[i] && seen[fmt.Sprintf("r%d", i)] != 10 {
			t.Errorf("request r%d: %d entries stored, want 10", i, seen[fmt.Sprintf("r%d", i)])
		}
		if !want[i] && seen[fmt.Sprintf("r%d", i)] != 0 {
			t.Errorf("request r%d: stored although it failed", i)
		}
	}
}

func TestConcurrentRequestsShareWrites(t *testing.T) {
	inner := &slowSink{delay: 20 * time.Millisecond}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	warm(t, s, inner)
	const n = 64
	want := map[int]bool{}
	for i, err := range putAll(t, s, n, 5*time.Second) {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		want[i] = true
	}
	if len(inner.puts) >= n/4 {
		t.Errorf("%d requests made %d writes, want fewer than %d", n, len(inner.puts), n/4)
	}
	checkStored(t, inner.puts, want)
}

func TestSequentialRequestsAreWrittenAtOnce(t *testing.T) {
	inner := &slowSink{}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	for i := range 5 {
		b := request(i, 10)
		if err := s.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if got := inner.puts[len(inner.puts)-1]; got.RequestID != b.RequestID || got.Entries != 10 {
			t.Errorf("request %d not written alone: write %s of %d entries", i, got.RequestID, got.Entries)
		}
	}
	if len(inner.puts) != 5 {
		t.Errorf("5 sequential requests made %d writes, want 5", len(inner.puts))
	}
}

func TestFailedWriteFailsEveryMember(t *testing.T) {
	refused := errors.New("bucket refused the write")
	inner := &slowSink{delay: 20 * time.Millisecond, fail: refused}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	for i, err := range putAll(t, s, 32, 5*time.Second) {
		if !errors.Is(err, refused) {
			t.Errorf("request %d: %v, want the write's error", i, err)
		}
	}
	if len(inner.puts) != 0 {
		t.Errorf("%d writes stored", len(inner.puts))
	}
}

func TestPartitionsAreWrittenApart(t *testing.T) {
	inner := &slowSink{delay: 10 * time.Millisecond}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			b := request(i, 10)
			b.Logstore = []string{"web", "app"}[i%2]
			b.ReceivedAt = hour.Add(time.Duration(i%4/2) * time.Hour)
			if err := s.Put(context.Background(), b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, b := range inner.puts {
		for line := range strings.Lines(string(b.NDJSON)) {
			var i int
			fmt.Sscanf(line[strings.Index(line, `"r`)+2:], "%d", &i) // "r{i}"
			if []string{"web", "app"}[i%2] != b.Logstore || b.ReceivedAt.Hour() != hour.Add(time.Duration(i%4/2)*time.Hour).Hour() {
				t.Errorf("request r%d written into %s hour %d", i, b.Logstore, b.ReceivedAt.Hour())
			}
		}
	}
}

func TestGroupLimits(t *testing.T) {
	for _, opts := range []groupcommit.Options{
		{MaxBytes: 2000, MaxEntries: 1 << 20},
		{MaxBytes: 16 << 20, MaxEntries: 25},
	} {
		inner := &slowSink{delay: 20 * time.Millisecond}
		s := groupcommit.New(inner, opts)
		warm(t, s, inner)
		want := map[int]bool{}
		for i, err := range putAll(t, s, 48, 5*time.Second) {
			if err != nil {
				t.Fatal(err)
			}
			want[i] = true
		}
		grouped := 0
		for _, b := range inner.puts {
			if len(b.NDJSON) > opts.MaxBytes || b.Entries > opts.MaxEntries {
				t.Errorf("limits %+v: a write of %d bytes, %d entries", opts, len(b.NDJSON), b.Entries)
			}
			if b.Entries > 10 {
				grouped++
			}
		}
		if grouped == 0 {
			t.Errorf("limits %+v: no request shared a write", opts)
		}
		checkStored(t, inner.puts, want)
	}
}

func TestMemberPastItsDeadlineLeavesUnstored(t *testing.T) {
	inner := &slowSink{}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	// Writes take no time, as far as s knows, until they take a second.
	warm(t, s, inner)
	inner.delay = time.Second
	first := make(chan error)
	go func() { first <- s.Put(context.Background(), request(0, 10)) }()
	inner.waitStarted(t)

	var wg sync.WaitGroup
	var hurried, patient error
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		hurried = s.Put(ctx, request(1, 10))
		if d := time.Since(start); d > 600*time.Millisecond {
			t.Errorf("the hurried request answered after %v, past its deadline", d)
		}
	})
	wg.Go(func() { patient = s.Put(context.Background(), request(2, 10)) })
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if !sink.IsRetryable(hurried) || !errors.Is(hurried, context.DeadlineExceeded) {
		t.Errorf("hurried request: %v, want a retryable error past its deadline", hurried)
	}
	if patient != nil {
		t.Errorf("patient request: %v", patient)
	}
	checkStored(t, inner.puts, map[int]bool{0: true, 1: false, 2: true})
}

func TestGroupWriteEndsAtTheEarliestDeadline(t *testing.T) {
	inner := &slowSink{perEntry: 10 * time.Millisecond}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	warm(t, s, inner) // a write takes 10 ms, as far as s knows
	go s.Put(context.Background(), request(0, 10))
	inner.waitStarted(t)
	// Both queue behind request 0, whose write takes 100 ms. The group they
	// form begins then, expecting to take 100 ms too, which the short
	// member's 300 ms deadline covers; but its 40 entries take 400 ms.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []struct {
		timeout time.Duration
		entries int
	}{{300 * time.Millisecond, 10}, {5 * time.Second, 30}} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			errs[i] = s.Put(ctx, request(i+1, c.entries))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("member %d: %v, want the group's write to end at the earliest deadline", i+1, err)
		}
	}
	checkStored(t, inner.puts, map[int]bool{0: true, 1: false, 2: false})
}

func TestMemberThatCannotCoverTheWriteIsWrittenAlone(t *testing.T) {
	inner := &slowSink{}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	warm(t, s, inner)
	inner.delay = 150 * time.Millisecond
	go s.Put(context.Background(), request(0, 10))
	inner.waitStarted(t)
	// Both queue behind request 0, expecting writes to take no time. When
	// its write returns after 150 ms, the short member has 100 ms left, too
	// little for a write: it is written alone, rather than cut the group's
	// write short, and runs out of time; the other member is stored.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, timeout := range []time.Duration{250 * time.Millisecond, 5 * time.Second} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			errs[i] = s.Put(ctx, request(i+1, 10))
		})
	}
	wg.Wait()
	if !errors.Is(errs[0], context.DeadlineExceeded) || errs[1] != nil {
		t.Errorf("short member: %v, want its deadline exceeded; long member: %v", errs[0], errs[1])
	}
	checkStored(t, inner.puts, map[int]bool{0: true, 1: false, 2: true})
}

func TestRequestThatCannotWaitIsWrittenAtOnce(t *testing.T) {
	inner := &slowSink{delay: 150 * time.Millisecond}
	s := groupcommit.New(inner, groupcommit.DefaultOptions())
	warm(t, s, inner) // writes take 150 ms
	first := make(chan error)
	go func() { first <- s.Put(context.Background(), request(0, 10)) }()
	inner.waitStarted(t)
	// Waiting for request 0's write and then for its own would take the
	// hurried request 300 ms, past its deadline; written at once, alone,
	// it takes 150 ms. The patient request has time to queue.
	var wg sync.WaitGroup
	var hurried, patient error
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		hurried = s.Put(ctx, request(1, 10))
	})
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		patient = s.Put(ctx, request(2, 10))
	})
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if hurried != nil || patient != nil {
		t.Errorf("hurried request: %v; patient request: %v", hurried, patient)
	}
	checkStored(t, inner.puts, map[int]bool{0: true, 1: true, 2: true})
	for _, b := range inner.puts {
		if b.RequestID == "r1" && b.Entries != 10 {
			t.Errorf("the hurried request was written with others: %d entries", b.Entries)
		}
	}
}

func TestLingerGathersSequentialRequests(t *testing.T) {
	inner := &slowSink{}
	opts := groupcommit.DefaultOptions()
	opts.Linger = 100 * time.Millisecond
	s := groupcommit.New(inner, opts)
	var wg sync.WaitGroup
	for i := range 5 {
		time.Sleep(5 * time.Millisecond)
		wg.Go(func() {
			if err := s.Put(context.Background(), request(i, 10)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(inner.puts) != 1 || inner.puts[0].Entries != 50 {
		t.Errorf("5 requests within the linger made %d writes, want 1 of 50 entries", len(inner.puts))
	}
}
