package kafkasink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/webtrack/webtrack/shared/names"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/backoff"
)

// Backoff between attempts to produce the records that failed.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = time.Second
)

// Put produces one record per entry and returns nil once Kafka has
// acknowledged all of them. Records that the client fails with an error that
// a later attempt may not meet are produced again, with backoff, while ctx
// lasts: the client fails every record buffered for a partition when one of
// them times out, so one Put's deadline can fail another's records.
func (s *Sink) Put(ctx context.Context, b *sink.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka: batch %s not sent: %w", b.RequestID, err)
	}
	records, err := s.records(b)
	if err != nil {
		return err
	}
	pending := make([]*kgo.Record, len(records))
	for i := range records {
		pending[i] = &records[i]
	}
	for attempt := 0; ; attempt++ {
		purges := s.purges.Load()
		f := s.produce(ctx, pending)
		if err := f.wait(ctx); err != nil {
			if dial := s.dial.err(); dial != nil { // why the deadline passed
				err = fmt.Errorf("%w (last connection to a broker: %w)", err, dial)
			}
			return sink.Unavailable(fmt.Errorf("kafka: batch %s: %d records not acknowledged: %w", b.RequestID, len(pending), err))
		}
		if len(f.failed) == 0 {
			return nil
		}
		err := fmt.Errorf("kafka: batch %s: %d of %d records failed, first: %w", b.RequestID, len(f.failed), len(records), f.err)
		if !retriable(f.err) {
			return err
		}
		if f.topicRecreated {
			s.forgetTopic(purges)
		}
		if !backoff.Sleep(ctx, backoff.Delay(attempt, firstBackoff, maxBackoff)) {
			return sink.Unavailable(err)
		}
		pending = f.failed
	}
}

// forgetTopic purges the topic from the client, which then looks it up
// afresh on the next record: the client keeps the topic id it first saw and
// fails every record with UNKNOWN_TOPIC_ID once the topic has a new one.
// purges is the count when the failed attempt began; if the topic has been
// purged since, forgetTopic does nothing, so that the many Puts failed by one
// recreation purge it once, not each other's next attempts.
func (s *Sink) forgetTopic(purges uint64) {
	if s.purges.CompareAndSwap(purges, purges+1) {
		s.client.PurgeTopicsFromProducing(s.topic)
	}
}

// produce hands the records to the client.
func (s *Sink) produce(ctx context.Context, records []*kgo.Record) *flight {
	f := &flight{}
	f.wg.Add(len(records))
	for _, r := range records {
		*r = kgo.Record{Key: r.Key, Value: r.Value, Headers: r.Headers}
		s.client.Produce(ctx, r, f.done)
	}
	return f
}

// records builds the batch's records over a copy of its NDJSON, which the
// caller reuses once Put returns while records may still be in flight. The
// records' headers and entry numbers share a few large allocations.
func (s *Sink) records(b *sink.Batch) ([]kgo.Record, error) {
	data := bytes.Clone(b.NDJSON)
	shared := []kgo.RecordHeader{
		{Key: HeaderProject, Value: []byte(b.Project)},
		{Key: HeaderLogstore, Value: []byte(b.Logstore)},
		{Key: HeaderRequestID, Value: []byte(b.RequestID)},
	}
	n := b.Entries
	records := make([]kgo.Record, 0, n)
	headers := make([]kgo.RecordHeader, 0, n*(len(shared)+1))
	digits := make([]byte, 0, n*len(strconv.Itoa(n)))
	var keys keyReader
	for line := range (&sink.Batch{NDJSON: data}).Lines() {
		i := len(records)
		start := len(digits)
		digits = strconv.AppendInt(digits, int64(i), 10)
		headers = append(append(headers, shared...), kgo.RecordHeader{Key: HeaderEntry, Value: digits[start:len(digits):len(digits)]})
		r := kgo.Record{Value: line, Headers: headers[len(headers)-len(shared)-1 : len(headers) : len(headers)]}
		if s.key != "" {
			key, err := keys.value(line, s.key)
			if err != nil {
				return nil, fmt.Errorf("kafka: batch %s entry %d: reading key field %q: %w", b.RequestID, i, s.key, err)
			}
			r.Key = key
		}
		if n := recordSize(&r); n > s.maxRecordBytes {
			return nil, fmt.Errorf("kafka: batch %s entry %d: the record takes %d bytes, more than max_record_bytes %d: nothing produced: %w",
				b.RequestID, i, n, s.maxRecordBytes, kerr.MessageTooLarge)
		}
		records = append(records, r)
	}
	return records, nil
}

