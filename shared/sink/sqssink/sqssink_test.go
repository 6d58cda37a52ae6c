package sqssink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
	"github.com/webtrack/webtrack/shared/sink/sqssink/sqstest"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct{ name, suffix, params string }{
		{"Standard", "", ""},
		{"FIFO", ".fifo", ""},
		{"SmallMessages", "", "&max_message_bytes=16384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.Run(t, func(t *testing.T) sinktest.Harness {
				h, _ := newHarness(t, tc.suffix, localSQS.Endpoint(t), tc.params)
				return h
			})
		})
	}
}

// newHarness opens a sink on a new queue, reached through endpoint (the
// server itself or a proxy in front of it), and a reader of that queue.
func newHarness(t testing.TB, suffix, endpoint, params string) (sinktest.Harness, *reader) {
	t.Helper()
	c := newClient(t)
	name, queueURL := sqstest.NewQueue(t, c, suffix)
	s, err := drivers.Open(context.Background(), "sqs://"+name+"?region=us-east-1&endpoint="+url.QueryEscape(endpoint)+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := &reader{client: c, queueURL: queueURL, parts: map[string]map[int]string{}}
	return sinktest.Harness{Sink: s, Stored: r.stored}, r
}

// reader drains a queue and reassembles batches as a consumer would: it
// keeps one copy of each (request id, part) and joins the parts in order.
type reader struct {
	client   *sqs.Client
	queueURL string
	mu       sync.Mutex
	parts    map[string]map[int]string // request id → part → body
	messages int                       // messages received, duplicates too
	sizes    []int                     // size of each, as SQS counts it
}

// stored receives every message now in the queue, deletes them, and returns
// the lines of every batch seen so far.
func (r *reader) stored(ctx context.Context) (map[string][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		out, err := r.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              aws.String(r.queueURL),
			MaxNumberOfMessages:   10,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return nil, err
		}
		if len(out.Messages) == 0 {
			return r.batches(), nil
		}
		if err := r.keep(ctx, out.Messages); err != nil {
			return nil, err
		}
	}
}

// keep records the messages and deletes them from the queue.
func (r *reader) keep(ctx context.Context, msgs []types.Message) error {
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		id, part, err := partOf(m)
		if err != nil {
			return err
		}
		if r.parts[id] == nil {
			r.parts[id] = map[int]string{}
		}
		r.parts[id][part] = aws.ToString(m.Body)
		r.messages++
		r.sizes = append(r.sizes, messageSize(m))
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	_, err := r.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(r.queueURL), Entries: del})
	return err
}

// partOf reads a message's request id and part, checking the attributes
// that a consumer relies on.
func partOf(m types.Message) (string, int, error) {
	attr := func(name string) string { return aws.ToString(m.MessageAttributes[name].StringValue) }
	part, err1 := strconv.Atoi(attr(sqssink.AttrPart))
	parts, err2 := strconv.Atoi(attr(sqssink.AttrParts))
	switch {
	case err1 != nil || err2 != nil || part < 1 || part > parts:
		return "", 0, fmt.Errorf("message %s: part %q of %q", aws.ToString(m.MessageId), attr(sqssink.AttrPart), attr(sqssink.AttrParts))
	case attr(sqssink.AttrProject) != "test-project" || attr(sqssink.AttrLogstore) != "test-logstore":
		return "", 0, fmt.Errorf("message %s: project %q, logstore %q", aws.ToString(m.MessageId), attr(sqssink.AttrProject), attr(sqssink.AttrLogstore))
	case !strings.HasSuffix(aws.ToString(m.Body), "\n"):
		return "", 0, fmt.Errorf("message %s: body does not end in a whole line", aws.ToString(m.MessageId))
	}
	return attr(sqssink.AttrRequestID), part, nil
}

