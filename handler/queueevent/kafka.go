package queueevent

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/webtrack/webtrack/shared/compact"
)

// The kafka:// sink's record headers (kafkasink.Header*), named here so
// that its client stays out of the compactor's binary.
const (
	headerProject   = "project"
	headerLogstore  = "logstore"
	headerRequestID = "request_id"
	headerEntry     = "entry"
)

// kafkaRecord reads one record of a Kafka event.
func (ev *event) kafkaRecord(raw jsontext.Value) {
	var r events.KafkaRecord
	if err := jsonv2.Unmarshal(raw, &r); err != nil { // invalid UTF-8 too
		var at struct {
			Topic     string `json:"topic"`
			Partition int64  `json:"partition"`
			Offset    int64  `json:"offset"`
		}
		salvage(raw, &at)
		ev.deliveryFailed(recordID(at.Topic, at.Partition, at.Offset), fmt.Errorf("the record does not decode: %w", err))
		return
	}
	id := recordID(r.Topic, r.Partition, r.Offset)
	ev.ids = append(ev.ids, id)
	u, err := kafkaUnit(&r)
	if err != nil {
		ev.refuse(id, err)
		return
	}
	u.ID = id
	ev.units = append(ev.units, u)
}

// recordID names a record by its place: topic-partition@offset.
func recordID(topic string, partition, offset int64) string {
	return topic + "-" + strconv.FormatInt(partition, 10) + "@" + strconv.FormatInt(offset, 10)
}

// kafkaUnit checks a record's value and headers.
func kafkaUnit(r *events.KafkaRecord) (compact.Unit, error) {
	// Decoded with room for the line's newline, so that adding it copies nothing.
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(r.Value))+1)
	n, err := base64.StdEncoding.Decode(buf, []byte(r.Value))
	if err != nil {
		return compact.Unit{}, fmt.Errorf("the value is not base64: %w", err)
	}
	value := buf[:n]
	if bytes.IndexByte(value, '\n') >= 0 {
		return compact.Unit{}, errors.New("the value holds more than one line")
	}
	headers := map[string]string{}
	for _, h := range r.Headers {
		for k, v := range h {
			if _, dup := headers[k]; dup {
				return compact.Unit{}, fmt.Errorf("header %s given twice", k)
			}
			headers[k] = string(v)
		}
	}
	var errs []error
	for _, name := range []string{headerProject, headerLogstore, headerRequestID, headerEntry} {
		if _, ok := headers[name]; !ok {
			errs = append(errs, fmt.Errorf("no %s header", name))
		}
	}
	entryHeader, hasEntry := headers[headerEntry]
	entry, err := strconv.Atoi(entryHeader)
	if hasEntry && (err != nil || entry < 0) {
		errs = append(errs, fmt.Errorf("header entry %q is not a whole number from 0", entryHeader))
	}
	return compact.Unit{
		Project:   headers[headerProject],
		Logstore:  headers[headerLogstore],
		RequestID: headers[headerRequestID],
		Seq:       entry,
		NDJSON:    append(value, '\n'),
		Sent:      r.Timestamp.Time,
	}, errors.Join(errs...)
}
