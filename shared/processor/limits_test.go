package processor_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink/groupcommit"
)

// limitedSink carries lines of at most 500 bytes, as a queue's message size
// limits a queue sink.
type limitedSink struct{ gatedSink }

func (*limitedSink) MaxLineBytes() int { return 500 }

func TestLineTooLongForTheSinkIsRefusedInAdvance(t *testing.T) {
	s := &limitedSink{gatedSink{gate: make(chan struct{})}}
	close(s.gate)
	// Behind group commit too: a line it cannot carry must not fail a group.
	p := processor.New(processortest.Config(), groupcommit.New(s, groupcommit.DefaultOptions()), slog.New(slog.DiscardHandler))
	body := `{"__logs__":[{"a":"short"},{"a":"` + strings.Repeat("x", 600) + `"}]}`
	req := processortest.Post("web", []byte(body), "x-log-apiversion", "0.6.0")
	resp := p.Handle(context.Background(), &req)
	if resp.Status != 400 || !strings.Contains(string(resp.Body), "PostBodyTooLarge") || !strings.Contains(string(resp.Body), "__logs__[1]") {
		t.Errorf("a line too long for the sink: %d %s, want 400 PostBodyTooLarge naming __logs__[1]", resp.Status, resp.Body)
	}
	if s.stored.Load() != 0 {
		t.Error("part of the request was stored")
	}
	req = processortest.Post("web", []byte(`{"__logs__":[{"a":"`+strings.Repeat("x", 200)+`"}]}`), "x-log-apiversion", "0.6.0")
	if resp := p.Handle(context.Background(), &req); resp.Status != 200 || s.entries.Load() != 1 {
		t.Errorf("a line that fits: %d %s", resp.Status, resp.Body)
	}
}
