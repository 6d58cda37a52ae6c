// Package s3sink stores each batch as one object in Amazon S3 or in an
// S3-compatible store (MinIO, versitygw, Ceph, …), with the key and body that
// objectlayout gives every object sink.
//
// The sink is named by a URL, s3://bucket/prefix?param=value&…:
//
//	| parameter   | default                         | meaning                                                             |
//	|-------------|---------------------------------|---------------------------------------------------------------------|
//	| bucket      | required                        | the URL's host: the bucket that receives the objects                |
//	| prefix      | none                            | the URL's path: s3://logs/webtrack puts every key under webtrack/   |
//	| region      | AWS_REGION or the AWS config    | the bucket's region; Open fails if nothing gives one                |
//	| endpoint    | AWS's endpoint for the region   | base URL of an S3-compatible server, e.g. http://127.0.0.1:7070     |
//	| path_style  | true with endpoint, else false  | address the bucket in the path (/bucket/key), not the host name     |
//	| compression | gzip                            | object body: gzip, zstd or none                                     |
//
// Credentials and the region come from the awsconfig.Loader the binary
// registers the sink with (Opener): the SDK's default chain for the local
// server, the function's environment on Lambda.
//
// Each Put is one PutObject with a Content-MD5 header, so a body damaged on
// the way is rejected rather than stored. The SDK retries throttling, 5xx
// answers and connection failures with a short backoff until the context's
// deadline; what then still fails is reported as sink.ErrUnavailable, while
// refused credentials, a denied permission or a missing bucket are not.
package s3sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// Retry policy: a few quick attempts; the caller's deadline bounds them all.
const (
	maxAttempts = 5
	maxBackoff  = time.Second
)

// Sink writes batches to one bucket.
type Sink struct {
	client *s3.Client
	bucket string
	layout objectlayout.Layout
}

// Opener returns the opener of S3 sinks whose clients take their
// configuration from load. A binary registers it under "s3".
func Opener(load awsconfig.Loader) sink.Opener {
	return func(ctx context.Context, u *url.URL) (sink.Sink, error) { return open(ctx, u, load) }
}

// open builds an S3 sink from its URL. It makes no network call.
func open(ctx context.Context, u *url.URL, load awsconfig.Loader) (sink.Sink, error) {
	if err := sink.CheckParams(u, "region", "endpoint", "path_style", "compression"); err != nil {
		return nil, err
	}
	q := u.Query()
	if u.Host == "" {
		return nil, errors.New("s3 URL needs a bucket: s3://bucket/prefix")
	}
	layout, err := objectlayout.Parse(u.Path, q)
	if err != nil {
		return nil, err
	}
	client, err := newClient(ctx, q, load)
	if err != nil {
		return nil, err
	}
	return &Sink{client: client, bucket: u.Host, layout: layout}, nil
}

// newClient builds the S3 client that the URL's parameters describe, with
// the configuration load gives.
func newClient(ctx context.Context, q url.Values, load awsconfig.Loader) (*s3.Client, error) {
	endpoint := q.Get("endpoint")
	pathStyle, err := boolParam(q, "path_style", endpoint != "")
	if err != nil {
		return nil, err
	}
	cfg, err := load(ctx, q.Get("region"))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	cfg.Retryer = newRetryer
	if cfg.Region == "" {
		return nil, errors.New("s3 region unknown: add ?region=… or set AWS_REGION")
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		// Content-MD5 is the checksum: every S3-compatible server checks it.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}), nil
}

// retryables are the SDK's transient errors plus BadDigest: a body damaged
// on the way, which S3 rejected and the next attempt may deliver whole.
var retryables = append([]retry.IsErrorRetryable{
	retry.RetryableErrorCode{Codes: map[string]struct{}{"BadDigest": {}}},
}, retry.DefaultRetryables...)

// newRetryer retries without a client-wide retry quota: each Put's deadline
// already bounds how long it retries.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = retryables
	})
}

func boolParam(q url.Values, name string, def bool) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}

// Put stores the batch as one object. It stores nothing when ctx is done.
func (s *Sink) Put(ctx context.Context, b *sink.Batch) error {
	return s.layout.Upload(ctx, "s3 put", b, func(obj *objectlayout.Object) error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           &obj.Key,
			Body:          bytes.NewReader(obj.Body),
			ContentLength: aws.Int64(int64(len(obj.Body))),
			ContentType:   &obj.ContentType,
			ContentMD5:    aws.String(obj.ContentMD5()),
		})
		if err != nil {
			return s.putError(obj.Key, err)
		}
		return nil
	})
}

// putError names the bucket, key and S3 error code, and marks the errors
// after which the same Put may succeed later.
func (s *Sink) putError(key string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		err = fmt.Errorf("s3 put s3://%s/%s: %s: %w", s.bucket, key, apiErr.ErrorCode(), err)
	} else {
		err = fmt.Errorf("s3 put s3://%s/%s: %w", s.bucket, key, err)
	}
	if retryable(err) {
		return sink.Unavailable(err)
	}
	return err
}

// retryable holds for timeouts, throttling, 5xx answers, connection failures
// and damaged bodies: the errors that the SDK retries too.
func retryable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		retry.IsErrorRetryables(retryables).IsErrorRetryable(err) == aws.TrueTernary
}

// Close does nothing: the client holds only idle connections.
func (s *Sink) Close() error { return nil }
