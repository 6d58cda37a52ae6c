package processor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	_ "github.com/webtrack/webtrack/shared/sink/filesink" // file:// for the metrics tests
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

// logstoreDimensions returns a function that handles requests to the
// logstores it is given with one processor, EMF metrics on, from workers
// goroutines at once, and returns how many requests each value of the
// Logstore dimension counted.
func logstoreDimensions(t *testing.T, cfg processor.Config, workers int) func(logstores []string) map[string]int {
	t.Helper()
	var logs bytes.Buffer // the handler writes one line at a time
	cfg.EMFMetrics = true
	s, err := filesink.Open(context.Background(), &url.URL{Scheme: "file", Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p := processor.New(cfg, s, slog.New(slog.NewJSONHandler(&logs, nil)))
	return func(logstores []string) map[string]int {
		logs.Reset()
		return countLogstores(t, p, &logs, workers, logstores)
	}
}

// countLogstores handles a request to each logstore from workers
// goroutines at once, and counts the requests by the Logstore dimension of
// the lines p logs to logs.
func countLogstores(t *testing.T, p *processor.Processor, logs *bytes.Buffer, workers int, logstores []string) map[string]int {
	t.Helper()
	next := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for logstore := range next {
				req := processortest.Post(logstore, []byte(processortest.Batch), "x-log-apiversion", "0.6.0")
				p.Handle(context.Background(), &req)
			}
		})
	}
	for _, l := range logstores {
		next <- l
	}
	close(next)
	wg.Wait()
	counts := map[string]int{}
	for line := range bytes.Lines(logs.Bytes()) {
		metrics, err := processortest.ParseEMF(line)
		if err != nil {
			t.Fatalf("not valid EMF: %v\n%s", err, line)
		}
		for _, m := range metrics {
			if m.Name == "Requests" && len(m.Dimensions) == 1 {
				counts[m.Dimensions["Logstore"]] += int(m.Value)
			}
		}
	}
	return counts
}

// TestMetricLogstoresAreBounded checks that a client cannot create custom
// metrics (billed per metric and hour) by naming logstores: a name becomes
// a Logstore dimension value only once it has passed the allow-lists, and
// with a pattern that admits any name, only the first MaxMetricLogstores
// names a processor (an instance) serves do. Requests arrive from concurrent workers.
func TestMetricLogstoresAreBounded(t *testing.T) {
	t.Run("refused names", func(t *testing.T) {
		var names []string
		for i := range 100 {
			names = append(names, fmt.Sprintf("random-%03d", i), "web")
		}
		counts := logstoreDimensions(t, processortest.Config(), 8)(names)
		want := map[string]int{processor.NoLogstore: 100, "web": 100}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("Requests by Logstore = %v, want %v: a logstore outside the allow-lists (404) names no metric", counts, want)
		}
	})
	t.Run("any name allowed", func(t *testing.T) {
		cfg := processortest.Config()
		cfg.Logstores = []string{"*"}
		const total = 3 * processor.MaxMetricLogstores
		var names []string
		for i := range total {
			names = append(names, fmt.Sprintf("random-%03d", i))
		}
		send := logstoreDimensions(t, cfg, 8)
		counts := send(names)
		if len(counts) != processor.MaxMetricLogstores+1 || counts[processor.OtherLogstores] != total-processor.MaxMetricLogstores {
			t.Errorf("%d logstores give %d Logstore values, %d requests under %s; want %d names of their own and %d under %s: %v",
				total, len(counts), counts[processor.OtherLogstores], processor.OtherLogstores,
				processor.MaxMetricLogstores, total-processor.MaxMetricLogstores, processor.OtherLogstores, counts)
		}
		// Later requests to the same processor: the names that got a value of
		// their own keep it; no new one gets one.
		var kept []string
		for name := range counts {
			if name != processor.OtherLogstores {
				kept = append(kept, name, name)
			}
		}
		again := send(append(kept, "random-new"))
		for name, n := range again {
			if name != processor.OtherLogstores && (counts[name] == 0 || n != 2) || name == processor.OtherLogstores && n != 1 {
				t.Errorf("on later requests, Logstore %s counted %d requests; want the same %d names, twice each, and random-new under %s",
					name, n, processor.MaxMetricLogstores, processor.OtherLogstores)
			}
		}
	})
}

func closedGate() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
