// Package queueeventtest builds the events that Lambda's event source
// mappings would make of what a queue holds: an SQS event of received
// messages, a Kafka event of consumed records. Tests and the sample events
// use it.
package queueeventtest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Failures returns the message ids in a queue handler's answer, its
// batchItemFailures, which every answer that is not an error carries, empty
// when every message was handled.
func Failures(answer []byte) ([]string, error) {
	var r events.SQSEventResponse
	if err := json.Unmarshal(answer, &r); err != nil || r.BatchItemFailures == nil {
		return nil, fmt.Errorf("answer %s is not batchItemFailures (%v)", answer, err)
	}
	ids := []string{}
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids, nil
}

// QueueARN is the queue the SQS events come from.
const QueueARN = "arn:aws:sqs:eu-west-1:123456789012:webtrack-queue"

// SQSMessage is message as Lambda delivers it, sent at sent.
func SQSMessage(m types.Message, sent time.Time) events.SQSMessage {
	attrs := map[string]events.SQSMessageAttribute{}
	for name, a := range m.MessageAttributes {
		attrs[name] = events.SQSMessageAttribute{
			StringValue: a.StringValue, DataType: aws.ToString(a.DataType),
			StringListValues: []string{}, BinaryListValues: [][]byte{},
		}
	}
	ms := strconv.FormatInt(sent.UnixMilli(), 10)
	body := aws.ToString(m.Body)
	sum := md5.Sum([]byte(body))
	return events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   body,
		Md5OfBody:              hex.EncodeToString(sum[:]),
		Md5OfMessageAttributes: attributesMD5(m.MessageAttributes),
		Attributes: map[string]string{
			"ApproximateReceiveCount": "1", "SentTimestamp": ms,
			"SenderId": "AROAIWPX5BD2BHG722MW4:webtrack", "ApproximateFirstReceiveTimestamp": ms,
		},
		MessageAttributes: attrs,
		EventSourceARN:    QueueARN,
		EventSource:       "aws:sqs",
		AWSRegion:         "eu-west-1",
	}
}

// attributesMD5 is the digest SQS gives of a message's string and number
// attributes: each, by name, as its name, data type and value, each prefixed
// with its length, the value preceded by transport type 1. It is empty for a
// message without attributes.
func attributesMD5(attrs map[string]types.MessageAttributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	h := md5.New()
	field := func(s string) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		h.Write([]byte(s))
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		a := attrs[name]
		field(name)
		field(aws.ToString(a.DataType))
		h.Write([]byte{1})
		field(aws.ToString(a.StringValue))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SQSEvent is the event of the received messages, taking each one's
// SentTimestamp attribute as its time sent when it has one, else sent.
func SQSEvent(msgs []types.Message, sent time.Time) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		at := sent
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			at = time.UnixMilli(ms)
		}
		ev.Records = append(ev.Records, SQSMessage(m, at))
	}
	return ev
}

// SinkMessage is a message as the sqs:// sink sends it: part of parts of
// the write requestID, whose body is ndjson.
func SinkMessage(messageID, requestID string, part, parts int, project, logstore, ndjson string) types.Message {
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	num := func(n int) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(n))}
	}
	return types.Message{
		MessageId:     aws.String(messageID),
		ReceiptHandle: aws.String("AQEB" + base64.RawStdEncoding.EncodeToString([]byte(messageID))),
		Body:          aws.String(ndjson),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"request_id": str(requestID), "part": num(part), "parts": num(parts),
			"project": str(project), "logstore": str(logstore),
		},
	}
}

// ClusterARN is the MSK cluster the Kafka events come from.
const ClusterARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/webtrack/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-1"

// KafkaEvent is the event of the consumed records, as an MSK mapping
// (eventSource aws:kafka) delivers them, by topic-partition in offset order.
func KafkaEvent(records []*kgo.Record) events.KafkaEvent {
	ev := events.KafkaEvent{
		EventSource: "aws:kafka", EventSourceARN: ClusterARN,
		BootstrapServers: "b-1.webtrack.abc123.c2.kafka.eu-west-1.amazonaws.com:9098",
		Records:          map[string][]events.KafkaRecord{},
	}
	for _, r := range records {
		var headers []map[string]events.JSONNumberBytes
		for _, h := range r.Headers {
			headers = append(headers, map[string]events.JSONNumberBytes{h.Key: h.Value})
		}
		kr := events.KafkaRecord{
			Topic: r.Topic, Partition: int64(r.Partition), Offset: r.Offset,
			Timestamp: events.MilliSecondsEpochTime{Time: r.Timestamp}, TimestampType: "CREATE_TIME",
			Value: base64.StdEncoding.EncodeToString(r.Value), Headers: headers,
		}
		if r.Key != nil {
			kr.Key = base64.StdEncoding.EncodeToString(r.Key)
		}
		tp := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
		ev.Records[tp] = append(ev.Records[tp], kr)
	}
	for _, rs := range ev.Records {
		slices.SortFunc(rs, func(a, b events.KafkaRecord) int { return int(a.Offset - b.Offset) })
	}
	return ev
}

// SinkRecord is a record as the kafka:// sink produces it: entry of the
// write requestID, whose value is line, at offset of topic's partition.
func SinkRecord(topic string, partition int32, offset int64, requestID string, entry int, project, logstore, line string, at time.Time) *kgo.Record {
	return &kgo.Record{
		Topic: topic, Partition: partition, Offset: offset, Timestamp: at, Value: []byte(line),
		Headers: []kgo.RecordHeader{
			{Key: "project", Value: []byte(project)}, {Key: "logstore", Value: []byte(logstore)},
			{Key: "request_id", Value: []byte(requestID)}, {Key: "entry", Value: []byte(strconv.Itoa(entry))},
		},
	}
}
