package processor_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink"
)

// emfValue finds the value of metric name with the given dimensions.
func emfValue(metrics []processortest.EMFMetric, name string, dims map[string]string) (float64, bool) {
	for _, m := range metrics {
		if m.Name == name && len(m.Dimensions) == len(dims) && m.Namespace == processor.EMFNamespace {
			match := true
			for k, v := range dims {
				match = match && m.Dimensions[k] == v
			}
			if match {
				return m.Value, true
			}
		}
	}
	return 0, false
}

func TestRequestLinesCarryEMFMetrics(t *testing.T) {
	for _, c := range []struct {
		name    string
		sinkErr error
		req     processor.Request
		want    map[string]float64 // by Logstore=web, and Rejected by ErrorCode
		code    string
	}{
		{"accepted", nil, processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0"),
			map[string]float64{"Requests": 1, "Entries": 2, "Bytes": float64(len(processortest.Batch)), "SinkFailures": 0}, ""},
		{"rejected", nil, processortest.Post("web", []byte(`{"__logs__":[{"1a":"b"}]}`), "x-log-apiversion", "0.6.0"),
			map[string]float64{"Requests": 1, "Entries": 0, "SinkFailures": 0}, "InvalidKey"},
		{"sink failure", sink.Unavailable(errors.New("bucket down")), processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0"),
			map[string]float64{"Requests": 1, "SinkFailures": 1}, "ServerBusy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := processortest.Config()
			cfg.EMFMetrics = true
			var s sink.Sink = &gatedSink{gate: closedGate()}
			if c.sinkErr != nil {
				s = failingSink{c.sinkErr}
			}
			p := processor.New(cfg, s, slog.New(slog.NewJSONHandler(&logs, nil)))
			p.Handle(context.Background(), &c.req)
			metrics, err := processortest.ParseEMF(bytes.TrimSpace(logs.Bytes()))
			if err != nil {
				t.Fatalf("the request line is not valid EMF: %v\n%s", err, logs.Bytes())
			}
			for name, want := range c.want {
				for _, dims := range []map[string]string{{"Logstore": "web"}, {}} {
					if got, ok := emfValue(metrics, name, dims); !ok || got != want {
						t.Errorf("%s %v = %v (found %v), want %v", name, dims, got, ok, want)
					}
				}
			}
			got, ok := emfValue(metrics, "Rejected", map[string]string{"ErrorCode": c.code})
			if c.code != "" && (!ok || got != 1) || c.code == "" && ok {
				t.Errorf("Rejected by ErrorCode %q: %v %v", c.code, got, ok)
			}
		})
	}
	// Off, the line carries no metrics.
	var logs bytes.Buffer
	p := processor.New(processortest.Config(), &gatedSink{gate: closedGate()}, slog.New(slog.NewJSONHandler(&logs, nil)))
	req := processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0")
	p.Handle(context.Background(), &req)
	if bytes.Contains(logs.Bytes(), []byte("_aws")) {
		t.Errorf("EMF members with EMFMetrics off: %s", logs.Bytes())
	}
}

func closedGate() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
