// Package sqssink sends batches to an Amazon SQS queue.
//
// The sink URL names the queue in one of two ways:
//
//	sqs://{queue-name}?region=eu-west-1
//	sqs://?queue_url=https://sqs.eu-west-1.amazonaws.com/123456789012/{queue-name}
//
// URL parameters:
//
//	queue_url          the queue's URL; used instead of a queue name in the host,
//	                   it saves the GetQueueUrl call. Otherwise the name is
//	                   resolved to a URL on the first Put and the answer cached
//	                   until SQS says that queue does not exist; the Put that
//	                   meets that answer looks the name up again, once, and
//	                   sends its batch again to the queue found.
//	region             AWS region; default: the configuration's (AWS_REGION,
//	                   which Lambda sets).
//	endpoint           SQS endpoint URL, for SQS-compatible servers and tests;
//	                   default: the SDK's (the default chain also honours
//	                   AWS_ENDPOINT_URL_SQS; on Lambda, AWS_ENDPOINT_URL).
//	max_message_bytes  largest message the sink sends, body and attributes
//	                   counted as SQS counts them: 1024 to 1048576; default
//	                   262144 (256 KiB). Keep it at most the queue's
//	                   MaximumMessageSize.
//
// Credentials come from the awsconfig.Loader the binary registers the sink
// with (Opener): the function's environment on Lambda, the SDK's default
// chain (environment variables, shared files, SSO) for the local server.
//
// Each batch is cut into as few messages as max_message_bytes allows. A
// message body is a run of whole NDJSON lines of the batch, in order, each
// ending in '\n'. Characters that JSON allows in strings but SQS refuses in a
// message (U+FFFE, U+FFFF and the other characters outside #x9, #xA, #xD,
// #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF) are written as
// \uXXXX escapes, which mean the same to a JSON reader. A line too large for
// a message fails the Put before anything is sent (500). Every message
// carries these message attributes:
//
//	request_id  String  the batch's request id
//	part        Number  this message's place in the batch, from 1
//	parts       Number  how many messages the batch was cut into
//	project     String  the batch's project (left out when empty)
//	logstore    String  the batch's logstore (left out when empty)
//
// Messages are sent up to ten at a time with SendMessageBatch, at most 1 MiB
// a request, the requests of one batch up to eight at once: parts may arrive
// in any order, and consumers put them in order by part. On a FIFO queue (its
// name ends in .fifo) each message has the request id as MessageGroupId and
// "{request id}.{part}" as MessageDeduplicationId, so SQS itself drops a part
// sent again within its five-minute deduplication interval.
//
// Delivery is at least once. Messages that SQS accepted cannot be taken back
// when another part of the same batch fails, so a failed Put may leave some
// of its parts in the queue; once one request has failed, or less than
// 100ms are left before the deadline, no further request starts. SQS
// itself may deliver a message twice, and the sink sends again a message
// whose fate it does not know, so a consumer drops copies on
// (request_id, part) and treats a batch as complete once it holds parts 1 to
// parts. A client's retry of a failed request is a new request, with a new
// id.
//
// Errors: throttling, 5xx answers, connection failures and time-outs are
// retried with backoff until 100ms before the Put's deadline, then returned
// wrapped in sink.ErrUnavailable (503); so are messages that SendMessageBatch
// reports failed through no fault of the sender. Other errors (no such queue,
// access denied, a message the queue rejects) are returned as they are (500).
package sqssink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
)

const (
	// DefaultMaxMessageBytes is the default for max_message_bytes.
	DefaultMaxMessageBytes = 256 << 10
	// MaxMessageBytes is the largest max_message_bytes: the most SQS takes
	// in one message, body and attributes. Consumers take bodies this large.
	MaxMessageBytes = 1 << 20
	// maxRequestBytes is the most that SQS takes in one SendMessageBatch,
	// counted over all its messages' bodies and attributes.
	maxRequestBytes = 1 << 20
	// maxRequestEntries is the most messages one SendMessageBatch holds.
	maxRequestEntries = 10
	// minMessageBytes is the least MaximumMessageSize that SQS allows.
	minMessageBytes = 1 << 10
)

