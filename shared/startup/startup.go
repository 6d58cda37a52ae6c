// Package startup builds a ready processor from the environment: the one
// start-up path that every function's main shares. Each main links the sink
// drivers its platform uses by importing them, so that a function carries
// only the cloud clients it needs (binary size is cold-start time).
package startup

import (
	"context"
	"log/slog"
	"os"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink"
)

// FromEnv reads the configuration, makes JSON logging on stderr the default
// logger, opens the sink and returns the processor with a function that
// closes the sink. It makes no network call unless the sink's client must.
func FromEnv(ctx context.Context) (*processor.Processor, func() error, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(log)
	s, err := sink.Open(ctx, cfg.SinkURL)
	if err != nil {
		return nil, nil, err
	}
	return processor.New(cfg.Processor, s, log), s.Close, nil
}
