package compact_test

import (
	"context"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/compact"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
)

func TestFromEnvWantsAnObjectSink(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB") // keep the test process's limit
	for sinkURL, want := range map[string]string{
		"file://" + t.TempDir():             "",
		"sqs://queue?region=eu-west-1":      "the compactor writes objects",
		"kafka://broker:9092/topic":         "the compactor writes objects",
		"file:///tmp/x?compression=brotli2": "compression",
	} {
		t.Setenv("WEBTRACK_SINK", sinkURL)
		c, err := compact.FromEnv(context.Background(), sink.Drivers{"file": filesink.Open})
		if want == "" {
			if err != nil {
				t.Errorf("WEBTRACK_SINK=%s: %v", sinkURL, err)
			} else {
				c.Close()
			}
		} else if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WEBTRACK_SINK=%s: error %v, want one with %q", sinkURL, err, want)
		}
	}
}
