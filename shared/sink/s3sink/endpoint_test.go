package s3sink

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/webtrack/webtrack/shared/awsconfig/chain"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
)

// TestEndpoints checks which host each URL addresses, by presigning a request
// (no network call).
func TestEndpoints(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	s3test.CheckEndpoints(t, Opener(chain.Load), func(s sink.Sink) (string, error) {
		r, err := s3.NewPresignClient(s.(*Sink).client).PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("k")})
		if err != nil {
			return "", err
		}
		return r.URL, nil
	}, map[string]string{
		"s3://logs/p?region=eu-west-1":                                                     "https://logs.s3.eu-west-1.amazonaws.com/k",
		"s3://logs/p?region=eu-west-1&path_style=true":                                     "https://s3.eu-west-1.amazonaws.com/logs/k",
		"s3://logs/p?region=us-east-1&endpoint=http://127.0.0.1:7070":                      "http://127.0.0.1:7070/logs/k",
		"s3://logs/p?region=us-east-1&endpoint=https://minio.example.com&path_style=false": "https://logs.minio.example.com/k",
	})
}
