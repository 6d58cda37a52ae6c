package osssink_test

import (
	"context"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/osssink"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// No local server checks OSS signatures: these tests run against gofakes3,
// which answers PutObject as OSS does, addressed path-style by its IP.

// useCredentials gives the sink these keys and a security token.
func useCredentials(t testing.TB, accessKey, secretKey string) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", accessKey)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secretKey)
	t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "fake-token")
}

// driver opens the OSS sink on the test servers.
var driver = s3test.Driver{Scheme: "oss", Opener: osssink.Open, Region: "cn-hangzhou", UseCredentials: useCredentials}

var drivers = sink.Drivers{"oss": osssink.Open}

func TestConformanceGoFakeS3(t *testing.T) {
	s3test.RunConformance(t, driver)
}

func TestFaults(t *testing.T) {
	s3test.RunFaults(t, driver)
}

func TestOpenRejectsBadURLs(t *testing.T) {
	useCredentials(t, "fake-key", "fake-secret")
	t.Setenv("FC_REGION", "")
	for _, c := range []struct{ url, want string }{
		{"oss:///prefix?region=cn-hangzhou", "needs a bucket"},
		{"oss://b?region=cn-hangzhou&path_style=true", `unknown oss URL parameter "path_style"`},
		{"oss://b?region=cn-hangzhou&internal=yes", `internal="yes"`},
		{"oss://b?region=cn-hangzhou&compression=lz4", `compression "lz4"`},
		{"oss://b", "region unknown"},
	} {
		sinktest.OpenFails(t, drivers, c.url, c.want)
	}
}

func TestOpenNeedsCredentials(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	_, err := drivers.Open(context.Background(), "oss://b?region=cn-hangzhou")
	if err == nil || !strings.Contains(err.Error(), "ALIBABA_CLOUD_ACCESS_KEY_ID") {
		t.Fatalf("Open without credentials = %v, want an error naming ALIBABA_CLOUD_ACCESS_KEY_ID", err)
	}
}

func TestOpenMakesNoNetworkCall(t *testing.T) {
	useCredentials(t, "fake-key", "fake-secret")
	driver.Open(t, "http://127.0.0.1:1", "b", "internal=true")
}

func BenchmarkPut3MiB(b *testing.B) {
	b.Run("gofakes3", func(b *testing.B) { s3test.BenchmarkPut(b, driver, s3test.GoFakeS3(b, "webtrack")) })
}
