package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/webtrack/webtrack/handler/queueevent"
	"github.com/webtrack/webtrack/handler/queueevent/queueeventtest"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
)

// maxPayload is the largest event Lambda hands a function, and the
// emulator takes.
const maxPayload = 6 << 20

// sqsEvent is the Lambda event of the messages, as JSON.
func sqsEvent(t testing.TB, msgs []types.Message) []byte {
	t.Helper()
	ev := queueeventtest.SQSEvent(msgs, time.Now())
	for i, m := range msgs {
		// The server's digest, where there is one, checks the event's.
		if want := aws.ToString(m.MD5OfMessageAttributes); m.MD5OfMessageAttributes != nil && ev.Records[i].Md5OfMessageAttributes != want {
			t.Fatalf("message %s: md5OfMessageAttributes %q, the server's %q", *m.MessageId, ev.Records[i].Md5OfMessageAttributes, want)
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(payload) > maxPayload {
		t.Fatalf("the event is %d bytes, more than Lambda's %d", len(payload), maxPayload)
	}
	return payload
}

// reportLine is the emulator's report of an invocation.
var reportLine = regexp.MustCompile(`REPORT RequestId: \S+\s+Duration: ([0-9.]+) ms`)

// TestQueuePath sends 1,000 browser-SDK batches through the local server to
// SQS, one message each as on Lambda (no group commit), hands them to the
// built compactor under the emulator as one event, and checks that one
// object holds every entry exactly once, and still does after the same event
// comes again.
func TestQueuePath(t *testing.T) {
	const n = 1000
	srv := s3test.Versitygw(t, "webtrack")
	c, queue := newQueue(t)
	server := startTrackServer(t, sqsSink(t, queue), "WEBTRACK_GROUP_COMMIT=false")
	reqs := postAll(t, server, n, 8, func(int) string { return "web" })
	msgs := receiveAll(t, c, queue)
	if len(msgs) != n {
		t.Fatalf("%d messages in the queue, want one per request (%d)", len(msgs), n)
	}
	payload := sqsEvent(t, msgs)
	fn := startCompactor(t, srv, "webtrack")

	start := time.Now()
	if got := failures(t, fn.Invoke(t, payload)); len(got) != 0 {
		t.Fatalf("batchItemFailures %q, want none", got)
	}
	took := time.Since(start)
	keys, stored := bucket(t, srv, "webtrack/")
	checkExactlyOnce(t, reqs, stored)
	if want := hours(stored); len(keys) != want {
		t.Errorf("%d objects, want one per hour of receipt (%d): %q", len(keys), want, keys)
	}

	// The same event again: the same objects, replaced, nothing twice.
	if got := failures(t, fn.Invoke(t, payload)); len(got) != 0 {
		t.Fatalf("second invocation: batchItemFailures %q, want none", got)
	}
	again, stored := bucket(t, srv, "webtrack/")
	checkExactlyOnce(t, reqs, stored)
	if !slices.Equal(again, keys) {
		t.Errorf("after the same event again the keys are %q, want %q", again, keys)
	}

	var compressed int64
	for _, key := range keys {
		head, err := srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &srv.Bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		compressed += aws.ToInt64(head.ContentLength)
	}
	var durations []string
	for _, m := range reportLine.FindAllStringSubmatch(fn.Output(), -1) {
		durations = append(durations, m[1]+" ms")
	}
	ndjson := 0
	for _, m := range msgs {
		ndjson += len(aws.ToString(m.Body))
	}
	t.Logf("%d requests of 10 entries: %d messages of %d bytes of NDJSON, an event of %d bytes (%d per message; %d messages fit in Lambda's 6 MB), "+
		"%d object(s) of %d bytes in all; the first invocation took %v from the test, the emulator reports %v",
		n, len(msgs), ndjson, len(payload), len(payload)/len(msgs), maxPayload*len(msgs)/len(payload),
		len(keys), compressed, took.Round(time.Millisecond), durations)
}

// TestQueuePathServerDown stops S3 under the compactor: every message of the
// batch comes back and nothing is stored; once S3 is back, the same event
// stores everything once.
func TestQueuePathServerDown(t *testing.T) {
	srv := s3test.Versitygw(t, "webtrack")
	c, queue := newQueue(t)
	server := startTrackServer(t, sqsSink(t, queue)) // group commit on: messages may hold several requests
	reqs := postAll(t, server, 200, 8, func(i int) string { return []string{"web", "app-logs"}[i%2] })
	msgs := receiveAll(t, c, queue)
	payload := sqsEvent(t, msgs)
	fn := startCompactor(t, srv, "webtrack")

	srv.Stop()
	got := failures(t, fn.Invoke(t, payload))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range msgs {
		want = append(want, aws.ToString(m.MessageId))
	}
	if !slices.Equal(got, want) {
		t.Errorf("with S3 down: %d of %d messages in batchItemFailures, want all", len(got), len(want))
	}
	if keys, _ := bucket(t, srv, ""); len(keys) != 0 {
		t.Errorf("with S3 down, %d objects were stored: %q", len(keys), keys)
	}

	if got := failures(t, fn.Invoke(t, payload)); len(got) != 0 {
		t.Fatalf("with S3 back: batchItemFailures %q, want none", got)
	}
	keys := checkTwoLogstores(t, srv, reqs)
	t.Logf("200 requests over 2 logstores, group commit on: %d messages, %d objects", len(msgs), len(keys))
}

// TestQueuePathPartitionFails makes one partition's write fail on the server
// (an object where its directory must go): only that partition's messages
// come back, and once the cause is gone they are stored, once.
func TestQueuePathPartitionFails(t *testing.T) {
	srv := s3test.Versitygw(t, "webtrack")
	c, queue := newQueue(t)
	server := startTrackServer(t, sqsSink(t, queue), "WEBTRACK_GROUP_COMMIT=false")
	reqs := postAll(t, server, 60, 4, func(i int) string { return []string{"web", "blocked"}[i%3/2] })
	msgs := receiveAll(t, c, queue)
	payload := sqsEvent(t, msgs)
	fn := startCompactor(t, srv, "webtrack")

	blocker := "webtrack/project=default/logstore=blocked"
	ctx := context.Background()
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &srv.Bucket, Key: &blocker, Body: strings.NewReader("")}); err != nil {
		t.Fatal(err)
	}
	got := failures(t, fn.Invoke(t, payload))
	var want []string
	var blocked []types.Message
	for _, m := range msgs {
		if aws.ToString(m.MessageAttributes["logstore"].StringValue) == "blocked" {
			want = append(want, aws.ToString(m.MessageId))
			blocked = append(blocked, m)
		}
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("batchItemFailures %q, want the blocked partition's %d messages %q", got, len(want), want)
	}
	_, stored := bucket(t, srv, "webtrack/project=default/logstore=web/")
	var web []request
	for _, r := range reqs {
		if r.logstore == "web" {
			web = append(web, r)
		}
	}
	checkExactlyOnce(t, web, stored)

	// The failed messages come back alone, as SQS redelivers them.
	if _, err := srv.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &srv.Bucket, Key: &blocker}); err != nil {
		t.Fatal(err)
	}
	if got := failures(t, fn.Invoke(t, sqsEvent(t, blocked))); len(got) != 0 {
		t.Fatalf("redelivery: batchItemFailures %q, want none", got)
	}
	_, stored = bucket(t, srv, "webtrack/")
	checkExactlyOnce(t, reqs, stored)
}

