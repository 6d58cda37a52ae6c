// Package startup builds a ready processor from the environment: the one
// start-up path that every function's main shares. Each main links the sink
// drivers its platform uses by importing them, so that a function carries
// only the cloud clients it needs (binary size is cold-start time).
package startup

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"

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
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
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

// FromEnv starts from the Environment, opens the sink (behind group commit
// unless it is off) and returns the service. It makes no network call
// unless the sink's client must.
func FromEnv(ctx context.Context) (*Service, error) {
	cfg, log, err := Environment()
	if err != nil {
		return nil, err
	}
	s, err := sink.Open(ctx, cfg.SinkURL)
	if err != nil {
		return nil, err
	}
	if cfg.GroupCommit {
		s = groupcommit.New(s, cfg.Group)
	}
	return &Service{Config: cfg, Processor: processor.New(cfg.Processor, s, log), sink: s}, nil
}
