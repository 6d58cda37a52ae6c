package processor

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"time"
)

// EMFNamespace is the CloudWatch namespace of the metrics in the request
// lines.
const EMFNamespace = "webtrack"

// The CloudWatch Embedded Metric Format directives of a request line: every
// line counts Requests, Entries, Bytes and SinkFailures by Logstore and in
// total; an answered error also counts Rejected by ErrorCode. CloudWatch
// Logs extracts them from the line itself: no API call, no extra package.
const (
	emfRequest = `{"Namespace":"` + EMFNamespace + `","Dimensions":[["Logstore"],[]],"Metrics":[` +
		`{"Name":"Requests","Unit":"Count"},{"Name":"Entries","Unit":"Count"},` +
		`{"Name":"Bytes","Unit":"Bytes"},{"Name":"SinkFailures","Unit":"Count"}]}`
	emfRejected = `{"Namespace":"` + EMFNamespace + `","Dimensions":[["ErrorCode"]],"Metrics":[{"Name":"Rejected","Unit":"Count"}]}`
)

// emfAttrs are the EMF members of the request line of r, logged at t.
func (r *record) emfAttrs(t time.Time) []slog.Attr {
	directives := emfRequest
	if r.code != "" {
		directives += "," + emfRejected
	}
	meta := `{"Timestamp":` + strconv.FormatInt(t.UnixMilli(), 10) + `,"CloudWatchMetrics":[` + directives + `]}`
	logstore := r.logstore
	if logstore == "" {
		logstore = "(none)" // a request refused before its logstore was known
	}
	sinkFailures := 0
	if r.sinkErr != nil {
		sinkFailures = 1
	}
	attrs := []slog.Attr{
		slog.Any("_aws", json.RawMessage(meta)),
		slog.String("Logstore", logstore),
		slog.Int("Requests", 1),
		slog.Int("Entries", r.entries),
		slog.Int("Bytes", r.bytes),
		slog.Int("SinkFailures", sinkFailures),
	}
	if r.code != "" {
		attrs = append(attrs, slog.String("ErrorCode", r.code), slog.Int("Rejected", 1))
	}
	return attrs
}
