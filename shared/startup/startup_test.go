package startup

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

// lambdaLevel is the level that Lambda's log-level filtering gives a JSON
// application log line, as its documentation describes it
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html):
// the "level" value when it is one of Lambda's levels and the line has a
// valid RFC 3339 "timestamp"; INFO when either is missing or invalid.
func lambdaLevel(t *testing.T, line []byte) string {
	t.Helper()
	var fields map[string]any
	if err := json.Unmarshal(line, &fields); err != nil {
		t.Fatalf("not a JSON line: %v\n%s", err, line)
	}
	level, _ := fields["level"].(string)
	stamp, _ := fields["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil ||
		!slices.Contains([]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}, level) {
		return "INFO"
	}
	return level
}

// keptAtWarn logs one line at each level through Environment's logger, as
// the process starts on a platform named by env, and returns the messages
// Lambda keeps with ApplicationLogLevel=WARN.
func keptAtWarn(t *testing.T, env map[string]string) []string {
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "")
	t.Setenv("WEBTRACK_LOG_LEVEL", "debug")
	for k, v := range env {
		t.Setenv(k, v)
	}
	out, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, logger, limit := os.Stderr, slog.Default(), debug.SetMemoryLimit(-1)
	os.Stderr = out
	t.Cleanup(func() {
		os.Stderr = stderr
		slog.SetDefault(logger)
		debug.SetMemoryLimit(limit)
	})
	_, log, err := Environment()
	os.Stderr = stderr
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("debug")
	log.Info("info")
	log.Warn("warn")
	log.Error("error", "status", 500)
	if _, err := out.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for lines := bufio.NewScanner(out); lines.Scan(); {
		var fields struct{ Msg string }
		if err := json.Unmarshal(lines.Bytes(), &fields); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, lines.Bytes())
		}
		mine := slices.Contains([]string{"debug", "info", "warn", "error"}, fields.Msg) // not start-up warnings
		if level := lambdaLevel(t, lines.Bytes()); mine && (level == "WARN" || level == "ERROR" || level == "FATAL") {
			kept = append(kept, fields.Msg)
		}
	}
	return kept
}

// TestLambdaFiltersLogLevels checks that on Lambda the lines carry what its
// log-level filtering reads, so that ApplicationLogLevel=WARN keeps the
// ERROR lines (a failed store, and its SinkFailures metric) and the
// warnings, and drops the rest; and that elsewhere lines keep slog's
// "time".
func TestLambdaFiltersLogLevels(t *testing.T) {
	kept := keptAtWarn(t, map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "webtrack", "WEBTRACK_SINK": "s3://bucket/webtrack"})
	if want := []string{"warn", "error"}; !slices.Equal(kept, want) {
		t.Errorf("on Lambda, ApplicationLogLevel=WARN keeps %q, want %q", kept, want)
	}

	var line struct {
		Time  time.Time `json:"time"`
		Level string
	}
	var buf bytes.Buffer
	newLogger(&buf, slog.LevelInfo, false).Error("error")
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line.Time.IsZero() || line.Level != "ERROR" {
		t.Errorf("off Lambda the line is %s (%v): want slog's time and level", buf.Bytes(), err)
	}
}
