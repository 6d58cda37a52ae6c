package groupcommit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/groupcommit"
)

// panickySink panics in every write that carries an entry marked "boom",
// as a sink with a bug would on some input, and stores the others.
type panickySink struct{ slowSink }

func (s *panickySink) Put(ctx context.Context, b *sink.Batch) error {
	if bytes.Contains(b.NDJSON, []byte(`"boom"`)) {
		panic("a bug in the sink")
	}
	return s.slowSink.Put(ctx, b)
}

// syncBuffer is a log destination that concurrent writes may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestSinkPanicFailsItsWriteWith500 sends concurrent requests through the
// processor and group commit to a sink that panics on some of them: the
// instance goes on, every request of a write that panicked answers 500 and
// is not stored, every other answers 200 and is stored, the panic is
// logged with its stack, and the partition takes requests afterwards.
func TestSinkPanicFailsItsWriteWith500(t *testing.T) {
	var logged syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	inner := &panickySink{slowSink{delay: 20 * time.Millisecond}}
	p := processor.New(processortest.Config(), groupcommit.New(inner, groupcommit.DefaultOptions()), slog.New(slog.DiscardHandler))
	send := func(i int, event string) int {
		body := fmt.Sprintf(`{"__logs__":[{"i":"%d","event":%q}]}`, i, event)
		req := processortest.Post("web", []byte(body), "x-log-apiversion", "0.6.0")
		resp := p.Handle(context.Background(), &req)
		if resp.Status != 200 && (resp.Status != 500 || !strings.Contains(string(resp.Body), "InternalServerError")) {
			t.Errorf("request %d: %d %s, want 200, or 500 InternalServerError", i, resp.Status, resp.Body)
		}
		return resp.Status
	}
	if status := send(0, "boom"); status != 500 { // alone, in the request's goroutine
		t.Errorf("a request whose write panicked: %d, want 500", status)
	}
	// Three waves of concurrent requests; one in the second panics its
	// write, and any that share that write.
	const n, wave = 60, 20
	status := make([]int, n+2)
	for w := range n / wave {
		var wg sync.WaitGroup
		for i := w*wave + 1; i <= (w+1)*wave; i++ {
			wg.Go(func() {
				event := "click"
				if i == wave+wave/2 {
					event = "boom"
				}
				status[i] = send(i, event)
			})
		}
		wg.Wait()
	}
	status[n+1] = send(n+1, "click") // the partition still takes requests

	stored := map[string]int{}
	for _, b := range inner.puts {
		for line := range b.Lines() {
			var e struct{ I string }
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatal(err)
			}
			stored[e.I]++
		}
	}
	failed := 0
	for i := 1; i <= n+1; i++ {
		switch {
		case i == wave+wave/2 && status[i] != 500:
			t.Errorf("request %d, whose write panicked: %d", i, status[i])
		case (i <= wave || i > 2*wave) && status[i] != 200:
			t.Errorf("request %d, in a wave without a panic: %d", i, status[i])
		case status[i] == 200 && stored[fmt.Sprint(i)] != 1, status[i] != 200 && stored[fmt.Sprint(i)] != 0:
			t.Errorf("request %d answered %d and was stored %d times", i, status[i], stored[fmt.Sprint(i)])
		}
		if status[i] != 200 {
			failed++
		}
	}
	if len(inner.puts) >= n-failed {
		t.Errorf("%d requests made %d writes: no group formed", n, len(inner.puts))
	}
	t.Logf("%d of %d requests answered 500; %d writes stored the others", failed, n+1, len(inner.puts))
	if !strings.Contains(logged.String(), "a bug in the sink") || !strings.Contains(logged.String(), "(*panickySink).Put") {
		t.Errorf("the panic is not logged with its stack:\n%s", logged.String())
	}
}
