package osssink

import (
	"context"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
)

// TestEndpoints checks which host each URL addresses, by presigning a request
// (no network call).
func TestEndpoints(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "k")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
	s3test.CheckEndpoints(t, Open, func(s sink.Sink) (string, error) {
		r, err := s.(*Sink).client.Presign(context.Background(), &oss.GetObjectRequest{Bucket: oss.Ptr("logs"), Key: oss.Ptr("k")})
		if err != nil {
			return "", err
		}
		return r.URL, nil
	}, map[string]string{
		"oss://logs/p?region=cn-hangzhou":                                 "https://logs.oss-cn-hangzhou.aliyuncs.com/k",
		"oss://logs/p?region=oss-cn-hangzhou&internal=true":               "https://logs.oss-cn-hangzhou-internal.aliyuncs.com/k",
		"oss://logs/p?region=cn-beijing&endpoint=https://oss.example.com": "https://logs.oss.example.com/k",
		"oss://logs/p?region=cn-beijing&endpoint=http://127.0.0.1:9000":   "http://127.0.0.1:9000/logs/k",
		"oss://logs/p?region=cn-beijing&internal=true&endpoint=127.0.0.2": "https://127.0.0.2/logs/k",
	})
}
