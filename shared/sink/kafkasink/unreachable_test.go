package kafkasink_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/loopback"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// syncBuffer is a log destination that the check's goroutine and the test
// may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logTo makes slog's default logger write to a buffer for the test.
func logTo(t *testing.T) *syncBuffer {
	var b syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&b, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &b
}

// TestUnreachableBrokers opens the sink on a port where no broker listens:
// the start succeeds with a warning that says why, and a Put fails with the
// dial error, not only with its deadline.
func TestUnreachableBrokers(t *testing.T) {
	logs := logTo(t)
	addr := "127.0.0.1:" + strconv.Itoa(loopback.FreePort(t))
	s, err := drivers.Open(context.Background(), "kafka://"+addr+"/"+topic)
	if err != nil {
		t.Fatalf("Open must not fail while the brokers are away: %v", err)
	}
	defer s.Close()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "kafka brokers unreachable"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning within 5s; logged:\n%s", logs)
		}
	}
	if w := logs.String(); !strings.Contains(w, "connection refused") || !strings.Contains(w, addr) || !strings.Contains(w, "level=WARN") {
		t.Errorf("the warning does not name the brokers and the dial error:\n%s", w)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = s.Put(ctx, sinktest.NewBatch("REQ0000000000000000000090", 3, 100))
	if err == nil || !sink.IsRetryable(err) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("Put to unreachable brokers: %v; want a retryable error with its deadline and the dial error", err)
	}
}

// TestReachableBrokersNoWarning checks that a cluster that answers gets no
// warning.
func TestReachableBrokersNoWarning(t *testing.T) {
	logs := logTo(t)
	c := newCluster(t)
	h, _ := newHarness(t, c.ListenAddrs(), "")
	if err := h.Sink.Put(t.Context(), sinktest.NewBatch("REQ0000000000000000000091", 3, 100)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "unreachable") {
		t.Errorf("warned:\n%s", logs)
	}
}
