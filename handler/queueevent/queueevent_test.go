package queueevent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/webtrack/webtrack/handler/queueevent"
	"github.com/webtrack/webtrack/handler/queueevent/queueeventtest"
	"github.com/webtrack/webtrack/shared/compact"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/kafkasink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
)

var sent = time.Date(2026, 11, 25, 21, 30, 0, 0, time.UTC)

// lines is n stored lines of request id.
func lines(id string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"__time__":%d,"__topic__":"web","__tag__:__request_id__":"%s","__tag__:__receive_time__":"%d","i":"%d"}`+"\n",
			sent.Unix(), id, sent.Unix(), i)
	}
	return b.String()
}

// handler compacts into a file sink under a temporary directory; wrap, if
// not nil, wraps the sink.
func handler(t *testing.T, wrap func(sink.Sink) sink.Sink) (queueevent.Handler, string) {
	dir := t.TempDir()
	var s sink.Sink
	s, err := filesink.New(dir, objectlayout.Layout{Compression: objectlayout.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		s = wrap(s)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return queueevent.Handler{C: compact.New(s, 10*time.Second), Log: log}, dir
}

func stored(t *testing.T, dir string) map[string][]string {
	t.Helper()
	objects, err := sinktest.ReadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	byRequest := map[string][]string{}
	for _, o := range objects {
		for l := range strings.Lines(string(o.NDJSON)) {
			var line struct {
				ID string `json:"__tag__:__request_id__"`
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
			byRequest[line.ID] = append(byRequest[line.ID], l)
		}
	}
	return byRequest
}

func invoke(t *testing.T, h queueevent.Handler, ev any) []string {
	t.Helper()
	payload, ok := ev.([]byte)
	if !ok {
		var err error
		if payload, err = json.Marshal(ev); err != nil {
			t.Fatal(err)
		}
	}
	answer, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	ids, err := queueeventtest.Failures(answer)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestNamesAreTheSinks checks that the attributes and headers read are
// those the sinks write, and that a message as large as the SQS sink sends
// by default is taken.
func TestNamesAreTheSinks(t *testing.T) {
	m := queueeventtest.SinkMessage("m", "R", 1, 1, "p", "l", "")
	for _, name := range []string{sqssink.AttrRequestID, sqssink.AttrPart, sqssink.AttrParts, sqssink.AttrProject, sqssink.AttrLogstore} {
		if _, ok := m.MessageAttributes[name]; !ok {
			t.Errorf("sqssink's attribute %s is not in the messages the compactor reads", name)
		}
	}
	r := queueeventtest.SinkRecord("t", 0, 0, "R", 0, "p", "l", "{}", sent)
	for _, name := range []string{kafkasink.HeaderProject, kafkasink.HeaderLogstore, kafkasink.HeaderRequestID, kafkasink.HeaderEntry} {
		if !slices.ContainsFunc(r.Headers, func(h kgo.RecordHeader) bool { return h.Key == name }) {
			t.Errorf("kafkasink's header %s is not in the records the compactor reads", name)
		}
	}
	if queueevent.MaxMessageBytes != sqssink.MaxMessageBytes {
		t.Errorf("the compactor takes SQS bodies of up to %d bytes; the sqs:// sink may send up to %d", queueevent.MaxMessageBytes, sqssink.MaxMessageBytes)
	}
}

// TestSQSLargestMessage hands the compactor a message as large as the sqs://
// sink sends with max_message_bytes at its most: it must be stored, not
// refused as poison after the sink's client was answered 200.
func TestSQSLargestMessage(t *testing.T) {
	h, dir := handler(t, nil)
	// Room for the sink's attributes, and lines as long as the last, whose
	// i has 4 more digits than the first's.
	n := (sqssink.MaxMessageBytes - 200) / (len(lines("REQL", 1)) + 4)
	m := queueeventtest.SinkMessage("l1", "REQL", 1, 1, "default", "web", lines("REQL", n))
	if got := invoke(t, h, queueeventtest.SQSEvent([]types.Message{m}, sent)); len(got) != 0 {
		t.Fatalf("a body of %d bytes: batchItemFailures %q, want none", len(*m.Body), got)
	}
	if got := stored(t, dir); len(got["REQL"]) != n {
		t.Errorf("stored %d of the message's %d lines", len(got["REQL"]), n)
	}
}

func TestSQS(t *testing.T) {
	h, dir := handler(t, nil)
	big := lines("REQBIG", 1+queueevent.MaxMessageBytes/len(lines("REQBIG", 1)))
	withAttr := func(m types.Message, name string, v *types.MessageAttributeValue) types.Message {
		m.MessageAttributes = maps.Clone(m.MessageAttributes)
		if v == nil {
			delete(m.MessageAttributes, name)
		} else {
			m.MessageAttributes[name] = *v
		}
		return m
	}
	attr := func(dataType, v string) *types.MessageAttributeValue {
		return &types.MessageAttributeValue{DataType: aws.String(dataType), StringValue: aws.String(v)}
	}
	good := []types.Message{
		queueeventtest.SinkMessage("a1", "REQA", 1, 2, "default", "web", lines("REQA", 2)),
		queueeventtest.SinkMessage("a2", "REQA", 2, 2, "default", "web", lines("REQA", 1)),
		queueeventtest.SinkMessage("c1", "REQC", 1, 1, "default", "app-logs", lines("REQC", 3)),
	}
	bad := []types.Message{
		withAttr(good[0], "request_id", nil),
		withAttr(good[0], "part", attr("Number", "0")),
		withAttr(withAttr(good[0], "part", attr("Number", "3")), "parts", attr("Number", "2")),
		withAttr(good[0], "project", attr("Number", "7")),
		withAttr(good[0], "logstore", attr("String", "a/b")),
		queueeventtest.SinkMessage("", "REQB", 1, 1, "default", "web", "not json\n"),
		queueeventtest.SinkMessage("", "REQB", 1, 1, "default", "web", big),
	}
	var msgs []types.Message
	var want []string
	for i, m := range bad {
		m.MessageId = aws.String(fmt.Sprintf("bad%d", i))
		msgs = append(msgs, good[min(i, len(good)-1)], m)
		want = append(want, *m.MessageId)
	}
	// A copy of a1 with another message id: dropped, and not a failure.
	dup := good[0]
	dup.MessageId = aws.String("a1-again")
	msgs = append(msgs, dup)

	if got := invoke(t, h, queueeventtest.SQSEvent(msgs, sent)); !slices.Equal(got, want) {
		t.Errorf("batchItemFailures %q, want %q", got, want)
	}
	got := stored(t, dir)
	if len(got) != 2 || len(got["REQA"]) != 3 || len(got["REQC"]) != 3 {
		t.Errorf("stored %v, want REQA's 3 lines (its copy dropped) and REQC's 3", got)
	}
}

func TestSQSUndecodable(t *testing.T) {
	h, dir := handler(t, nil)
	ev := queueeventtest.SQSEvent([]types.Message{
		queueeventtest.SinkMessage("good", "REQA", 1, 1, "default", "web", lines("REQA", 1)),
		queueeventtest.SinkMessage("bad", "REQB", 1, 1, "default", "web", strings.Replace(lines("REQB", 1), `"i":"0"`, `"i":"@@"`, 1)),
	}, sent)
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte("@@"), []byte{0xff, 0xfe}, 1) // what no JSON encoder writes
	// Messages that do not decode: reported by id, or, without one, dropped.
	payload = bytes.Replace(payload, []byte(`"Records":[`), []byte(`"Records":[{"messageId":"typed","body":5},{"body":"no id"},`), 1)
	if got := invoke(t, h, payload); !slices.Equal(got, []string{"typed", "bad"}) {
		t.Errorf("batchItemFailures %q, want [typed bad]", got)
	}
	if got := stored(t, dir); len(got) != 1 || len(got["REQA"]) != 1 {
		t.Errorf("stored %v, want REQA's line", got)
	}
}

func TestSQSFailedPartition(t *testing.T) {
	h, dir := handler(t, func(s sink.Sink) sink.Sink { return sinktest.LogstoreDown{Sink: s, Logstore: "bad"} })
	ev := queueeventtest.SQSEvent([]types.Message{
		queueeventtest.SinkMessage("w1", "REQA", 1, 1, "default", "web", lines("REQA", 1)),
		queueeventtest.SinkMessage("b1", "REQB", 1, 1, "default", "bad", lines("REQB", 1)),
		queueeventtest.SinkMessage("w2", "REQC", 1, 1, "default", "web", lines("REQC", 1)),
		queueeventtest.SinkMessage("b2", "REQD", 1, 1, "default", "bad", lines("REQD", 1)),
	}, sent)
	if got := invoke(t, h, ev); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("batchItemFailures %q, want [b1 b2]", got)
	}
	if got := stored(t, dir); len(got) != 2 || got["REQA"] == nil || got["REQC"] == nil {
		t.Errorf("stored %v, want REQA and REQC", got)
	}
}

func TestKafka(t *testing.T) {
	h, dir := handler(t, nil)
	rec := func(offset int64, id string, entry int) *kgo.Record {
		return queueeventtest.SinkRecord("webtrack", int32(offset%2), offset, id, entry, "default", "web", strings.TrimSuffix(lines(id, 1), "\n"), sent)
	}
	poison := rec(9, "REQX", 0)
	poison.Headers = poison.Headers[:2] // no request_id, no entry
	ev := queueeventtest.KafkaEvent([]*kgo.Record{rec(0, "REQA", 0), rec(1, "REQA", 1), rec(2, "REQB", 0), rec(3, "REQA", 1), poison})
	ev.EventSource = "SelfManagedKafka"
	if got := invoke(t, h, ev); len(got) != 0 {
		t.Errorf("batchItemFailures %q for a Kafka event: want none", got)
	}
	got := stored(t, dir)
	if len(got) != 2 || len(got["REQA"]) != 2 || len(got["REQB"]) != 1 {
		t.Errorf("stored %v: want REQA's 2 entries (one copy dropped) and REQB's", got)
	}

	// A failed write fails the invocation: the mapping retries the batch.
	h, _ = handler(t, func(s sink.Sink) sink.Sink { return sinktest.LogstoreDown{Sink: s, Logstore: "bad"} })
	bad := rec(4, "REQC", 0)
	bad.Headers[1].Value = []byte("bad")
	payload, _ := json.Marshal(queueeventtest.KafkaEvent([]*kgo.Record{rec(0, "REQA", 0), bad}))
	if _, err := h.Invoke(context.Background(), payload); err == nil || !strings.Contains(err.Error(), "1 of 2 Kafka records not stored") {
		t.Errorf("Invoke with a failed partition = %v, want an error", err)
	}
}

// TestAWSSamples reads the sample events of aws-lambda-go, which are not
// the sinks': every SQS message is reported, every Kafka record skipped.
func TestAWSSamples(t *testing.T) {
	dir := filepath.Join(moduleDir(t, "github.com/aws/aws-lambda-go"), "events", "testdata")
	h, _ := handler(t, nil)
	for file, want := range map[string][]string{"sqs-event.json": {"MessageID_1"}, "kafka-event.json": nil} {
		payload, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := invoke(t, h, payload); !slices.Equal(got, want) {
			t.Errorf("%s: batchItemFailures %q, want %q", file, got, want)
		}
	}
}

func TestNotAQueueEvent(t *testing.T) {
	h, _ := handler(t, nil)
	for _, payload := range []string{
		`{"version":"2.0","rawPath":"/"}`,
		`{"eventSource":"aws:kinesis","records":{}}`,
		`[1]`,
		`{"Records":[],"records":{},"eventSource":"aws:kafka"}`,
	} {
		if _, err := h.Invoke(context.Background(), []byte(payload)); err == nil {
			t.Errorf("Invoke(%s) succeeded, want an error", payload)
		}
	}
}

// moduleDir is where the go command keeps the module path.
func moduleDir(t *testing.T, path string) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}
