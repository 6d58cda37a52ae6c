package sqssink_test

import (
	"context"
	"encoding/json"
	"io"
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

// TestEscapedLineInGroup sends three requests at once through the processor
// and group commit, which puts them in one group, to SQS: two valid ones,
// and one whose line of U+FFFE is within the sink's MaxLineBytes as its
// bytes are counted, but twice as long once escaped for SQS. The hostile
// request must be refused alone (400), and the other two stored.
func TestEscapedLineInGroup(t *testing.T) {
	h, r := newHarness(t, "", localSQS.Endpoint(t), "")
	limit := sink.MaxLineBytes(h.Sink)
	g := groupcommit.New(h.Sink, groupcommit.Options{MaxBytes: 16 << 20, MaxEntries: 100_000, Linger: 200 * time.Millisecond})
	cfg := processortest.Config()
	cfg.MaxBodyBytes = 1 << 20
	cfg.Projects, cfg.DefaultProject, cfg.Logstores = []string{"test-project"}, "test-project", []string{"test-logstore"}
	p := processor.New(cfg, g, slog.New(slog.NewTextHandler(io.Discard, nil)))

	// 150,023 bytes in the body, a line as long stored, 300,023 sent.
	hostile := `{"__logs__":[{"a":"` + strings.Repeat("\uFFFE", 50_000) + `"}]}`
	if len(hostile) >= limit || 2*len(hostile) <= limit {
		t.Fatalf("a hostile line of %d bytes, %d escaped, does not straddle MaxLineBytes %d", len(hostile), 2*len(hostile), limit)
	}
	post := func(body string) *processor.Response {
		req := processortest.Post("test-logstore", []byte(body), "x-log-apiversion", "0.6.0")
		return p.Handle(context.Background(), &req)
	}
	// A first write, alone, gives group commit the latency it needs to let
	// requests wait for a group.
	if resp := post(`{"__logs__":[{"a":"first"}]}`); resp.Status != 200 {
		t.Fatalf("first request: status %d (%s)", resp.Status, resp.Body)
	}

	bodies := []string{`{"__logs__":[{"a":"valid 1"}]}`, hostile, `{"__logs__":[{"a":"valid 2"}]}`}
	resps := make([]*processor.Response, len(bodies))
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Go(func() { resps[i] = post(body) })
	}
	wg.Wait()

	for i, want := range []int{200, 400, 200} {
		if resps[i].Status != want {
			t.Errorf("request %d: status %d, want %d (%s)", i, resps[i].Status, want, resps[i].Body)
		}
	}
	var e struct{ ErrorCode string }
	if err := json.Unmarshal(resps[1].Body, &e); err != nil || e.ErrorCode != "PostBodyTooLarge" {
		t.Errorf("hostile request: %s, want errorCode PostBodyTooLarge", resps[1].Body)
	}
	batches, err := r.stored(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A group is one batch: its lines name their requests.
	stored := map[string]int{}
	for _, lines := range batches {
		for _, l := range lines {
			var line struct {
				ID string `json:"__tag__:__request_id__"`
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("stored line %q: %v", l, err)
			}
			stored[line.ID]++
		}
	}
	for i, resp := range resps {
		if n, want := stored[resp.Header.Get("X-Log-Requestid")], 1-i%2; n != want {
			t.Errorf("request %d: %d lines stored, want %d", i, n, want)
		}
	}
}

// TestAcceptedLinesAreSendable sends, through the processor, lines of
// U+FFFE and ASCII whose escaped length sweeps across what a message of
// 2,048 bytes holds: each request is stored (200) or refused as too large
// (400), never accepted by the processor and then refused by the sink (500).
func TestAcceptedLinesAreSendable(t *testing.T) {
	h, _ := newHarness(t, "", localSQS.Endpoint(t), "&max_message_bytes=2048")
	cfg := processortest.Config()
	cfg.Projects, cfg.DefaultProject, cfg.Logstores = []string{"test-project"}, "test-project", []string{"test-logstore"}
	p := processor.New(cfg, h.Sink, slog.New(slog.NewTextHandler(io.Discard, nil)))
	statuses := map[int]int{}
	for escaped := 1500; escaped <= 2048; escaped++ {
		value := strings.Repeat("\uFFFE", escaped/6) + strings.Repeat("x", escaped%6)
		req := processortest.Post("test-logstore", []byte(`{"__logs__":[{"a":"`+value+`"}]}`), "x-log-apiversion", "0.6.0")
		resp := p.Handle(context.Background(), &req)
		statuses[resp.Status]++
		if resp.Status != 200 && resp.Status != 400 {
			t.Errorf("a value of %d bytes escaped: status %d (%s)", escaped, resp.Status, resp.Body)
		}
	}
	t.Logf("statuses: %v", statuses)
	if statuses[200] == 0 || statuses[400] == 0 {
		t.Errorf("statuses %v: the sweep does not cross the line limit", statuses)
	}
}