// TestQueuePathPoison mixes messages that are not the sink's into a batch:
// exactly those are reported, and every good one is stored.
func TestQueuePathPoison(t *testing.T) {
	srv := s3test.Versitygw(t, "webtrack")
	c, queue := newQueue(t)
	server := startTrackServer(t, sqsSink(t, queue), "WEBTRACK_GROUP_COMMIT=false")
	reqs := postAll(t, server, 50, 4, func(int) string { return "web" })
	// A message someone else sent to the queue: no attributes.
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &queue, MessageBody: aws.String(`{"hello":"world"}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	msgs := receiveAll(t, c, queue)
	var foreign string
	for _, m := range msgs {
		if len(m.MessageAttributes) == 0 {
			foreign = aws.ToString(m.MessageId)
		}
	}
	if foreign == "" {
		t.Fatal("the message without attributes did not come back from the queue")
	}
	good := msgs[0]
	poison := func(id string, body string, change func(map[string]types.MessageAttributeValue)) types.Message {
		m := queueeventtest.SinkMessage(id, "POISON"+id, 1, 1, "default", "web", body)
		if change != nil {
			change(m.MessageAttributes)
		}
		return m
	}
	oneLine := strings.SplitAfter(aws.ToString(good.Body), "\n")[0]
	bad := []types.Message{
		poison("not-ndjson", "this is not JSON\n", nil),
		poison("half-line", strings.TrimSuffix(oneLine, "}\n"), nil),
		poison("no-request-id", oneLine, func(a map[string]types.MessageAttributeValue) { delete(a, "request_id") }),
		poison("bad-project", oneLine, func(a map[string]types.MessageAttributeValue) {
			a["project"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("No Such/Project")}
		}),
		poison("too-large", strings.Repeat(oneLine, queueevent.MaxMessageBytes/len(oneLine)+1), nil),
		poison("bad-utf8", strings.Replace(oneLine, "Blue mug", "Blue @@@", 1), nil),
	}
	var mixed []types.Message
	for i, m := range msgs {
		mixed = append(mixed, m)
		if i < len(bad) {
			mixed = append(mixed, bad[i])
		}
	}
	payload := bytes.Replace(sqsEvent(t, mixed), []byte("@@@"), []byte{0xff, 0xfe, 0xfd}, 1)
	fn := startCompactor(t, srv, "webtrack")
	got := failures(t, fn.Invoke(t, payload))
	want := []string{foreign}
	for _, m := range bad {
		want = append(want, aws.ToString(m.MessageId))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("batchItemFailures %q, want exactly the poison %q", got, want)
	}
	_, stored := bucket(t, srv, "webtrack/")
	checkExactlyOnce(t, reqs, stored)
	for _, m := range bad {
		if !strings.Contains(fn.Output(), `"message_id":"`+aws.ToString(m.MessageId)+`"`) {
			t.Errorf("poison message %s is not logged with its id", aws.ToString(m.MessageId))
		}
	}
}
