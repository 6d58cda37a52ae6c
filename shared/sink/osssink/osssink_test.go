package osssink_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/sink"
	_ "github.com/webtrack/webtrack/shared/sink/osssink"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// No local server checks OSS signatures: these tests run against gofakes3,
// which answers PutObject as OSS does, addressed path-style by its IP.

func useCredentials(t testing.TB) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "fake-key")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "fake-secret")
	t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "fake-token")
}

// openSink opens oss://bucket/prefix on endpoint through the sink registry.
func openSink(t testing.TB, endpoint, bucket, query string) sink.Sink {
	t.Helper()
	raw := "oss://" + bucket + "/logs/webtrack?region=cn-hangzhou&endpoint=" + url.QueryEscape(endpoint)
	if query != "" {
		raw += "&" + query
	}
	s, err := sink.Open(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformanceGoFakeS3(t *testing.T) {
	for _, c := range []string{"gzip", "zstd", "none"} {
		t.Run(c, func(t *testing.T) {
			sinktest.Run(t, func(t *testing.T) sinktest.Harness {
				useCredentials(t)
				srv := s3test.GoFakeS3(t, "webtrack")
				return sinktest.Harness{Sink: openSink(t, srv.Endpoint, srv.Bucket, "compression="+c), Stored: srv.Stored}
			})
		})
	}
}

func TestFaults(t *testing.T) {
	s3test.RunFaults(t, func(t testing.TB, endpoint, bucket string) sink.Sink {
		useCredentials(t)
		return openSink(t, endpoint, bucket, "")
	})
}

func TestOpenRejectsBadURLs(t *testing.T) {
	useCredentials(t)
	t.Setenv("FC_REGION", "")
	for _, c := range []struct{ url, want string }{
		{"oss:///prefix?region=cn-hangzhou", "needs a bucket"},
		{"oss://b?region=cn-hangzhou&path_style=true", `unknown oss URL parameter "path_style"`},
		{"oss://b?region=cn-hangzhou&internal=yes", `internal="yes"`},
		{"oss://b?region=cn-hangzhou&compression=lz4", `compression "lz4"`},
		{"oss://b", "region unknown"},
	} {
		_, err := sink.Open(context.Background(), c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) = %v, want an error mentioning %q", c.url, err, c.want)
		}
	}
}

func TestOpenNeedsCredentials(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	_, err := sink.Open(context.Background(), "oss://b?region=cn-hangzhou")
	if err == nil || !strings.Contains(err.Error(), "ALIBABA_CLOUD_ACCESS_KEY_ID") {
		t.Fatalf("Open without credentials = %v, want an error naming ALIBABA_CLOUD_ACCESS_KEY_ID", err)
	}
}

func TestOpenMakesNoNetworkCall(t *testing.T) {
	useCredentials(t)
	openSink(t, "http://127.0.0.1:1", "b", "internal=true")
}

func BenchmarkPut3MiB(b *testing.B) {
	b.Run("gofakes3", func(b *testing.B) {
		useCredentials(b)
		srv := s3test.GoFakeS3(b, "webtrack")
		s := openSink(b, srv.Endpoint, srv.Bucket, "")
		batch := sinktest.NewBatch("REQ0000000000000000000301", 4096, 760)
		b.SetBytes(int64(len(batch.NDJSON)))
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			if err := s.Put(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
