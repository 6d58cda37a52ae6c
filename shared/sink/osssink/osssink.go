// Package osssink stores each batch as one object in Alibaba Cloud OSS, with
// the key and body that objectlayout gives every object sink.
//
// The sink is named by a URL, oss://bucket/prefix?param=value&…:
//
//	| parameter   | default                    | meaning                                                                 |
//	|-------------|----------------------------|-------------------------------------------------------------------------|
//	| bucket      | required                   | the URL's host: the bucket that receives the objects                    |
//	| prefix      | none                       | the URL's path: oss://logs/webtrack puts every key under webtrack/      |
//	| region      | FC_REGION                  | region id, e.g. cn-hangzhou (a leading "oss-" is dropped); required     |
//	| internal    | false                      | true: oss-{region}-internal.aliyuncs.com, free traffic within a region  |
//	| endpoint    | oss-{region}.aliyuncs.com  | explicit endpoint URL, overriding internal; an IP is used path-style    |
//	| compression | gzip                       | object body: gzip, zstd or none                                         |
//
// Credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN, which
// Function Compute sets for a function with a role, until UseCredentials
// gives fresher ones: the role's keys are temporary, and a process that
// outlives them must take the new keys its platform hands it. They are read
// for every request, so refreshed keys take effect at once.
//
// Each Put is one PutObject with a Content-MD5 header, so a body damaged on
// the way is rejected rather than stored. The SDK retries throttling, 5xx
// answers, connection failures and damaged bodies with a short backoff until
// the context's deadline; what then still fails is reported as
// sink.ErrUnavailable, while refused credentials, a denied permission or a
// missing bucket are not.
package osssink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// Retry policy: a few quick attempts; the caller's deadline bounds them all.
const (
	maxAttempts = 5
	maxBackoff  = time.Second
)

// The environment variables that hold the credentials.
const (
	envAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	envSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
)

// Sink writes batches to one bucket.
type Sink struct {
	client *oss.Client
	bucket string
	layout objectlayout.Layout
}

// Open builds an OSS sink from its URL. It makes no network call.
func Open(ctx context.Context, u *url.URL) (sink.Sink, error) {
	if err := sink.CheckParams(u, "region", "endpoint", "internal", "compression"); err != nil {
		return nil, err
	}
	q := u.Query()
	if u.Host == "" {
		return nil, errors.New("oss URL needs a bucket: oss://bucket/prefix")
	}
	layout, err := objectlayout.Parse(u.Path, q)
	if err != nil {
		return nil, err
	}
	cfg, err := config(q)
	if err != nil {
		return nil, err
	}
	if _, err := envCredentials(ctx); err != nil {
		return nil, err
	}
	return &Sink{client: oss.NewClient(cfg), bucket: u.Host, layout: layout}, nil
}

// config turns the URL's parameters into the SDK's configuration.
func config(q url.Values) (*oss.Config, error) {
	region := strings.TrimPrefix(q.Get("region"), "oss-")
	if region == "" {
		region = os.Getenv("FC_REGION")
	}
	if region == "" {
		return nil, errors.New("oss region unknown: add ?region=… (e.g. cn-hangzhou)")
	}
	internal := false
	if v := q.Get("internal"); v != "" {
		var err error
		if internal, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("internal=%q: want true or false", v)
		}
	}
	cfg := oss.LoadDefaultConfig().
		WithRegion(region).
		WithUseInternalEndpoint(internal).
		WithCredentialsProvider(credentials.CredentialsProviderFunc(currentCredentials)).
		WithRetryer(retry.NewStandard(func(o *retry.RetryOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = maxBackoff
			o.ErrorRetryables = []retry.ErrorRetryable{retryableFunc(retryable)}
		})).
		// Content-MD5 is the checksum, checked by the server before it stores.
		WithDisableUploadCRC64Check(true)
	if endpoint := q.Get("endpoint"); endpoint != "" {
		cfg = cfg.WithEndpoint(endpoint)
	}
	return cfg, nil
}

// fresh holds the credentials UseCredentials was last given, or nil.
var fresh atomic.Pointer[credentials.Credentials]

// UseCredentials makes every OSS sink of the process sign its later requests
// with these credentials instead of the environment's. A front door calls it
// with the temporary keys its platform passes on each request (Function
// Compute's custom runtime: x-fc-access-key-id and its kin), which outlive
// those the process started with. It is safe for concurrent use. A call
// without all three parts changes nothing: a role's temporary keys are
// useless without their token.
func UseCredentials(accessKeyID, accessKeySecret, securityToken string) {
	if accessKeyID == "" || accessKeySecret == "" || securityToken == "" {
		return
	}
	c := credentials.Credentials{AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret, SecurityToken: securityToken}
	if old := fresh.Load(); old == nil || *old != c {
		fresh.Store(&c)
	}
}

// currentCredentials are those of the last UseCredentials, else the
// environment's.
func currentCredentials(ctx context.Context) (credentials.Credentials, error) {
	if c := fresh.Load(); c != nil {
		return *c, nil
	}
	return envCredentials(ctx)
}

// envCredentials reads the credentials that Function Compute provides.
func envCredentials(context.Context) (credentials.Credentials, error) {
	id, secret := os.Getenv(envAccessKeyID), os.Getenv(envAccessKeySecret)
	if id == "" || secret == "" {
		return credentials.Credentials{}, fmt.Errorf("oss credentials: set %s and %s (and %s for a role's temporary keys)", envAccessKeyID, envAccessKeySecret, envSecurityToken)
	}
	return credentials.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: os.Getenv(envSecurityToken)}, nil
}

// Put stores the batch as one object. It stores nothing when ctx is done.
func (s *Sink) Put(ctx context.Context, b *sink.Batch) error {
	return s.layout.Upload(ctx, "oss put", b, func(obj *objectlayout.Object) error {
		_, err := s.client.PutObject(ctx, &oss.PutObjectRequest{
			Bucket:        &s.bucket,
			Key:           &obj.Key,
			Body:          bytes.NewReader(obj.Body),
			ContentLength: oss.Ptr(int64(len(obj.Body))),
			ContentType:   &obj.ContentType,
			ContentMD5:    oss.Ptr(obj.ContentMD5()),
		})
		if err != nil {
			return s.putError(obj.Key, err)
		}
		return nil
	})
}

// putError names the bucket, key and OSS error code, and marks the errors
// after which the same Put may succeed later.
func (s *Sink) putError(key string, err error) error {
	var se *oss.ServiceError
	if errors.As(err, &se) {
		err = serviceError{se}
	}
	err = fmt.Errorf("oss put oss://%s/%s: %w", s.bucket, key, err)
	if retryable(err) {
		return sink.Unavailable(err)
	}
	return err
}

// serviceError is an OSS error answer on one line; the SDK's spans eight.
type serviceError struct{ *oss.ServiceError }

func (e serviceError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d, request id %s)", e.Code, e.Message, e.StatusCode, e.RequestID)
}

func (e serviceError) Unwrap() error { return e.ServiceError }

// retryable holds for timeouts, throttling, 5xx answers, connection failures
// and damaged bodies. Unlike the SDK's default it never retries 401.
func retryable(err error) bool {
	var se *oss.ServiceError
	if errors.As(err, &se) {
		switch se.Code {
		case "BadDigest", "InvalidDigest":
			return true
		}
		switch se.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var opErr *net.OpError
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &opErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// retryableFunc lets the SDK's retryer use retryable.
type retryableFunc func(error) bool

func (f retryableFunc) IsErrorRetryable(err error) bool { return f(err) }

// Close does nothing: the client holds only idle connections.
func (s *Sink) Close() error { return nil }
