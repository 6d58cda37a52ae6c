package events_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/handler/queueevent/queueeventtest"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink"
)

// queueTime is when the queued requests were received: the HTTP samples'
// request time.
var queueTime = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// captured keeps the NDJSON of the last batch put.
type captured struct{ ndjson []byte }

func (c *captured) Put(_ context.Context, b *sink.Batch) error {
	c.ndjson = bytes.Clone(b.NDJSON)
	return nil
}

func (c *captured) Close() error { return nil }

// storedLines are the lines, without their newlines, that the processor
// stores for the browser batch sent as request id: what the queue sinks
// carry.
func storedLines(t *testing.T, id string) []string {
	cfg := processor.DefaultConfig()
	cfg.Now = func() time.Time { return queueTime }
	var c captured
	p := processor.New(cfg, &c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	resp := p.Handle(context.Background(), &processor.Request{
		Method: http.MethodPost, Path: "/logstores/web/track", Host: "abc123defg.execute-api.eu-west-1.amazonaws.com",
		Query: url.Values{"APIVersion": {"0.6.0"}}, Header: http.Header{"Content-Type": {"text/plain;charset=UTF-8"}},
		Body: []byte(batch), ClientIP: "198.51.100.9", ID: id,
	})
	if resp.Status != http.StatusOK {
		t.Fatalf("storing the batch: %d %s", resp.Status, resp.Body)
	}
	return strings.Split(strings.TrimSuffix(string(c.ndjson), "\n"), "\n")
}

// addQueueSamples adds the compactor's sample events: SQS messages as the
// sqs:// sink sends them and Kafka records as the kafka:// sink produces
// them, each batch of the browser's three events.
func addQueueSamples(t *testing.T, files map[string][]byte, manifest map[string]events.Want) {
	a, b, c := storedLines(t, "6744A3F20D1E2F3A4B5C6D7E"), storedLines(t, "6744A3F3A1B2C3D4E5F60718"), storedLines(t, "6744A3F49A8B7C6D5E4F3021")
	sqs := func(id, req string, part, parts int, lines ...string) types.Message {
		return queueeventtest.SinkMessage(id, req, part, parts, "default", "web", strings.Join(lines, "\n")+"\n")
	}
	// A request cut in two parts, another in one, and the first part
	// delivered twice: one object of six entries.
	files["compactor-sqs.json"] = marshal(t, queueeventtest.SQSEvent([]types.Message{
		sqs("059f36b4-87a3-44ab-83d2-661975830a7d", "6744A3F20D1E2F3A4B5C6D7E", 1, 2, a[0], a[1]),
		sqs("2e1424d4-f796-459a-8184-9c92662be6da", "6744A3F20D1E2F3A4B5C6D7E", 2, 2, a[2]),
		sqs("7b9bd3c0-0a5e-4c43-9f4e-2f5f3c1d8a11", "6744A3F3A1B2C3D4E5F60718", 1, 1, b...),
		sqs("c2f5a8e1-3b4d-4f6a-8c9e-0d1f2a3b4c5d", "6744A3F20D1E2F3A4B5C6D7E", 1, 2, a[0], a[1]),
	}, queueTime))
	manifest["compactor-sqs.json"] = events.Want{Status: 200, Entries: 6}

	// A good message between one whose body is not NDJSON and one that some
	// other producer sent: those two come back, to go to the dead-letter
	// queue.
	foreign := sqs("f00dfeed-0000-4000-8000-000000000002", "", 1, 1, `{"hello":"world"}`)
	foreign.MessageAttributes = nil
	files["compactor-sqs-poison.json"] = marshal(t, queueeventtest.SQSEvent([]types.Message{
		sqs("f00dfeed-0000-4000-8000-000000000001", "6744A3F49A8B7C6D5E4F3021", 1, 1, "this is not JSON"),
		sqs("9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "6744A3F49A8B7C6D5E4F3021", 1, 1, c...),
		foreign,
	}, queueTime))
	manifest["compactor-sqs-poison.json"] = events.Want{Status: 200, Entries: 3,
		BatchItemFailures: []string{"f00dfeed-0000-4000-8000-000000000001", "f00dfeed-0000-4000-8000-000000000002"}}

	// Two requests over two partitions of the topic, one record produced
	// twice (a retry after a lost acknowledgement): six entries.
	var records []*kgo.Record
	for i, l := range a {
		records = append(records, queueeventtest.SinkRecord("webtrack", 0, int64(40+i), "6744A3F20D1E2F3A4B5C6D7E", i, "default", "web", l, queueTime))
	}
	for i, l := range b {
		records = append(records, queueeventtest.SinkRecord("webtrack", 1, int64(17+i), "6744A3F3A1B2C3D4E5F60718", i, "default", "web", l, queueTime))
	}
	records = append(records, queueeventtest.SinkRecord("webtrack", 0, 43, "6744A3F20D1E2F3A4B5C6D7E", 2, "default", "web", a[2], queueTime))
	files["compactor-kafka.json"] = marshal(t, queueeventtest.KafkaEvent(records))
	manifest["compactor-kafka.json"] = events.Want{Status: 200, Entries: 6}
}
