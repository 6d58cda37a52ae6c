// Package startup builds a ready processor from the environment: the one
// start-up path that every function's main shares. Each main links the sink
// drivers its platform uses by importing them, so that a function carries
// only the cloud clients it needs (binary size is cold-start time).
package startup

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/groupcommit"
)

// Service is a started webtrack: its configuration and its processor.
type Service struct {
	Config    config.Config
	Processor *processor.Processor
	sink      sink.Sink
}

// Close closes the sink.
func (s *Service) Close() error { return s.sink.Close() }

// Environment reads the configuration, makes JSON logging on stderr the
// default logger, warns of each WEBTRACK_* variable that is no setting, and
// sets the Go memory limit: the start of every function, the compactor's
// too.
func Environment() (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return cfg, nil, err
	}
	log := newLogger(os.Stderr, cfg.LogLevel, os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "")
	slog.SetDefault(log)
	for _, w := range config.Unknown(os.Environ()) {
		log.Warn(w)
	}
	// The collector works harder as the heap nears the instance's memory,
	// rather than letting the platform kill it; GOMEMLIMIT still wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	return cfg, log, nil
}

// newLogger writes JSON lines at level and above to w. On Lambda the time
// goes under "timestamp", in RFC 3339 and UTC: Lambda's log-level filtering
// (the ApplicationLogLevel of the JSON log format) reads a line's "level"
// only with a valid RFC 3339 timestamp, and otherwise files the line as
// INFO, so ApplicationLogLevel=WARN would drop the ERROR lines of failed
// stores and their SinkFailures metric
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
// slog's levels (DEBUG, INFO, WARN, ERROR) are Lambda's names already.
// Elsewhere the line keeps slog's "time".
func newLogger(w io.Writer, level slog.Leveler, lambda bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if lambda {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				return slog.String("timestamp", a.Value.Time().UTC().Format(time.RFC3339Nano))
			}
			return a
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// FromEnv starts from the Environment, opens the sink with the drivers the
// binary links (behind group commit unless it is off) and returns the
// service. It makes no network call unless the sink's client must.
func FromEnv(ctx context.Context, drivers sink.Drivers) (*Service, error) {
	cfg, log, err := Environment()
	if err != nil {
		return nil, err
	}
	s, err := drivers.Open(ctx, cfg.SinkURL)
	if err != nil {
		return nil, err
	}
	if cfg.GroupCommit {
		s = groupcommit.New(s, cfg.Group)
	}
	return &Service{Config: cfg, Processor: processor.New(cfg.Processor, s, log), sink: s}, nil
}
