package allsinks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/sink/allsinks"
)

// Every driver links into one binary, and each scheme reaches its own
// driver: a URL it cannot open is refused by the driver, not as unknown.
func TestEveryDriverOpensItsScheme(t *testing.T) {
	d := allsinks.Drivers()
	if got := strings.Join(d.Schemes(), ","); got != "file,kafka,oss,s3,sqs" {
		t.Fatalf("schemes %s", got)
	}
	for _, scheme := range d.Schemes() {
		_, err := d.Open(context.Background(), scheme+"://?no_such_parameter=1")
		if err == nil || strings.Contains(err.Error(), "unknown scheme") {
			t.Errorf("%s: %v, want the driver's own refusal", scheme, err)
		}
	}
}
