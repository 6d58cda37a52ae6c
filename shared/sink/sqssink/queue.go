package sqssink

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/webtrack/webtrack/shared/sink"
)

// queueURL is the queue's URL, given, or looked up by name on first use and
// again once SQS has said the queue it named does not exist.
type queueURL struct {
	name    string
	url     atomic.Pointer[string]
	resolve func(ctx context.Context, name string) (string, error)
	// lock is a one-slot semaphore rather than a mutex, so that a Put waiting
	// for another's lookup still gives up when its own context ends.
	lock chan struct{}
}

// get returns the queue URL, looking it up if it is not known.
func (q *queueURL) get(ctx context.Context) (string, error) {
	if u := q.url.Load(); u != nil {
		return *u, nil
	}
	select {
	case q.lock <- struct{}{}:
	case <-ctx.Done():
		return "", sink.Unavailable(fmt.Errorf("sqs: waiting for the queue URL lookup: %w", ctx.Err()))
	}
	defer func() { <-q.lock }()
	if u := q.url.Load(); u != nil {
		return *u, nil
	}
	u, err := q.resolve(ctx, q.name)
	if err != nil {
		return "", err
	}
	q.url.Store(&u)
	return u, nil
}

// forget drops stale, a URL that SQS said names no queue, if it was looked
// up by name: a queue deleted and created anew may have another URL.
func (q *queueURL) forget(stale string) {
	if u := q.url.Load(); q.name != "" && u != nil && *u == stale {
		q.url.CompareAndSwap(u, nil)
	}
}
