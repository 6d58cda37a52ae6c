package compact

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime/debug"
	"slices"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/sink"
)

// objectSchemes are the sinks that store objects. A queue sink would feed
// the compactor's output back to a queue.
var objectSchemes = []string{"file", "s3", "oss"}

// FromEnv reads the configuration as the ingest functions do (WEBTRACK_SINK,
// WEBTRACK_SINK_TIMEOUT, WEBTRACK_LOG_LEVEL, the function's memory), makes
// JSON logging on stderr the default logger, sets the Go memory limit, opens
// the sink, which must be an object sink, and returns the compactor.
func FromEnv(ctx context.Context) (*Compactor, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(log)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if u, err := url.Parse(cfg.SinkURL); err == nil && !slices.Contains(objectSchemes, u.Scheme) {
		return nil, fmt.Errorf("WEBTRACK_SINK=%q: the compactor writes objects: want a file://, s3:// or oss:// sink", sink.Redact(cfg.SinkURL))
	}
	s, err := sink.Open(ctx, cfg.SinkURL)
	if err != nil {
		return nil, err
	}
	return New(s, cfg.Processor.SinkTimeout), nil
}
