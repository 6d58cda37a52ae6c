package compact

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/startup"
)

// FromEnv starts as the ingest functions do (startup.Environment: the
// configuration, JSON logging, the Go memory limit), opens the sink with
// objects, the drivers of the object sinks the binary links (a queue sink
// would feed the compactor's output back to a queue), and returns the
// compactor.
func FromEnv(ctx context.Context, objects sink.Drivers) (*Compactor, error) {
	cfg, _, err := startup.Environment()
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.SinkURL); err == nil && objects[u.Scheme] == nil {
		return nil, fmt.Errorf("WEBTRACK_SINK=%q: the compactor writes objects: want a sink of %s", sink.Redact(cfg.SinkURL), strings.Join(objects.Schemes(), ", "))
	}
	s, err := objects.Open(ctx, cfg.SinkURL)
	if err != nil {
		return nil, err
	}
	return New(s, cfg.Processor.SinkTimeout), nil
}
