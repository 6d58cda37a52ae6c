package sqssink

import (
	"context"
	"fmt"

	"github.com/webtrack/webtrack/shared/sink"
)

// queueURL is the queue's URL, given or looked up once by name on first use.
type queueURL struct {
	name    string
	url     string
	resolve func(ctx context.Context, name string) (string, error)
	// lock is a one-slot semaphore rather than a mutex, so that a Put waiting
	// for another's lookup still gives up when its own context ends.
	lock chan struct{}
}

// get returns the queue URL, looking it up if no earlier call has.
func (q *queueURL) get(ctx context.Context) (string, error) {
	select {
	case q.lock <- struct{}{}:
	case <-ctx.Done():
		return "", sink.Unavailable(fmt.Errorf("sqs: waiting for the queue URL lookup: %w", ctx.Err()))
	}
	defer func() { <-q.lock }()
	if q.url != "" {
		return q.url, nil
	}
	u, err := q.resolve(ctx, q.name)
	if err != nil {
		return "", err
	}
	q.url = u
	return u, nil
}
