package sink_test

import (
	"net/url"
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
