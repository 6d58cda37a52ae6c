package queueevent

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/webtrack/webtrack/shared/compact"
)

// The sqs:// sink's message attributes (sqssink.Attr*), named here so that
// its client stays out of the compactor's binary.
const (
	attrRequestID = "request_id"
	attrPart      = "part"
	attrParts     = "parts"
	attrProject   = "project"
	attrLogstore  = "logstore"
)

// MaxMessageBytes is the largest SQS message body taken: the most the
// sqs:// sink sends, at its largest max_message_bytes (sqssink.MaxMessageBytes,
// which a test ties to this), so that no message it sent is poison.
const MaxMessageBytes = 1 << 20

// sqsMessage reads one message of an SQS event.
func (ev *event) sqsMessage(raw jsontext.Value) {
	var m events.SQSMessage
	if err := jsonv2.Unmarshal(raw, &m); err != nil { // invalid UTF-8 too
		var id struct {
			ID string `json:"messageId"`
		}
		salvage(raw, &id)
		ev.deliveryFailed(id.ID, fmt.Errorf("the message does not decode: %w", err))
		return
	}
	if m.MessageId == "" {
		ev.deliveryFailed("", errors.New("no messageId"))
		return
	}
	ev.ids = append(ev.ids, m.MessageId)
	u, err := sqsUnit(&m)
	if err != nil {
		ev.refuse(m.MessageId, err)
		return
	}
	ev.units = append(ev.units, u)
}

// sqsUnit checks a message's size and attributes.
func sqsUnit(m *events.SQSMessage) (compact.Unit, error) {
	if len(m.Body) > MaxMessageBytes {
		return compact.Unit{}, fmt.Errorf("the body is %d bytes, more than %d", len(m.Body), MaxMessageBytes)
	}
	var errs []error
	attr := func(name, dataType string) string {
		a, ok := m.MessageAttributes[name]
		switch {
		case !ok || a.StringValue == nil:
			errs = append(errs, fmt.Errorf("no %s attribute", name))
		case a.DataType != dataType:
			errs = append(errs, fmt.Errorf("attribute %s is a %s, want a %s", name, a.DataType, dataType))
		default:
			return *a.StringValue
		}
		return ""
	}
	number := func(name string) int {
		v := attr(name, "Number")
		n, err := strconv.Atoi(v)
		if v != "" && (err != nil || n < 1) {
			errs = append(errs, fmt.Errorf("attribute %s %q is not a whole number from 1", name, v))
		}
		return n
	}
	u := compact.Unit{
		ID:        m.MessageId,
		RequestID: attr(attrRequestID, "String"),
		Seq:       number(attrPart),
		Project:   attr(attrProject, "String"),
		Logstore:  attr(attrLogstore, "String"),
		NDJSON:    []byte(m.Body),
	}
	if parts := number(attrParts); len(errs) == 0 && parts < u.Seq {
		errs = append(errs, fmt.Errorf("part %d of %d", u.Seq, parts))
	}
	if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
		u.Sent = time.UnixMilli(ms)
	}
	return u, errors.Join(errs...)
}