// Sink sends batches to one SQS queue. It is safe for concurrent use.
type Sink struct {
	client          *sqs.Client
	queue           queueURL
	fifo            bool
	maxMessageBytes int
}

// Opener returns the opener of SQS sinks whose clients take their
// configuration from load. A binary registers it under "sqs".
func Opener(load awsconfig.Loader) sink.Opener {
	return func(ctx context.Context, u *url.URL) (sink.Sink, error) { return open(ctx, u, load) }
}

// open builds a Sink from an sqs:// URL. It makes no network call.
func open(ctx context.Context, u *url.URL, load awsconfig.Loader) (sink.Sink, error) {
	if err := sink.CheckParams(u, "queue_url", "region", "endpoint", "max_message_bytes"); err != nil {
		return nil, fmt.Errorf("sqs: %w", err)
	}
	q := u.Query()
	s := &Sink{maxMessageBytes: DefaultMaxMessageBytes, queue: queueURL{lock: make(chan struct{}, 1)}}
	if err := s.setQueue(u.Host, q.Get("queue_url")); err != nil {
		return nil, err
	}
	if v := q.Get("max_message_bytes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minMessageBytes || n > MaxMessageBytes {
			return nil, fmt.Errorf("sqs: max_message_bytes %q: want a number from %d to %d", v, minMessageBytes, MaxMessageBytes)
		}
		s.maxMessageBytes = n
	}
	client, err := newClient(ctx, q.Get("region"), q.Get("endpoint"), load)
	if err != nil {
		return nil, err
	}
	s.client = client
	s.queue.resolve = s.getQueueURL
	return s, nil
}

// setQueue takes the queue from the URL's host or its queue_url parameter.
func (s *Sink) setQueue(name, rawURL string) error {
	switch {
	case name != "" && rawURL != "":
		return fmt.Errorf("sqs: both a queue name (%q) and queue_url given; use one", name)
	case rawURL != "":
		qu, err := url.Parse(rawURL)
		if err != nil || qu.Host == "" || qu.Path == "" {
			return fmt.Errorf("sqs: queue_url %q is not a queue URL", rawURL)
		}
		s.queue.url.Store(&rawURL)
		s.fifo = strings.HasSuffix(qu.Path, ".fifo")
	case name != "":
		s.queue.name = name
		s.fifo = strings.HasSuffix(name, ".fifo")
	default:
		return fmt.Errorf("sqs: no queue: use sqs://{queue-name} or sqs://?queue_url=…")
	}
	return nil
}

// newClient builds the SQS client with the configuration load gives.
// Retries are the sink's own, bounded by each Put's context, so the SDK's
// are off.
func newClient(ctx context.Context, region, endpoint string, load awsconfig.Loader) (*sqs.Client, error) {
	cfg, err := load(ctx, region)
	if err != nil {
		return nil, fmt.Errorf("sqs: loading AWS configuration: %w", err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.Retryer = aws.NopRetryer{}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Put sends the batch as one or more messages and returns nil once SQS has
// accepted every one of them.
func (s *Sink) Put(ctx context.Context, b *sink.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqs: batch %s not sent: %w", b.RequestID, err)
	}
	requests, err := s.requests(b)
	if err != nil {
		return err
	}
	if len(requests) == 0 {
		return nil
	}
	queueURL, err := s.queue.get(ctx)
	if err != nil {
		return err
	}
	err = s.sendAll(ctx, queueURL, requests)
	if s.queue.name != "" && errors.As(err, new(*types.QueueDoesNotExist)) {
		// The queue went away and may be back, under another URL: look
		// it up again, once, and send the whole batch anew, since what
		// reached the queue that went away went with it.
		if queueURL, err = s.queue.get(ctx); err != nil {
			return err
		}
		err = s.sendAll(ctx, queueURL, requests)
	}
	return err
}

// getQueueURL asks SQS for the URL of the named queue.
func (s *Sink) getQueueURL(ctx context.Context, name string) (string, error) {
	var queueURL string
	err := withRetry(ctx, func() error {
		out, err := s.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("sqs: looking up queue %q: %w", name, err)
		}
		queueURL = aws.ToString(out.QueueUrl)
		return nil
	})
	return queueURL, err
}

// Close closes the client's idle HTTP connections.
func (s *Sink) Close() error {
	if c, ok := s.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}
