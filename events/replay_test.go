package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	fcevents "github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/handler/fcevent"
	"github.com/webtrack/webtrack/handler/lambdaevent"
	"github.com/webtrack/webtrack/handler/queueevent"
	"github.com/webtrack/webtrack/shared/compact"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// kinds maps each Lambda file name prefix, longest first, to the family it
// must be read as.
var kinds = []struct {
	prefix string
	kind   lambdaevent.Kind
}{
	{"lambda-alb-multivalue-", lambdaevent.ALBMultiValue},
	{"lambda-alb-", lambdaevent.ALB},
	{"lambda-functionurl-", lambdaevent.FunctionURL},
	{"lambda-httpapi-", lambdaevent.HTTPAPI},
	{"lambda-restapi-", lambdaevent.REST},
}

// TestReplay replays every sample event through its front door's handler,
// with the default configuration over a file sink, and checks the answer
// and what was stored against expected.json.
func TestReplay(t *testing.T) {
	samples, err := events.Samples("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fs, err := filesink.New(dir, objectlayout.Layout{Compression: objectlayout.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	p := processor.New(processor.DefaultConfig(), fs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	compactor := queueevent.Handler{C: compact.New(fs, 10*time.Second), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	events.Replay(t, samples, dir, func(_ int, s events.Sample) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		switch {
		case strings.HasPrefix(s.Name, "fc-"):
			var ev fcevents.HTTPTriggerEvent
			if err := json.Unmarshal(s.Payload, &ev); err != nil {
				return nil, err
			}
			resp, err := fcevent.Handler(p)(ctx, &ev)
			if err != nil {
				return nil, err
			}
			return json.Marshal(resp)
		case strings.HasPrefix(s.Name, "lambda-"):
			checkKind(t, s)
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "8f0e2c1a-5b7d-4e3f-9a6c-1d2e3f4a5b6c"})
			return lambdaevent.Handler{P: p}.Invoke(ctx, s.Payload)
		case strings.HasPrefix(s.Name, "compactor-"):
			return compactor.Invoke(ctx, s.Payload)
		}
		return nil, fmt.Errorf("%s: the name says no front door: want fc-, lambda- or compactor-", s.Name)
	})
}

func checkKind(t *testing.T, s events.Sample) {
	t.Helper()
	got, err := lambdaevent.Detect(s.Payload)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if strings.HasPrefix(s.Name, k.prefix) {
			if got != k.kind {
				t.Fatalf("read as %v, want %v", got, k.kind)
			}
			return
		}
	}
	t.Fatal("the name says no Lambda event family")
}
