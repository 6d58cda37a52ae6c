package lambdaevent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// FuzzInvoke feeds arbitrary events to the handler: it must answer with an
// error or with a response whose status is a real HTTP status, never panic.
func FuzzInvoke(f *testing.F) {
	for _, ev := range []string{httpAPIEvent, httpAPIStageEvent, functionURLEvent, restEvent, albEvent, albMultiEvent} {
		f.Add([]byte(ev))
	}
	s, err := filesink.New(f.TempDir(), objectlayout.Layout{Compression: objectlayout.None})
	if err != nil {
		f.Fatal(err)
	}
	h := Handler{P: processor.New(processor.DefaultConfig(), s, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			return
		}
		var r struct{ StatusCode int }
		if err := json.Unmarshal(out, &r); err != nil || r.StatusCode < 200 || r.StatusCode > 599 {
			t.Fatalf("answer %s (%v) to %s", out, err, payload)
		}
	})
}
