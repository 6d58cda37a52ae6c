package s3test

import (
	"context"
	"net/url"
	"testing"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// Driver is an object sink under test, opened on an S3-compatible server.
type Driver struct {
	// Scheme is the sink's URL scheme: "s3" or "oss".
	Scheme string
	// Opener opens the sink's URLs.
	Opener sink.Opener
	// Region is the region parameter of every URL that Open builds.
	Region string
	// UseCredentials makes the sink's credential chain give it these keys,
	// and nothing from the machine's configuration.
	UseCredentials func(t testing.TB, accessKey, secretKey string)
}

// Open opens {scheme}://bucket/logs/webtrack on endpoint, with the query
// parameters in query ("compression=zstd"), and closes it at cleanup.
func (d Driver) Open(t testing.TB, endpoint, bucket, query string) sink.Sink {
	t.Helper()
	raw := d.Scheme + "://" + bucket + "/logs/webtrack?region=" + d.Region + "&endpoint=" + url.QueryEscape(endpoint)
	if query != "" {
		raw += "&" + query
	}
	s, err := sink.Drivers{d.Scheme: d.Opener}.Open(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Harness opens the sink on srv's bucket with srv's keys, and reads back
// what srv stored.
func (d Driver) Harness(t testing.TB, srv *Server, query string) sinktest.Harness {
	t.Helper()
	d.UseCredentials(t, srv.AccessKey, srv.SecretKey)
	return sinktest.Harness{Sink: d.Open(t, srv.Endpoint, srv.Bucket, query), Stored: srv.Stored}
}

// RunConformance runs sinktest's suite against gofakes3 with each of the
// compressions.
func RunConformance(t *testing.T, d Driver) {
	for _, c := range []string{"gzip", "zstd", "none"} {
		t.Run(c, func(t *testing.T) {
			sinktest.Run(t, func(t *testing.T) sinktest.Harness {
				return d.Harness(t, GoFakeS3(t, "webtrack"), "compression="+c)
			})
		})
	}
}

// BenchmarkPut runs sinktest.BenchmarkPut on srv.
func BenchmarkPut(b *testing.B, d Driver, srv *Server) {
	sinktest.BenchmarkPut(b, d.Harness(b, srv, "").Sink)
}

// CheckEndpoints opens each URL in want with open and fails the test unless
// the request that presign makes from its sink (a GET of key k in bucket
// logs, with no network call) addresses the URL wanted, query aside.
func CheckEndpoints(t *testing.T, open sink.Opener, presign func(sink.Sink) (string, error), want map[string]string) {
	t.Helper()
	for raw, want := range want {
		u, _ := url.Parse(raw)
		s, err := open(context.Background(), u)
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		signed, err := presign(s)
		if err != nil {
			t.Fatalf("%s: presign: %v", raw, err)
		}
		got, _ := url.Parse(signed)
		got.RawQuery = ""
		if got.String() != want {
			t.Errorf("%s addresses %s, want %s", raw, got, want)
		}
	}
}
