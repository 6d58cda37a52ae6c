package sink_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/sink"
)

func TestCheckParams(t *testing.T) {
	known := []string{"region", "endpoint", "compression"}
	for raw, want := range map[string]string{
		"s3://b/p":                           "",
		"s3://b/p?region=x&compression=zstd": "",
		"s3://b/p?region=x&compression=":     "",
		"s3://b/p?regoin=x":                  `unknown s3 URL parameter "regoin" (known: region, endpoint, compression)`,
		"file:///d?compresion=zstd&region=x": `unknown file URL parameter "compresion" (known: region, endpoint, compression)`,
		"kafka://h/t?zz=1&aa=2&region=x":     `unknown kafka URL parameter "aa" (known: region, endpoint, compression)`,
		"sqs://q?Region=x":                   `unknown sqs URL parameter "Region" (known: region, endpoint, compression)`,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		err = sink.CheckParams(u, known...)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckParams(%q) = %v, want nil", raw, err)
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("CheckParams(%q) = %v, want %s", raw, err, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for raw, want := range map[string]string{
		"s3://bucket/raw?region=x":                      "s3://bucket/raw?region=x",
		"kafka://user:s3cret@b1:9092/topic":             "kafka://user:xxxxx@b1:9092/topic",
		"kafka://user:s3cr%zz@b1:9092/topic":            "kafka://user:xxxxx@b1:9092/topic",
		"kafka://user:s3cret@b1:bad/topic":              "kafka://user:xxxxx@b1:bad/topic",
		"kafka://user:s3/c?r#et@b1:9092/topic?tls=true": "kafka://user:xxxxx@b1:9092/topic?tls=true",
		"kafka://b1:bad/topic?x=%zz":                    "kafka://b1:bad/topic?x=%zz",
	} {
		if got := sink.Redact(raw); got != want {
			t.Errorf("Redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestOpenErrorsHideThePassword opens URLs that fail at each step (parse,
// scheme, driver) and checks that no error repeats the password.
func TestOpenErrorsHideThePassword(t *testing.T) {
	drivers := sink.Drivers{"redacttest": func(context.Context, *url.URL) (sink.Sink, error) { return nil, errors.New("refused") }}
	for raw, want := range map[string]string{
		"kafka://user:s3cret@b1:9092/topic":  `sink URL "kafka://user:xxxxx@b1:9092/topic": unknown scheme "kafka"`,
		"redacttest://user:s3cret@b1/topic":  `sink URL "redacttest://user:xxxxx@b1/topic": refused`,
		"kafka://user:s3cret@b1:bad/topic":   `sink URL "kafka://user:xxxxx@b1:bad/topic": invalid port ":bad" after host`,
		"kafka://user:s3cr%zz@b1:9092/topic": `sink URL "kafka://user:xxxxx@b1:9092/topic": invalid user or password`,
		"kafka://user:s3cret@b1:9092/t%zz":   `sink URL "kafka://user:xxxxx@b1:9092/t%zz": invalid URL escape "%zz"`,
	} {
		_, err := drivers.Open(context.Background(), raw)
		if err == nil || strings.Contains(err.Error(), "s3cr") || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error starting %s", raw, err, want)
		}
	}
}

// TestOpenBarePath checks that a directory given without a scheme is
// answered with the file URL to write instead.
func TestOpenBarePath(t *testing.T) {
	var drivers sink.Drivers
	for raw, want := range map[string]string{
		"/var/data": `unknown scheme "" (known: `,
		"./data":    `unknown scheme "" (known: `,
	} {
		_, err := drivers.Open(context.Background(), raw)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), "; for a directory, write file://"+raw) {
			t.Errorf("Open(%q) = %v, want %s… suggesting file://%s", raw, err, want, raw)
		}
	}
	if _, err := drivers.Open(context.Background(), "ftp://host/x"); err == nil || strings.Contains(err.Error(), "file://") {
		t.Errorf("an unknown scheme got the directory hint: %v", err)
	}
}
