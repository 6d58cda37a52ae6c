package kafkasink_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/kafkasink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

const topic = "webtrack"

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Harness {
		c := newCluster(t)
		h, _ := newHarness(t, c.ListenAddrs(), "")
		return h
	})
}

// newCluster starts an in-process Kafka on loopback with the topic in one
// partition, so that a batch's records are read back in order.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newHarness opens a sink on brokers with the extra URL parameters params
// ("&key=…"), and a reader of the topic.
func newHarness(t testing.TB, brokers []string, params string) (sinktest.Harness, *reader) {
	t.Helper()
	s, err := drivers.Open(context.Background(), "kafka://"+strings.Join(brokers, ",")+"/"+topic+"?client_id=test"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := newReader(t, brokers)
	return sinktest.Harness{Sink: s, Stored: r.stored}, r
}

// newReader reads the topic on brokers from its start.
func newReader(t testing.TB, brokers []string) *reader {
	r := &reader{brokers: brokers, entries: map[string]map[int]string{}}
	t.Cleanup(r.close)
	return r
}

// reader consumes the topic from its start and reassembles batches as a
// consumer would: it keeps one copy of each (request id, entry) and orders a
// batch's lines by entry.
type reader struct {
	brokers []string
	mu      sync.Mutex
	client  *kgo.Client
	entries map[string]map[int]string // request id → entry → line
	records []*kgo.Record             // every record read, duplicates too
}

// stored reads every record now in the topic and returns all read so far.
func (r *reader) stored(ctx context.Context) (map[string][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		c, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			return nil, err
		}
		r.client = c
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fetches := r.client.PollFetches(pctx)
		cancel()
		if fetches.NumRecords() == 0 {
			return r.batches(), nil
		}
		if err := fetches.Err0(); err != nil && err != context.DeadlineExceeded {
			return nil, err
		}
		for _, rec := range fetches.Records() {
			if err := r.keep(rec); err != nil {
				return nil, err
			}
		}
	}
}

func (r *reader) keep(rec *kgo.Record) error {
	h := map[string]string{}
	for _, x := range rec.Headers {
		h[x.Key] = string(x.Value)
	}
	id := h[kafkasink.HeaderRequestID]
	entry, err := strconv.Atoi(h[kafkasink.HeaderEntry])
	if err != nil {
		return fmt.Errorf("record at offset %d: entry header %q", rec.Offset, h[kafkasink.HeaderEntry])
	}
	if r.entries[id] == nil {
		r.entries[id] = map[int]string{}
	}
	r.entries[id][entry] = string(rec.Value)
	r.records = append(r.records, rec)
	return nil
}

// batches returns each request's lines in entry order.
func (r *reader) batches() map[string][]string {
	out := map[string][]string{}
	for id, entries := range r.entries {
		for _, e := range slices.Sorted(maps.Keys(entries)) {
			out[id] = append(out[id], entries[e])
		}
	}
	return out
}

func (r *reader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		r.client.Close()
	}
}

func TestHeadersAndKey(t *testing.T) {
	c := newCluster(t)
	h, r := newHarness(t, c.ListenAddrs(), "&key=user")
	b := sinktest.BatchOf("REQ0000000000000000000060",
		`{"__time__":1,"user":"al\"ice","n":1}`,
		`{"__time__":1,"n":2}`,
		`{"user":42,"x":{"user":"nested"}}`,
		`{"x":{"user":"nested"},"user":null}`)
	if err := h.Sink.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	sinktest.Expect(t, h, sinktest.Lines(b))
	wantKeys := []string{`al"ice`, "", "42", ""}
	for i, rec := range r.records {
		if string(rec.Key) != wantKeys[i] {
			t.Errorf("record %d: key %q, want %q", i, rec.Key, wantKeys[i])
		}
		want := map[string]string{
			kafkasink.HeaderProject: "test-project", kafkasink.HeaderLogstore: "test-logstore",
			kafkasink.HeaderRequestID: b.RequestID, kafkasink.HeaderEntry: string(rune('0' + i)),
		}
		for _, x := range rec.Headers {
			if want[x.Key] != string(x.Value) {
				t.Errorf("record %d: header %s=%q, want %q", i, x.Key, x.Value, want[x.Key])
			}
			delete(want, x.Key)
		}
		if len(want) > 0 {
			t.Errorf("record %d: headers missing: %v", i, want)
		}
	}
}

