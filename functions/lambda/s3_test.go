package main

import (
	"context"
	"testing"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
)

// TestRIEStoresToS3 runs the built bootstrap under the emulator with an S3
// sink on versitygw, which checks signatures, and credentials given as Lambda
// gives them (the role's keys in the environment): the client built without
// the SDK's config package must sign and store.
func TestRIEStoresToS3(t *testing.T) {
	srv := s3test.Versitygw(t, "webtrack-lambda")
	fn := startRIE(t, build(t, "."),
		"WEBTRACK_SINK=s3://webtrack-lambda/logs?endpoint="+srv.Endpoint,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey, "AWS_SESSION_TOKEN=",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_PROFILE=")
	samples, err := events.Samples("lambda-httpapi-post-json")
	if err != nil || len(samples) != 1 {
		t.Fatalf("the HTTP API JSON sample: %v", err)
	}
	if err := samples[0].Check(fn.Invoke(t, samples[0].Payload)); err != nil {
		t.Fatalf("%v\n%s", err, fn.Output())
	}
	stored, err := srv.Stored(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, l := range stored {
		lines += len(l)
	}
	if lines != samples[0].Want.Entries {
		t.Errorf("%d lines stored in S3, want %d", lines, samples[0].Want.Entries)
	}
}
