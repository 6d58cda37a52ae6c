// Package queueevent is the compactor's front door: it turns the events with
// which Lambda's event source mappings deliver queue messages into
// compaction units, and the compaction's result into Lambda's answer. It
// reads SQS messages as the sqs:// sink sends them and Kafka records (Amazon
// MSK or self-managed Apache Kafka) as the kafka:// sink produces them.
//
// An SQS event is answered with the messages to deliver again,
// {"batchItemFailures":[{"itemIdentifier": messageId}, …]}: those that are
// not the sink's (poison, which the queue's redrive policy then retires) and
// those whose partition failed to store. A Kafka mapping retries whole
// batches, so a Kafka event fails the invocation when a partition failed to
// store; a record that is not the sink's is logged and skipped, since no
// retry can store it.
package queueevent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/webtrack/webtrack/shared/compact"
)

// Handler compacts the deliveries of SQS and Kafka events. It implements
// lambda.Handler, so the runtime hands it the raw event.
type Handler struct {
	C   *compact.Compactor
	Log *slog.Logger
}

// Invoke compacts one event's deliveries and answers it.
func (h Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("invocation_id", lc.AwsRequestID)
	}
	ev, err := decode(payload, log)
	if err != nil {
		return nil, err
	}
	res := h.C.Compact(ctx, ev.units, log)
	failed := map[string]bool{}
	for _, ids := range [][]string{ev.refused, res.Poison, res.Unstored} {
		for _, id := range ids {
			failed[id] = true
		}
	}
	answer := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	if !ev.kafka {
		for _, id := range ev.ids {
			if failed[id] {
				answer.BatchItemFailures = append(answer.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
				delete(failed, id) // a message id twice is reported once
			}
		}
	}
	log.Info("compacted", "source", ev.source(), "messages", len(ev.ids), "duplicates", res.Duplicates,
		"poison", len(ev.refused)+len(res.Poison), "unstored", len(res.Unstored), "objects", res.Objects,
		"entries", res.Entries, "bytes", res.Bytes, "duration_ms", time.Since(start).Milliseconds())
	if ev.kafka && len(res.Unstored) > 0 {
		return nil, fmt.Errorf("%d of %d Kafka records not stored: the batch must come again", len(res.Unstored), len(ev.ids))
	}
	return json.Marshal(answer)
}

// event is what an event delivers.
type event struct {
	kafka bool
	// ids names every delivery, in the event's order; units are those that
	// passed this package's checks and refused those that did not.
	ids     []string
	units   []compact.Unit
	refused []string
	log     *slog.Logger
}

func (ev *event) source() string {
	if ev.kafka {
		return "kafka"
	}
	return "sqs"
}

// refuse records a delivery that is not the sink's.
func (ev *event) refuse(id string, err error) {
	ev.log.Warn("poison message: not what a webtrack sink writes", "message_id", id, "reason", err.Error())
	ev.refused = append(ev.refused, id)
}

// kafkaSources are the eventSource values of Kafka events.
var kafkaSources = map[string]bool{"aws:kafka": true, "SelfManagedKafka": true}

// decode reads an SQS event ({"Records": [message, …]}) or a Kafka event
// ({"eventSource": …, "records": {"topic-partition": [record, …], …}}),
// one delivery at a time, so that a delivery that does not decode (invalid
// UTF-8 included) is refused alone rather than failing the event.
func decode(payload []byte, log *slog.Logger) (*event, error) {
	ev := &event{log: log}
	dec := jsontext.NewDecoder(bytes.NewBuffer(payload), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, fmt.Errorf("the event is not a JSON object: %v", err)
	}
	var sqs, kafka bool
	var source string
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		switch name.String() {
		case "Records":
			sqs = true
			err = each(dec, ev.sqsMessage)
		case "records":
			kafka = true
			err = eachPartition(dec, ev.kafkaRecord)
		case "eventSource":
			var tok jsontext.Token
			if tok, err = dec.ReadToken(); err == nil {
				source = tok.String()
			}
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return nil, fmt.Errorf("decoding the event: %w", err)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, fmt.Errorf("decoding the event: %w", err)
	}
	switch {
	case sqs && !kafka:
		return ev, nil
	case kafka && !sqs && kafkaSources[source]:
		ev.kafka = true
		return ev, nil
	}
	return nil, fmt.Errorf("not an SQS event (Records) nor a Kafka event (records, eventSource aws:kafka or SelfManagedKafka; got %q)", source)
}

// each hands every element of the array that dec is at to f.
func each(dec *jsontext.Decoder, f func(jsontext.Value)) error {
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
		return fmt.Errorf("want an array: %v", err)
	}
	for dec.PeekKind() != ']' {
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		f(v)
	}
	_, err := dec.ReadToken()
	return err
}

// eachPartition hands every record of a Kafka event's records object, whose
// members are topic-partitions, to f.
func eachPartition(dec *jsontext.Decoder, f func(jsontext.Value)) error {
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return fmt.Errorf("records: want an object: %v", err)
	}
	for dec.PeekKind() == '"' {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		if err := each(dec, f); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// salvage decodes what it can of a delivery that did not decode into v, to
// name it in the report.
func salvage(raw jsontext.Value, v any) {
	_ = jsonv2.Unmarshal(raw, v, jsontext.AllowInvalidUTF8(true))
}

// deliveryFailed refuses a delivery that did not decode, or, when not even
// its id could be read, logs it: it cannot be reported, so the mapping takes
// it as done.
func (ev *event) deliveryFailed(id string, err error) {
	if id == "" {
		ev.log.Error("a delivery without an id: dropped", "reason", err.Error())
		return
	}
	ev.ids = append(ev.ids, id)
	ev.refuse(id, err)
}
