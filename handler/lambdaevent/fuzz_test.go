package lambdaevent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// encodeOnly encodes each batch as the object sinks do and discards it: a
// sink that cannot fail, so a 500 can only be a bug on the request path.
type encodeOnly struct{}

func (encodeOnly) Put(_ context.Context, b *sink.Batch) error {
	obj, err := objectlayout.Layout{Compression: objectlayout.Gzip}.Encode(b)
	if err != nil {
		return err
	}
	obj.Release()
	return nil
}

func (encodeOnly) Close() error { return nil }

// FuzzInvoke feeds arbitrary events to the handler: it must answer with an
// error or with a real HTTP status, and never 500, which is what a panic on
// the request path becomes (the sink here cannot fail).
func FuzzInvoke(f *testing.F) {
	for _, ev := range []string{httpAPIEvent, httpAPIStageEvent, functionURLEvent, restEvent, albEvent, albMultiEvent} {
		f.Add([]byte(ev))
	}
	h := Handler{P: processor.New(processor.DefaultConfig(), encodeOnly{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			return
		}
		var r struct{ StatusCode int }
		if err := json.Unmarshal(out, &r); err != nil || r.StatusCode < 200 || r.StatusCode > 599 || r.StatusCode == http.StatusInternalServerError {
			t.Fatalf("answer %s (%v) to %s", out, err, payload)
		}
	})
}
