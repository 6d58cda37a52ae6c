package s3sink_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/awsconfig/chain"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/s3sink"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// The sink as the local server registers it (the SDK's default chain), and
// as the Lambda function does (its environment alone), under a test scheme.
var drivers = sink.Drivers{
	"s3":    s3sink.Opener(chain.Load),
	"s3env": s3sink.Opener(awsconfig.FromEnvironment),
}

// useCredentials gives the SDK's default chain these keys, and nothing from
// the machine's AWS configuration.
func useCredentials(t testing.TB, accessKey, secretKey string) {
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// driver opens the S3 sink on the test servers.
var driver = s3test.Driver{Scheme: "s3", Opener: drivers["s3"], Region: "us-east-1", UseCredentials: useCredentials}

func TestConformanceGoFakeS3(t *testing.T) {
	s3test.RunConformance(t, driver)
}

// TestConformanceFromEnvironment runs the suite against versitygw, which
// checks signatures, with the client configured as on Lambda.
func TestConformanceFromEnvironment(t *testing.T) {
	lambda := driver
	lambda.Scheme = "s3env"
	sinktest.Run(t, func(t *testing.T) sinktest.Harness {
		return lambda.Harness(t, s3test.Versitygw(t, "webtrack"), "")
	})
}

func TestConformanceVersitygw(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Harness {
		return driver.Harness(t, s3test.Versitygw(t, "webtrack"), "")
	})
}

func TestFaults(t *testing.T) {
	s3test.RunFaults(t, driver)
}

func TestWrongCredentialsVersitygw(t *testing.T) {
	srv := s3test.Versitygw(t, "webtrack")
	for name, keys := range map[string][2]string{
		"WrongSecret": {srv.AccessKey, "not-the-secret"},
		"UnknownKey":  {"no-such-key", "not-the-secret"},
	} {
		t.Run(name, func(t *testing.T) {
			useCredentials(t, keys[0], keys[1])
			s := driver.Open(t, srv.Endpoint, srv.Bucket, "")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Put(ctx, sinktest.NewBatch("REQ0000000000000000000201", 1, 100))
			if err == nil || sink.IsRetryable(err) {
				t.Fatalf("Put with wrong credentials: got %v, want an error that is not retryable", err)
			}
			msg := err.Error()
			if !containsAny(msg, "SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId", "access key") {
				t.Errorf("error does not say access was denied or the signature was wrong: %v", err)
			}
			if !strings.Contains(msg, "s3://webtrack/logs/webtrack/") {
				t.Errorf("error does not name the bucket and key: %v", err)
			}
			t.Log(msg)
			sinktest.Expect(t, sinktest.Harness{Sink: s, Stored: srv.Stored}, map[string][]string{})
		})
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestOpenRejectsBadURLs(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	for _, c := range []struct{ url, want string }{
		{"s3:///prefix?region=us-east-1", "needs a bucket"},
		{"s3://b?region=us-east-1&regoin=x", `unknown s3 URL parameter "regoin"`},
		{"s3://b?region=us-east-1&path_style=maybe", `path_style="maybe"`},
		{"s3://b?region=us-east-1&compression=lz4", `compression "lz4"`},
		{"s3://b", "region unknown"},
	} {
		sinktest.OpenFails(t, drivers, c.url, c.want)
	}
}

func TestOpenMakesNoNetworkCall(t *testing.T) {
	useCredentials(t, "k", "s")
	// Nothing listens on a closed port; Open must still succeed.
	s := driver.Open(t, "http://127.0.0.1:1", "b", "")
	if s == nil {
		t.Fatal("no sink")
	}
}

func BenchmarkPut3MiB(b *testing.B) {
	b.Run("gofakes3", func(b *testing.B) { s3test.BenchmarkPut(b, driver, s3test.GoFakeS3(b, "webtrack")) })
	b.Run("versitygw", func(b *testing.B) { s3test.BenchmarkPut(b, driver, s3test.Versitygw(b, "webtrack")) })
}

func TestRestartVersitygw(t *testing.T) {
	s3test.RunRestart(t, driver, s3test.Versitygw(t, "webtrack"))
}
