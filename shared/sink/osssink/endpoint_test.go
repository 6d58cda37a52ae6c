package osssink

import (
	"context"
	"net/url"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// TestEndpoints checks which host each URL addresses, by presigning a request
// (no network call).
func TestEndpoints(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "k")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
	for raw, want := range map[string]string{
		"oss://logs/p?region=cn-hangzhou":                                 "https://logs.oss-cn-hangzhou.aliyuncs.com/k",
		"oss://logs/p?region=oss-cn-hangzhou&internal=true":               "https://logs.oss-cn-hangzhou-internal.aliyuncs.com/k",
		"oss://logs/p?region=cn-beijing&endpoint=https://oss.example.com": "https://logs.oss.example.com/k",
		"oss://logs/p?region=cn-beijing&endpoint=http://127.0.0.1:9000":   "http://127.0.0.1:9000/logs/k",
		"oss://logs/p?region=cn-beijing&internal=true&endpoint=127.0.0.2": "https://127.0.0.2/logs/k",
	} {
		u, _ := url.Parse(raw)
		s, err := Open(context.Background(), u)
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		r, err := s.(*Sink).client.Presign(context.Background(), &oss.GetObjectRequest{Bucket: oss.Ptr("logs"), Key: oss.Ptr("k")})
		if err != nil {
			t.Fatalf("%s: presign: %v", raw, err)
		}
		got, _ := url.Parse(r.URL)
		got.RawQuery = ""
		if got.String() != want {
			t.Errorf("%s addresses %s, want %s", raw, got, want)
		}
	}
}
