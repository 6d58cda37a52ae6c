package processor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink"
)

// failingSink answers every Put the way a broken dependency does: with err,
// or, when err is nil, by hanging until the deadline.
type failingSink struct{ err error }

func (s failingSink) Put(ctx context.Context, _ *sink.Batch) error {
	if s.err != nil {
		return s.err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (failingSink) Close() error { return nil }

func TestStorageFailuresAreNever200(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unavailable", sink.Unavailable(errors.New("s3: SlowDown")), 503, "ServerBusy"},
		{"hanging past the deadline", nil, 503, "ServerBusy"},
		{"refused for good", errors.New("s3: AccessDenied"), 500, "InternalServerError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := processortest.Config()
			cfg.SinkTimeout = 200 * time.Millisecond
			p := processor.New(cfg, failingSink{c.err}, slog.New(slog.NewJSONHandler(&logs, nil)))
			req := processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0")
			start := time.Now()
			resp := p.Handle(context.Background(), &req)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %v with a 200ms sink timeout", elapsed)
			}
			var body struct{ ErrorCode string }
			json.Unmarshal(resp.Body, &body)
			if resp.Status != c.status || body.ErrorCode != c.code {
				t.Fatalf("answered %d %s, want %d %s", resp.Status, resp.Body, c.status, c.code)
			}
			var line struct {
				Level     string
				SinkError string `json:"sink_error"`
			}
			json.Unmarshal(logs.Bytes(), &line)
			if line.Level != "ERROR" || line.SinkError == "" {
				t.Errorf("no error log line naming the sink error: %s", logs.String())
			}
			if c.err != nil && !strings.Contains(line.SinkError, c.err.Error()) {
				t.Errorf("log line %q does not carry the sink's error %q", line.SinkError, c.err)
			}
		})
	}
}

func TestFunctionDeadlineBoundsTheStore(t *testing.T) {
	cfg := processortest.Config()
	cfg.SinkTimeout = time.Minute
	cfg.ResponseMargin = 100 * time.Millisecond
	p := processor.New(cfg, failingSink{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	req := processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0")
	start := time.Now()
	resp := p.Handle(ctx, &req)
	elapsed := time.Since(start)
	if resp.Status != 503 {
		t.Fatalf("status %d", resp.Status)
	}
	if elapsed > 350*time.Millisecond {
		t.Errorf("answered after %v: the response margin before the 400ms deadline was not kept", elapsed)
	}
}

// panickingSink stands for a bug met on the request path.
type panickingSink struct{}

func (panickingSink) Put(context.Context, *sink.Batch) error { panic("bug") }
func (panickingSink) Close() error                           { return nil }

func TestPanicAnswers500AndIsLogged(t *testing.T) {
	var logs bytes.Buffer
	p := processor.New(processortest.Config(), panickingSink{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	req := processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0")
	resp := p.Handle(context.Background(), &req)
	if resp.Status != 500 || !strings.Contains(string(resp.Body), "InternalServerError") {
		t.Fatalf("answered %d %s", resp.Status, resp.Body)
	}
	if !strings.Contains(logs.String(), `"panic":"bug\n`) || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("no log line with the panic and its stack: %s", logs.String())
	}
	// The processor still serves after it.
	req = processortest.Get("web", "track", "a=1")
	if resp := p.Handle(context.Background(), &req); resp.Status != 400 {
		t.Errorf("next request answered %d", resp.Status)
	}
}
