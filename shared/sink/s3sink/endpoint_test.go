package s3sink

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestEndpoints checks which host each URL addresses, by presigning a request
// (no network call).
func TestEndpoints(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	for raw, want := range map[string]string{
		"s3://logs/p?region=eu-west-1":                                                     "https://logs.s3.eu-west-1.amazonaws.com/k",
		"s3://logs/p?region=eu-west-1&path_style=true":                                     "https://s3.eu-west-1.amazonaws.com/logs/k",
		"s3://logs/p?region=us-east-1&endpoint=http://127.0.0.1:7070":                      "http://127.0.0.1:7070/logs/k",
		"s3://logs/p?region=us-east-1&endpoint=https://minio.example.com&path_style=false": "https://logs.minio.example.com/k",
	} {
		u, _ := url.Parse(raw)
		s, err := Open(context.Background(), u)
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		r, err := s3.NewPresignClient(s.(*Sink).client).PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("k")})
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