func TestKeyFromLineThatIsNotAnObject(t *testing.T) {
	c := newCluster(t)
	h, _ := newHarness(t, c.ListenAddrs(), "&key=user")
	err := h.Sink.Put(context.Background(), sinktest.BatchOf("REQ0000000000000000000061", `[1,2]`))
	if err == nil || sink.IsRetryable(err) {
		t.Fatalf("Put: got %v, want a plain error", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{
		"kafka://",
		"kafka://b:9092",
		"kafka://b:9092/",
		"kafka://b:9092/a/b",
		"kafka://b:9092/t?tls=yes",
		"kafka://b:9092/t?sasl_mechanism=PLAIN",
		"kafka://u:p@b:9092/t",
		"kafka://u:p@b:9092/t?sasl_mechanism=GSSAPI",
	} {
		sinktest.OpenFails(t, drivers, u, "")
	}
	sinktest.OpenFails(t, drivers, "kafka://b:9092/t?keys=x", `unknown kafka URL parameter "keys" (known: key, client_id, tls, sasl_mechanism, max_record_bytes)`)
	for _, v := range []string{"1023", "67108865", "1MiB"} {
		sinktest.OpenFails(t, drivers, "kafka://b:9092/t?max_record_bytes="+v, "max_record_bytes")
	}
	for _, u := range []string{
		"kafka://b1,b2:9093/t?key=k&client_id=c&tls=true&max_record_bytes=1024",
		"kafka://u:p@b:9092/t?sasl_mechanism=SCRAM-SHA-512",
	} {
		s, err := drivers.Open(context.Background(), u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		s.Close()
	}
}

func BenchmarkPut3MiB(b *testing.B) {
	c := newCluster(b)
	h, _ := newHarness(b, c.ListenAddrs(), "")
	sinktest.BenchmarkPut(b, h.Sink)
}

func TestEmptyBatchSendsNothing(t *testing.T) {
	// Nothing listens on port 9 of the loopback: any request would fail.
	s, err := drivers.Open(context.Background(), "kafka://127.0.0.1:9/"+topic)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), sinktest.BatchOf("REQ0000000000000000000062")); err != nil {
		t.Fatalf("Put of an empty batch: %v", err)
	}
}

// lineOf is an entry whose JSON line is n bytes long.
func lineOf(n int) string {
	return `{"pad":"` + strings.Repeat("x", n-10) + `"}`
}

// TestRecordSizeLimit finds the longest line that a sink with
// max_record_bytes equal to the broker's message.max.bytes takes: the broker
// must store it, and a batch with a line one byte longer must be refused
// before any of its records is produced.
func TestRecordSizeLimit(t *testing.T) {
	const limit = 4096
	c := newCluster(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(limit)}))
	h, r := newHarness(t, c.ListenAddrs(), "&max_record_bytes="+strconv.Itoa(limit))
	acked := map[string][]string{}
	lo, hi := limit-400, limit // lo is taken, hi refused
	for i := 0; hi-lo > 1; i++ {
		mid := (lo + hi) / 2
		b := sinktest.BatchOf(fmt.Sprintf("REQ%021d", 600+i), `{"small":"first"}`, lineOf(mid))
		err := h.Sink.Put(context.Background(), b)
		if err == nil {
			lo = mid
			maps.Copy(acked, sinktest.Lines(b))
			continue
		}
		if sink.IsRetryable(err) || !strings.Contains(err.Error(), "max_record_bytes") {
			t.Fatalf("Put of a %d-byte line: got %v, want a plain error naming max_record_bytes", mid, err)
		}
		hi = mid
	}
	t.Logf("longest line taken: %d bytes; %d refused; MaxLineBytes %d", lo, hi, sink.MaxLineBytes(h.Sink))
	if lo < limit-200 {
		t.Errorf("the longest line taken is %d bytes, far below the %d-byte limit", lo, limit)
	}
	// What the sink declares to the processor must be taken even with the
	// largest headers, and not be far below what is taken.
	declared := sink.MaxLineBytes(h.Sink)
	if declared > lo-(64+63+63+9-len("REQ000000000000000000600")-len("test-project")-len("test-logstore")) || declared < lo-400 {
		t.Errorf("MaxLineBytes %d, want at most the longest line taken (%d) less the room for the largest headers, and near it", declared, lo)
	}
	sinktest.Expect(t, h, acked) // the refused batches' small first lines too are absent
	n := len(r.records)
	if err := h.Sink.Put(context.Background(), sinktest.BatchOf("REQ0000000000000000000699", `{"small":"first"}`, lineOf(hi))); err == nil {
		t.Fatalf("Put of a %d-byte line succeeded", hi)
	}
	sinktest.Expect(t, h, acked)
	if len(r.records) != n {
		t.Errorf("%d records produced for a refused batch", len(r.records)-n)
	}
}

func TestDefaultRecordSizeLimit(t *testing.T) {
	c := newCluster(t)
	h, r := newHarness(t, c.ListenAddrs(), "")
	err := h.Sink.Put(context.Background(), sinktest.BatchOf("REQ0000000000000000000698", `{"small":"first"}`, lineOf(kafkasink.DefaultMaxRecordBytes)))
	if err == nil || sink.IsRetryable(err) || !strings.Contains(err.Error(), "max_record_bytes 1048576") {
		t.Fatalf("Put of a 1 MiB line: got %v, want a plain error naming max_record_bytes 1048576", err)
	}
	sinktest.Expect(t, h, map[string][]string{})
	if len(r.records) != 0 {
		t.Errorf("%d records produced for a refused batch", len(r.records))
	}
}

var drivers = sink.Drivers{"kafka": kafkasink.Open}
