package compact

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/startup"
)

// objectSchemes are the sinks that store objects. A queue sink would feed
// the compactor's output back to a queue.
var objectSchemes = []string{"file", "s3", "oss"}

// FromEnv starts as the ingest functions do (startup.Environment: the
// configuration, JSON logging, the Go memory limit), opens the sink, which
// must be an object sink, and returns the compactor.
func FromEnv(ctx context.Context) (*Compactor, error) {
	cfg, _, err := startup.Environment()
	if err != nil {
		return nil, err
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
