package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/webtrack/webtrack/handler/queueevent/queueeventtest"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
)

// TestQueuePathKafka sends browser-SDK batches through the local server's
// kafka:// sink to kfake, consumes the topic as the event source mapping
// would, adds copies of some records (a producer's retry), and hands the
// records to the built compactor as one Kafka event: every entry is stored
// once, one object per partition, and a redelivered event stores nothing
// twice.
func TestQueuePathKafka(t *testing.T) {
	const n, topic = 200, "webtrack"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	srv := s3test.Versitygw(t, "webtrack")
	server := startTrackServer(t, "WEBTRACK_SINK=kafka://"+cluster.ListenAddrs()[0]+"/"+topic)
	reqs := postAll(t, server, n, 8, func(i int) string { return []string{"web", "app-logs"}[i%2] })

	records := consume(t, cluster.ListenAddrs(), topic, 10*n)
	for _, r := range records[:25] {
		c := *r
		c.Offset += 1 << 20
		records = append(records, &c)
	}
	payload, err := json.Marshal(queueeventtest.KafkaEvent(records))
	if err != nil {
		t.Fatal(err)
	}
	fn := startCompactor(t, srv, "webtrack")
	for range 2 {
		if got := failures(t, fn.Invoke(t, payload)); len(got) != 0 {
			t.Fatalf("batchItemFailures %q for a Kafka event, want none", got)
		}
		checkTwoLogstores(t, srv, reqs)
	}
	t.Logf("%d requests: %d records (25 of them copies), an event of %d bytes", n, len(records), len(payload))

	// With S3 down the invocation fails, so that the mapping retries the batch.
	srv.Stop()
	answer := fn.Invoke(t, payload)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var failed struct{ ErrorMessage string }
	if json.Unmarshal(answer, &failed); failed.ErrorMessage == "" {
		t.Errorf("with S3 down the Kafka invocation answered %s, want an error", answer)
	}
}

// consume reads want records from the start of topic.
func consume(t *testing.T, brokers []string, topic string, want int) []*kgo.Record {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var records []*kgo.Record
	for len(records) < want {
		fetches := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d of %d records consumed: %v", len(records), want, err)
		}
		records = slices.AppendSeq(records, slices.Values(fetches.Records()))
	}
	return records
}
