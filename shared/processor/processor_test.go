package processor_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

func TestProtocolCases(t *testing.T) {
	processortest.Run(t, processortest.Handle)
}

func TestNames(t *testing.T) {
	cases := []struct {
		logstore string
		status   int
	}{
		{"web", 200}, {"a_b-c9", 200}, {strings.Repeat("a", 63), 200},
		{"ab", 404}, {strings.Repeat("a", 64), 404}, {"_web", 404}, {"web-", 404}, {"Web", 404}, {"we.b", 404}, {"wéb", 404},
	}
	for _, c := range cases {
		cfg := processortest.Config()
		cfg.Logstores = []string{"*"}
		p := processor.New(cfg, failingSink{errors.New("not stored")}, slog.New(slog.DiscardHandler))
		req := processortest.Get(c.logstore, "track", "APIVersion=0.6.0&a=1")
		req.ID = "8f0e2c1a-5b7d-4e3f-9a6c-1d2e3f4a5b6c"
		resp := p.Handle(context.Background(), &req)
		want := c.status
		if want == 200 {
			want = 500 // valid: it reached the (failing) sink
		}
		if resp.Status != want {
			t.Errorf("logstore %q: status %d, want %d", c.logstore, resp.Status, want)
		}
		if got := resp.Header.Get("X-Log-Requestid"); got != req.ID {
			t.Errorf("request id %q, want the provider's %q", got, req.ID)
		}
	}
	for _, id := range []string{"", "has space", "a/b", "x=y", strings.Repeat("A", 65)} {
		p := processor.New(processortest.Config(), failingSink{errors.New("x")}, slog.New(slog.DiscardHandler))
		req := processortest.Get("web", "track", "APIVersion=0.6.0")
		req.ID = id
		if got := p.Handle(context.Background(), &req).Header.Get("X-Log-Requestid"); got == id || len(got) != 24 {
			t.Errorf("unsafe provider id %q: answered request id %q, want a fresh 24-digit one", id, got)
		}
	}
}