// batchOverhead is what a record batch adds to its records, as the client
// counts it against ProducerBatchMaxBytes: 61 bytes of header and a 4-byte
// size prefix.
const batchOverhead = 65

// MaxLineBytes is the longest line whose record fits in max_record_bytes
// with the largest headers (the longest request id and names, a 10-digit
// entry number) and, when a key field is set, a key as long as the line
// itself.
func (s *Sink) MaxLineBytes() int {
	const headers = 3 + 4*2*5 + // varint lengths and counts, at most 5 bytes each
		len(HeaderProject) + names.MaxNameLen + len(HeaderLogstore) + names.MaxNameLen +
		len(HeaderRequestID) + names.MaxRequestIDLen + len(HeaderEntry) + 10
	room := s.maxRecordBytes - batchOverhead - 5 - headers - 2*5
	if s.key != "" {
		room /= 2
	}
	return room
}

// recordSize is the size of a batch holding r alone, as the client counts it
// against ProducerBatchMaxBytes.
func recordSize(r *kgo.Record) int {
	n := 3 + // attributes, timestamp delta 0 and offset delta 0
		kbin.VarintLen(int32(len(r.Key))) + len(r.Key) +
		kbin.VarintLen(int32(len(r.Value))) + len(r.Value) +
		kbin.VarintLen(int32(len(r.Headers)))
	for _, h := range r.Headers {
		n += kbin.VarintLen(int32(len(h.Key))) + len(h.Key) + kbin.VarintLen(int32(len(h.Value))) + len(h.Value)
	}
	return batchOverhead + kbin.VarintLen(int32(n)) + n
}

// flight waits for the promises of one attempt's records.
type flight struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	failed []*kgo.Record
	err    error
	// topicRecreated says a record failed with UNKNOWN_TOPIC_ID.
	topicRecreated bool
}

// done is each record's promise.
func (f *flight) done(r *kgo.Record, err error) {
	if err != nil {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.failed = append(f.failed, r)
		f.topicRecreated = f.topicRecreated || errors.Is(err, kerr.UnknownTopicID)
		f.mu.Unlock()
	}
	f.wg.Done()
}

// wait returns once every record is acknowledged or failed, or returns
// ctx's error if it ends first: a record already in a request to a broker
// that does not answer is not failed before the request times out.
func (f *flight) wait(ctx context.Context) error {
	all := make(chan struct{})
	go func() { f.wg.Wait(); close(all) }()
	select {
	case <-all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retriable says whether a record failed with err may be stored if produced
// again: anything but an error that Kafka marks as lasting.
func retriable(err error) bool {
	var ke *kerr.Error
	return !errors.As(err, &ke) || ke.Retriable
}

// keyReader finds a top-level field's value in a JSON line.
type keyReader struct {
	dec jsontext.Decoder
	buf bytes.Reader
}

// value returns the field's value as a record key: a string's text, the
// JSON of anything else, nil for null or a missing field.
func (k *keyReader) value(line []byte, field string) ([]byte, error) {
	k.buf.Reset(line)
	k.dec.Reset(&k.buf)
	if tok, err := k.dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errors.New("entry is not a JSON object")
	}
	for k.dec.PeekKind() == '"' {
		name, err := k.dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if name.String() != field {
			if err := k.dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		v, err := k.dec.ReadValue()
		switch {
		case err != nil:
			return nil, err
		case v.Kind() == 'n':
			return nil, nil
		case v.Kind() == '"':
			return jsontext.AppendUnquote(nil, v)
		}
		return bytes.Clone(v), nil
	}
	return nil, nil
}
