package sinktest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
)

// Slack is how long past its deadline a failing Put may take to return: room
// for a loaded machine under the race detector, far less than a retry loop
// that ignored the deadline would take.
const Slack = time.Second

// Ledger keeps what a sink acknowledged and what it failed, for the fault
// tests. Delivery is at least once: after the storage has failed and
// recovered, the store must hold every batch whose Put returned nil, whole,
// and of each batch whose Put failed at most its own lines (a failed Put may
// have stored part of its batch); nothing else. As a client's retry is a new
// request, every Put takes a request id of its own.
type Ledger struct {
	h      Harness
	acked  map[string][]string
	failed map[string][]string
	// Received, if set, counts what the harness's reader received,
	// duplicates included; Check logs it, to show how much a deduplicating
	// reader (Kafka, SQS) had to drop.
	Received func() int
}

// NewLedger starts an empty ledger over h.
func NewLedger(h Harness) *Ledger {
	return &Ledger{h: h, acked: map[string][]string{}, failed: map[string][]string{}}
}

// Put runs the sink's Put with deadline d, records the batch as acknowledged
// or failed, and returns how long Put took and its error. A request id
// already put fails the test.
func (l *Ledger) Put(t testing.TB, b *sink.Batch, d time.Duration) (time.Duration, error) {
	t.Helper()
	if _, ok := l.acked[b.RequestID]; ok {
		t.Fatalf("request id %s put twice: a retry is a new request", b.RequestID)
	}
	if _, ok := l.failed[b.RequestID]; ok {
		t.Fatalf("request id %s put twice: a retry is a new request", b.RequestID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := l.h.Sink.Put(ctx, b)
	lines := Lines(b)[b.RequestID]
	if err == nil {
		l.acked[b.RequestID] = lines
	} else {
		l.failed[b.RequestID] = lines
	}
	return time.Since(start), err
}

// MustPut fails the test unless Put succeeds within d.
func (l *Ledger) MustPut(t testing.TB, b *sink.Batch, d time.Duration) {
	t.Helper()
	if _, err := l.Put(t, b, d); err != nil {
		t.Fatalf("Put %s: %v", b.RequestID, err)
	}
}

// MustFailRetryably fails the test unless Put fails with a retryable error
// within d plus Slack, logs how long it took, and returns the error.
func (l *Ledger) MustFailRetryably(t testing.TB, b *sink.Batch, d time.Duration) error {
	t.Helper()
	took, err := l.Put(t, b, d)
	switch {
	case err == nil:
		t.Fatalf("Put %s succeeded against a failing server", b.RequestID)
	case !sink.IsRetryable(err):
		t.Fatalf("Put %s: error is not retryable: %v", b.RequestID, err)
	case took > d+Slack:
		t.Fatalf("Put %s took %v, past its %v deadline", b.RequestID, took, d)
	}
	t.Logf("Put %s failed after %v: %v", b.RequestID, took.Round(time.Millisecond), err)
	return err
}

// Check waits up to ten seconds for the store to hold what the ledger
// allows, fails the test if it does not, and returns how many lines of
// failed batches are stored. It logs what was acknowledged and, for each
// failed batch, how much of it was stored.
func (l *Ledger) Check(t testing.TB) (leftover int) {
	t.Helper()
	got := await(t, l.h, "what the ledger allows", l.diff)
	for _, id := range slices.Sorted(maps.Keys(l.failed)) {
		n := len(got[id])
		leftover += n
		t.Logf("failed Put %s left %d of its %d lines stored", id, n, len(l.failed[id]))
	}
	lines := 0
	for _, ls := range l.acked {
		lines += len(ls)
	}
	msg := fmt.Sprintf("acknowledged and stored: %d batches, %d lines; %d lines of %d failed batches stored", len(l.acked), lines, leftover, len(l.failed))
	if l.Received != nil {
		msg += fmt.Sprintf("; %d received, duplicates included", l.Received())
	}
	t.Log(msg)
	return leftover
}

// CheckNoneLeft is Check, failing the test too if the failed batches left
// any line stored: for sinks whose failed Puts must store nothing.
func (l *Ledger) CheckNoneLeft(t testing.TB) {
	t.Helper()
	if n := l.Check(t); n != 0 {
		t.Errorf("failed Puts left %d lines stored", n)
	}
}

// diff describes how got differs from what the ledger allows, or returns "".
func (l *Ledger) diff(got map[string][]string) string {
	want := maps.Clone(l.acked)
	var out strings.Builder
	for id, stored := range got {
		lines, ok := l.failed[id]
		if !ok {
			continue
		}
		if i := slices.IndexFunc(stored, func(s string) bool { return !slices.Contains(lines, s) }); i >= 0 {
			fmt.Fprintf(&out, "request %s failed, and its stored line %d is not one of its lines\n", id, i)
		}
		want[id] = stored
	}
	return out.String() + Diff(want, got)
}