// messageSize is a message's size as SQS counts it against its limit: the
// body and each attribute's name, data type and value.
func messageSize(m types.Message) int {
	n := len(aws.ToString(m.Body))
	for name, v := range m.MessageAttributes {
		n += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}

// batches joins the parts of each request in order; parts still missing
// are simply absent, so a partly stored batch shows as a difference.
func (r *reader) batches() map[string][]string {
	out := map[string][]string{}
	for id, parts := range r.parts {
		var body strings.Builder
		for _, p := range slices.Sorted(maps.Keys(parts)) {
			body.WriteString(parts[p])
		}
		out[id] = strings.Split(strings.TrimSuffix(body.String(), "\n"), "\n")
	}
	return out
}

func BenchmarkPut3MiB(b *testing.B) {
	h, r := newHarness(b, "", localSQS.Endpoint(b), "")
	sinktest.BenchmarkPut(b, h.Sink)
	b.StopTimer()
	if _, err := r.stored(context.Background()); err != nil { // drain the queue
		b.Fatal(err)
	}
}

func TestFewestMessagesWithinLimit(t *testing.T) {
	const limit, lineSize = 16384, 760
	h, r := newHarness(t, "", localSQS.Endpoint(t), "&max_message_bytes="+strconv.Itoa(limit))
	b := sinktest.NewBatch("REQ0000000000000000000050", 1000, lineSize)
	if err := h.Sink.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	sinktest.Expect(t, h, sinktest.Lines(b))
	// Greedy packing wastes less than a line and the attributes per message.
	most := (len(b.NDJSON) + limit - 200 - lineSize - 1) / (limit - 200 - lineSize)
	if r.messages > most {
		t.Errorf("%d messages for %d bytes; want at most %d", r.messages, len(b.NDJSON), most)
	}
	for i, n := range r.sizes {
		if n > limit {
			t.Errorf("message %d is %d bytes, over max_message_bytes %d", i, n, limit)
		}
	}
}

// TestLineTooLarge puts batches with one line too large for a message, last,
// after enough lines for several requests: the Put must fail for good before
// any call to SQS.
func TestLineTooLarge(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	h, r := newHarness(t, "", p.srv.URL, "&max_message_bytes=2048")
	small := sinktest.Lines(sinktest.NewBatch("", 100, 100))[""]
	for _, c := range []struct{ line, want string }{
		{`{"a":"` + strings.Repeat("x", 2000) + `"}`, "line 101 is 2009 bytes"},
		// 1,209 bytes as sent, 2,409 once its U+FFFE are escaped.
		{`{"a":"` + strings.Repeat("\uFFFE", 400) + `"}`, "line 101 is 2409 bytes"},
	} {
		err := h.Sink.Put(context.Background(), sinktest.BatchOf("REQ0000000000000000000051", append(small, c.line)...))
		if err == nil || sink.IsRetryable(err) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("Put of a line larger than a message: got %v, want a plain error saying %q", err, c.want)
		}
	}
	if n := p.requests.Load(); n != 0 {
		t.Errorf("%d calls to SQS for batches refused", n)
	}
	sinktest.Expect(t, h, map[string][]string{})
	if r.messages != 0 {
		t.Errorf("%d messages sent for a batch that failed", r.messages)
	}
}

// TestRefusedCharactersEscaped puts a line holding U+FFFE and U+FFFF, which
// JSON allows raw in strings and SQS refuses in a message: the message must
// hold only characters that SQS takes, and read back as the same JSON.
func TestRefusedCharactersEscaped(t *testing.T) {
	h, r := newHarness(t, "", localSQS.Endpoint(t), "")
	line := "{\"__time__\":1,\"msg\":\"a\uFFFEb\uFFFFc\\\"\\uFFFE\",\"kept\":\"\uFFFD\U0001F600\uE000\"}"
	b := sinktest.BatchOf("REQ0000000000000000000055", line, `{"plain":"x"}`)
	if err := h.Sink.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	got, err := r.stored(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lines := got[b.RequestID]
	if len(lines) != 2 || lines[1] != `{"plain":"x"}` {
		t.Fatalf("read back %q", lines)
	}
	if i := strings.IndexFunc(lines[0], refusedBySQS); i >= 0 {
		t.Errorf("message holds %U, which SQS refuses: %q", []rune(lines[0][i:])[0], lines[0])
	}
	if !strings.Contains(lines[0], "\uFFFD\U0001F600\uE000") {
		t.Errorf("characters that SQS takes were escaped: %q", lines[0])
	}
	var want, have any
	if err := json.Unmarshal([]byte(line), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[0]), &have); err != nil {
		t.Fatalf("read back %q: %v", lines[0], err)
	}
	if !reflect.DeepEqual(want, have) {
		t.Errorf("read back %q, which means %v; want %v", lines[0], have, want)
	}
}

