// Package sinktest is the conformance suite that every sink passes against a
// real server: what Put acknowledges is stored, whole and byte for byte, and
// a Put whose context is already done stores nothing.
//
// It also holds what the sinks' own tests share: the Ledger of the fault
// tests and the Countdown and Gate of their fault injectors, ReadFiles and
// ByRequest for reading stored objects back, OpenFails and BenchmarkPut.
package sinktest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
)

// Harness is one sink under test and a way to read back what it stored.
type Harness struct {
	Sink sink.Sink
	// Stored returns every line stored since the harness was made, grouped by
	// the request id of the batch it came from. Queue-backed harnesses keep
	// what they received so that each call returns the whole history.
	Stored func(ctx context.Context) (map[string][]string, error)
}

// Run runs the suite. newHarness is called once per subtest and must return
// a sink over an empty store; it registers its own cleanup with t.Cleanup.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("OneBatch", func(t *testing.T) {
		h := newHarness(t)
		b := NewBatch("REQ0000000000000000000001", 3, 40)
		mustPut(t, h, b)
		Expect(t, h, Lines(b))
	})
	t.Run("UnicodeAndEscapes", func(t *testing.T) {
		h := newHarness(t)
		b := BatchOf("REQ0000000000000000000002",
			`{"__time__":1732567200,"msg":"日本語 ✓ 😀","quote":"\"\\/\n\t"}`,
			`{"__time__":1732567200,"empty":"","nul":"\u0000"}`)
		mustPut(t, h, b)
		Expect(t, h, Lines(b))
	})
	t.Run("LargeBatch", func(t *testing.T) {
		h := newHarness(t)
		b := NewBatch("REQ0000000000000000000003", 4096, 760) // about 3 MiB
		mustPut(t, h, b)
		Expect(t, h, Lines(b))
	})
	t.Run("ConcurrentBatches", func(t *testing.T) {
		h := newHarness(t)
		want := map[string][]string{}
		var batches []*sink.Batch
		for i := range 16 {
			b := NewBatch(fmt.Sprintf("REQ%021d", 100+i), 1+i%5, 100)
			batches = append(batches, b)
			want[b.RequestID] = Lines(b)[b.RequestID]
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(batches))
		for _, b := range batches {
			wg.Go(func() { errs <- h.Sink.Put(context.Background(), b) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
		Expect(t, h, want)
	})
	t.Run("BufferReusedAfterPut", func(t *testing.T) {
		h := newHarness(t)
		b := NewBatch("REQ0000000000000000000004", 5, 60)
		want := Lines(b)
		mustPut(t, h, b)
		for i := range b.NDJSON { // the caller reuses its buffer at once
			if b.NDJSON[i] != '\n' {
				b.NDJSON[i] = 'X'
			}
		}
		Expect(t, h, want)
	})
	t.Run("CancelledContextStoresNothing", func(t *testing.T) {
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := h.Sink.Put(ctx, NewBatch("REQ0000000000000000000005", 2, 40)); err == nil {
			t.Fatal("Put with a cancelled context succeeded")
		}
		ok := NewBatch("REQ0000000000000000000006", 1, 40)
		mustPut(t, h, ok)
		Expect(t, h, Lines(ok))
	})
}

func mustPut(t *testing.T, h Harness, b *sink.Batch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Sink.Put(ctx, b); err != nil {
		t.Fatalf("Put %s: %v", b.RequestID, err)
	}
}

// Expect waits up to ten seconds for the store to hold exactly want (lines
// compared in order within each request) and fails the test otherwise.
func Expect(t testing.TB, h Harness, want map[string][]string) {
	t.Helper()
	await(t, h, "what was acknowledged", func(got map[string][]string) string { return Diff(want, got) })
}

// await reads the store until diff finds nothing to say of it, failing the
// test after ten seconds with diff's description of how the store differs
// from expected, and returns what the store holds.
func await(t testing.TB, h Harness, expected string, diff func(got map[string][]string) string) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := h.Stored(ctx)
		cancel()
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		d := diff(got)
		if d == "" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored data differs from %s:\n%s", expected, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Diff describes how got differs from want, or returns "" when they are equal.
func Diff(want, got map[string][]string) string {
	var out strings.Builder
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			fmt.Fprintf(&out, "request %s: not stored (%d lines expected)\n", id, len(w))
		case !slices.Equal(w, g):
			fmt.Fprintf(&out, "request %s: %d lines stored, %d expected; first difference at line %d\n", id, len(g), len(w), firstDifference(w, g))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			fmt.Fprintf(&out, "request %s: %d lines stored but never acknowledged\n", id, len(g))
		}
	}
	return out.String()
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// NewBatch makes a batch of n entries, each line about lineSize bytes.
func NewBatch(requestID string, n, lineSize int) *sink.Batch {
	lines := make([]string, n)
	for i := range lines {
		head := fmt.Sprintf(`{"__time__":1732567200,"__topic__":"conformance","i":"%d","pad":"`, i)
		pad := strings.Repeat("abcdefghij", max(lineSize-len(head)-2, 0)/10+1)[:max(lineSize-len(head)-2, 0)]
		lines[i] = head + pad + `"}`
	}
	return BatchOf(requestID, lines...)
}

// BatchOf makes a batch of the given NDJSON lines (without newlines).
func BatchOf(requestID string, lines ...string) *sink.Batch {
	var nd []byte
	for _, l := range lines {
		nd = append(append(nd, l...), '\n')
	}
	return &sink.Batch{
		Project:    "test-project",
		Logstore:   "test-logstore",
		RequestID:  requestID,
		ReceivedAt: time.Date(2026, 11, 25, 21, 30, 0, 0, time.UTC),
		Entries:    len(lines),
		NDJSON:     nd,
	}
}

// Lines returns what the store must hold for b alone.
func Lines(b *sink.Batch) map[string][]string {
	var lines []string
	for l := range b.Lines() {
		lines = append(lines, string(l))
	}
	return map[string][]string{b.RequestID: lines}
}

// OpenFails fails the test unless d refuses to open rawURL with an error
// that mentions want; want "" accepts any error.
func OpenFails(t testing.TB, d sink.Drivers, rawURL, want string) {
	t.Helper()
	s, err := d.Open(context.Background(), rawURL)
	switch {
	case err == nil:
		s.Close()
		t.Errorf("Open(%q) succeeded, want an error mentioning %q", rawURL, want)
	case !strings.Contains(err.Error(), want):
		t.Errorf("Open(%q) = %v, want an error mentioning %q", rawURL, err, want)
	}
}

// BenchmarkPut stores the same 3 MiB, 4,096-entry batch with s once per
// operation: every sink's BenchmarkPut3MiB.
func BenchmarkPut(b *testing.B, s sink.Sink) {
	batch := NewBatch("REQ0000000000000000000001", 4096, 760)
	b.SetBytes(int64(len(batch.NDJSON)))
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		if err := s.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
