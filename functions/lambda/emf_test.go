package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// TestRIELinesAreEMF runs the built bootstrap under the emulator, where
// EMF metrics are on by default, and checks that the request lines of an
// accepted request, a rejected one and a sink failure are valid Embedded
// Metric Format with the right values.
func TestRIELinesAreEMF(t *testing.T) {
	bootstrap := build(t, ".")
	post, err := events.Samples("lambda-httpapi-post-json")
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := events.Samples("lambda-httpapi-post-no-apiversion")
	if err != nil {
		t.Fatal(err)
	}
	// A regular file where the project's directory must go: every write fails.
	blocked := t.TempDir()
	if err := os.WriteFile(filepath.Join(blocked, "project=default"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, sinkURL string
		sample        events.Sample
		want          map[string]float64
		code          string
	}{
		{"accepted", "file://" + t.TempDir(), post[0], map[string]float64{"Requests": 1, "Entries": float64(post[0].Want.Entries), "SinkFailures": 0}, ""},
		{"rejected", "file://" + t.TempDir(), rejected[0], map[string]float64{"Requests": 1, "Entries": 0, "SinkFailures": 0}, rejected[0].Want.Code},
		{"sink failure", "file://" + blocked, post[0], map[string]float64{"Requests": 1, "SinkFailures": 1}, "InternalServerError"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fn := startRIE(t, bootstrap, "WEBTRACK_SINK="+c.sinkURL)
			fn.Invoke(t, c.sample.Payload)
			var line string
			for l := range strings.Lines(fn.Output()) {
				if strings.Contains(l, `"msg":"track request"`) {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no request line in the function's output:\n%s", fn.Output())
			}
			// What Lambda's log-level filtering reads: with a valid RFC 3339
			// "timestamp", "level"; without, it files the line as INFO and
			// ApplicationLogLevel=WARN drops a failure's line and metrics.
			var fields struct{ Timestamp, Level string }
			if err := json.Unmarshal([]byte(line), &fields); err != nil {
				t.Fatal(err)
			}
			if _, err := time.Parse(time.RFC3339Nano, fields.Timestamp); err != nil {
				t.Errorf("the request line's timestamp %q is not RFC 3339 (%v): Lambda would file it as INFO", fields.Timestamp, err)
			}
			if want := map[bool]string{true: "ERROR", false: "INFO"}[c.name == "sink failure"]; fields.Level != want {
				t.Errorf("the request line's level is %q, want %s", fields.Level, want)
			}
			metrics, err := processortest.ParseEMF([]byte(line))
			if err != nil {
				t.Fatalf("the request line is not valid EMF: %v\n%s", err, line)
			}
			values := map[string]float64{}
			for _, m := range metrics {
				if m.Dimensions["Logstore"] == "web" {
					values[m.Name] = m.Value
				}
				if m.Name == "Rejected" && m.Dimensions["ErrorCode"] == c.code {
					values["Rejected"] = m.Value
				}
			}
			for name, want := range c.want {
				if got, ok := values[name]; !ok || got != want {
					t.Errorf("%s by Logstore = %v (found %v), want %v", name, got, ok, want)
				}
			}
			if c.code != "" && values["Rejected"] != 1 {
				t.Errorf("no Rejected metric for ErrorCode %s in %s", c.code, line)
			}
		})
	}
}