// refusedBySQS says whether SQS refuses r in a message: it takes #x9, #xA,
// #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF.
func refusedBySQS(r rune) bool {
	ok := r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
	return !ok
}

func TestQueueURLParameter(t *testing.T) {
	c := newClient(t)
	_, queueURL := sqstest.NewQueue(t, c, "")
	s, err := drivers.Open(context.Background(), "sqs://?queue_url="+url.QueryEscape(queueURL)+"&endpoint="+url.QueryEscape(localSQS.Endpoint(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &reader{client: c, queueURL: queueURL, parts: map[string]map[int]string{}}
	b := sinktest.NewBatch("REQ0000000000000000000052", 3, 50)
	if err := s.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	sinktest.Expect(t, sinktest.Harness{Sink: s, Stored: r.stored}, sinktest.Lines(b))
}

func TestNoSuchQueueIsNotRetryable(t *testing.T) {
	s, err := drivers.Open(context.Background(), "sqs://no-such-queue?endpoint="+url.QueryEscape(localSQS.Endpoint(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Put(context.Background(), sinktest.NewBatch("REQ0000000000000000000053", 1, 50))
	if err == nil || sink.IsRetryable(err) {
		t.Fatalf("Put to a missing queue: got %v, want a plain error", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{
		"sqs://",
		"sqs://q?queue_url=http://h/1/q",
		"sqs://?queue_url=nourl",
		"sqs://q?max_message_bytes=100",
		"sqs://q?max_message_bytes=2000000",
		"sqs://q?max_message_bytes=big",
	} {
		sinktest.OpenFails(t, drivers, u, "")
	}
	sinktest.OpenFails(t, drivers, "sqs://q?regoin=us-east-1", `unknown sqs URL parameter "regoin" (known: queue_url, region, endpoint, max_message_bytes)`)
}

func TestEmptyBatchSendsNothing(t *testing.T) {
	// Nothing listens on port 9 of the loopback: any request would fail.
	s, err := drivers.Open(context.Background(), "sqs://q?region=us-east-1&endpoint=http://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), sinktest.BatchOf("REQ0000000000000000000054")); err != nil {
		t.Fatalf("Put of an empty batch: %v", err)
	}
}

// TestMaxLineBytesFits puts, with the largest attributes a batch can carry,
// lines of exactly the length the sink declares it can carry, counted as
// sent: U+FFFE as its 6-byte escape. They must be stored, so that the
// processor's check in advance never lets through a line that the sink then
// refuses.
func TestMaxLineBytesFits(t *testing.T) {
	h, _ := newHarness(t, "", localSQS.Endpoint(t), "&max_message_bytes=2048")
	limit := sink.MaxLineBytes(h.Sink)
	if limit <= 0 || limit >= 2048 {
		t.Fatalf("MaxLineBytes %d with max_message_bytes 2048", limit)
	}
	n := limit - len(`{"a":""}`)
	for _, value := range []string{strings.Repeat("x", n), strings.Repeat("\uFFFE", n/6) + strings.Repeat("x", n%6)} {
		b := sinktest.BatchOf(strings.Repeat("R", 64), `{"a":"`+value+`"}`)
		b.Project, b.Logstore = strings.Repeat("p", 63), strings.Repeat("l", 63)
		if err := h.Sink.Put(context.Background(), b); err != nil {
			t.Errorf("a line of MaxLineBytes (%d) with the largest attributes: %v", limit, err)
		}
	}
}
