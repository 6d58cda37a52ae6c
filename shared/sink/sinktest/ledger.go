package sinktest

import (
	"context"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
)

// Slack is how long past its deadline a failing Put may take to return.
const Slack = 500 * time.Millisecond

// Ledger keeps what a sink acknowledged, for the fault tests: after the
// storage has failed and recovered, the store must hold exactly the batches
// whose Put returned nil.
type Ledger struct {
	h     Harness
	acked map[string][]string
	// Received, if set, counts what the harness's reader received,
	// duplicates included; Check logs it, to show how much a deduplicating
	// reader (Kafka, SQS) had to drop.
	Received func() int
}

// NewLedger starts an empty ledger over h.
func NewLedger(h Harness) *Ledger {
	return &Ledger{h: h, acked: map[string][]string{}}
}

// Put runs the sink's Put with deadline d, records the batch if it was
// acknowledged, and returns how long Put took and its error.
func (l *Ledger) Put(b *sink.Batch, d time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := l.h.Sink.Put(ctx, b)
	if err == nil {
		l.acked[b.RequestID] = Lines(b)[b.RequestID]
	}
	return time.Since(start), err
}

// MustPut fails the test unless Put succeeds within d.
func (l *Ledger) MustPut(t testing.TB, b *sink.Batch, d time.Duration) {
	t.Helper()
	if _, err := l.Put(b, d); err != nil {
		t.Fatalf("Put %s: %v", b.RequestID, err)
	}
}

// MustFailRetryably fails the test unless Put fails with a retryable error
// within d plus Slack, logs how long it took, and returns the error.
func (l *Ledger) MustFailRetryably(t testing.TB, b *sink.Batch, d time.Duration) error {
	t.Helper()
	took, err := l.Put(b, d)
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

// Check asserts, as Expect does, that the store holds exactly what was
// acknowledged, and logs how much that was.
func (l *Ledger) Check(t testing.TB) {
	t.Helper()
	Expect(t, l.h, l.acked)
	lines := 0
	for _, ls := range l.acked {
		lines += len(ls)
	}
	if l.Received != nil {
		t.Logf("acknowledged and stored: %d batches, %d lines; %d received, duplicates included", len(l.acked), lines, l.Received())
		return
	}
	t.Logf("acknowledged and stored: %d batches, %d lines", len(l.acked), lines)
}
