package processor

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// EMFNamespace is the CloudWatch namespace of the metrics in the request
// lines.
const EMFNamespace = "webtrack"

// MaxMetricLogstores is the most logstore names that an instance (a
// process) gives the Logstore dimension: each name is four custom metrics,
// billed by CloudWatch for every hour they are sent, so with a pattern such
// as WEBTRACK_LOGSTORES=* a client could otherwise create metrics without
// end, one random name at a time. The first names that pass the allow-lists
// keep their own value; the requests of any later name count under
// OtherLogstores.
const MaxMetricLogstores = 50

// The Logstore dimension's values that are not a logstore name.
const (
	// NoLogstore counts the requests refused before a logstore passed the
	// allow-lists: a bad path, an unknown project or logstore, a disabled
	// one.
	NoLogstore = "(none)"
	// OtherLogstores counts the requests to the logstores beyond the first
	// MaxMetricLogstores that the instance has served.
	OtherLogstores = "(other)"
)

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

// metricLogstores are the logstore names that a processor's metrics name,
// at most MaxMetricLogstores of them.
type metricLogstores struct {
	mu    sync.Mutex
	names map[string]bool
}

// value is the Logstore dimension's value for r: its logstore if it passed
// the allow-lists and is, or can become, one of the names given their own
// value; else NoLogstore or OtherLogstores.
func (m *metricLogstores) value(r *record) string {
	if !r.known {
		return NoLogstore
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.names[r.logstore] {
		if len(m.names) >= MaxMetricLogstores {
			return OtherLogstores
		}
		if m.names == nil {
			m.names = map[string]bool{}
		}
		m.names[r.logstore] = true
	}
	return r.logstore
}

// emfAttrs are the EMF members of the request line of r, logged at t, with
// the Logstore dimension's value that m gives it.
func (r *record) emfAttrs(t time.Time, m *metricLogstores) []slog.Attr {
	directives := emfRequest
	if r.code != "" {
		directives += "," + emfRejected
	}
	meta := `{"Timestamp":` + strconv.FormatInt(t.UnixMilli(), 10) + `,"CloudWatchMetrics":[` + directives + `]}`
	sinkFailures := 0
	if r.sinkErr != nil {
		sinkFailures = 1
	}
	attrs := []slog.Attr{
		slog.Any("_aws", json.RawMessage(meta)),
		slog.String("Logstore", m.value(r)),
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
