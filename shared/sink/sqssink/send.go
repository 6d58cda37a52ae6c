package sqssink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/backoff"
)

// sqsRetryables are SQS error codes, beyond the SDK's usual ones, that a
// later attempt may not meet.
var sqsRetryables = retry.RetryableErrorCode{Codes: map[string]struct{}{"KmsThrottled": {}}}

const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = time.Second
	// maxInFlight bounds the SendMessageBatch calls of one Put under way
	// at once.
	maxInFlight = 8
	// sendMargin is the least time left before its deadline at which a Put
	// starts a call: one started later would likely be cut off, after SQS
	// may have stored its messages, by a Put that fails anyway.
	sendMargin = 100 * time.Millisecond
)

// sendAll sends the requests, at most maxInFlight at once, and waits for
// them. Once one has failed, the Put fails: no further request starts, and
// those under way stop retrying. It returns nil only when SQS accepted
// every request: one that never started, because ctx ended between calls,
// fails the Put too.
func (s *Sink) sendAll(ctx context.Context, queueURL string, requests [][]types.SendMessageBatchRequestEntry) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		sent  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(maxInFlight, len(requests)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(requests) {
					return
				}
				err := s.send(ctx, queueURL, requests[i])
				if err == nil {
					sent.Add(1)
					continue
				}
				mu.Lock()
				if first == nil || sink.IsRetryable(first) && !sink.IsRetryable(err) {
					first = err
				}
				mu.Unlock()
				cancel()
				return
			}
		})
	}
	wg.Wait()
	if n := len(requests) - int(sent.Load()); first == nil && n > 0 {
		// No call failed, so ctx is done for its parent's reason.
		return sink.Unavailable(fmt.Errorf("sqs: %d of %d SendMessageBatch calls not made: %w", n, len(requests), ctx.Err()))
	}
	return first
}

// send sends one SendMessageBatch request and then again, with backoff,
// whichever of its messages SQS reports failed, until all are accepted.
func (s *Sink) send(ctx context.Context, queueURL string, entries []types.SendMessageBatchRequestEntry) error {
	pending := entries
	return withRetry(ctx, func() error {
		out, err := s.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: pending})
		if err != nil {
			if errors.As(err, new(*types.QueueDoesNotExist)) {
				s.queue.forget(queueURL)
			}
			return fmt.Errorf("sqs: SendMessageBatch: %w", err)
		}
		pending, err = unsent(pending, out.Failed)
		return err
	})
}

// partialFailure says that SQS failed some messages of a request through no
// fault of the sender, so that sending them again may work.
type partialFailure struct {
	failed, sent int
	first        types.BatchResultErrorEntry
}

func (e *partialFailure) Error() string {
	return fmt.Sprintf("sqs: SendMessageBatch failed %d of %d messages, first: %s: %s",
		e.failed, e.sent, aws.ToString(e.first.Code), aws.ToString(e.first.Message))
}

// unsent returns the entries that SQS failed, and why.
func unsent(entries []types.SendMessageBatchRequestEntry, failed []types.BatchResultErrorEntry) ([]types.SendMessageBatchRequestEntry, error) {
	if len(failed) == 0 {
		return nil, nil
	}
	byID := make(map[string]types.BatchResultErrorEntry, len(failed))
	for _, f := range failed {
		if f.SenderFault {
			return nil, fmt.Errorf("sqs: queue rejected message part %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		byID[aws.ToString(f.Id)] = f
	}
	var again []types.SendMessageBatchRequestEntry
	for _, e := range entries {
		if _, ok := byID[aws.ToString(e.Id)]; ok {
			again = append(again, e)
		}
	}
	return again, &partialFailure{failed: len(failed), sent: len(entries), first: failed[0]}
}

// withRetry runs op until it succeeds, fails for good, or ctx ends or is
// less than sendMargin from its deadline; in the last case it returns op's
// last error wrapped in sink.ErrUnavailable.
func withRetry(ctx context.Context, op func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if !startable(ctx) {
			if err == nil {
				err = fmt.Errorf("sqs: not sent: %w", cmp.Or(ctx.Err(), errTooLate))
			}
			return sink.Unavailable(err)
		}
		err = op()
		if err == nil || !retryable(ctx, err) {
			return err
		}
		if !backoff.Sleep(ctx, backoff.Delay(attempt, firstBackoff, maxBackoff)) {
			return sink.Unavailable(err)
		}
	}
}

// errTooLate says that a call was not made for want of time.
var errTooLate = fmt.Errorf("less than %v before the deadline", sendMargin)

// startable says whether ctx is live and more than sendMargin from its
// deadline.
func startable(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() == nil && (!ok || time.Until(d) > sendMargin)
}

// retryable says whether err may go away if the call is made again: the
// SDK's own judgement (throttling, 5xx, connection errors, time-outs), a
// partial failure, or the context ending mid-call.
func retryable(ctx context.Context, err error) bool {
	var partial *partialFailure
	return ctx.Err() != nil || errors.As(err, &partial) ||
		retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() ||
		sqsRetryables.IsErrorRetryable(err).Bool()
}
