package sqssink

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/webtrack/webtrack/shared/names"
	"github.com/webtrack/webtrack/shared/sink"
)

// Message attribute names; see the package documentation.
const (
	AttrRequestID = "request_id"
	AttrPart      = "part"
	AttrParts     = "parts"
	AttrProject   = "project"
	AttrLogstore  = "logstore"
)

const (
	typeString = "String"
	typeNumber = "Number"
)

// requests cuts b, its refused characters escaped, into messages and groups
// them into SendMessageBatch requests of at most ten messages and
// maxRequestBytes. Every line is checked before anything is sent.
func (s *Sink) requests(b *sink.Batch) ([][]types.SendMessageBatchRequestEntry, error) {
	overhead := attributesSize(b)
	chunks, err := split(escapeRefused(b.NDJSON), s.maxMessageBytes-overhead)
	if err != nil {
		return nil, fmt.Errorf("sqs: batch %s: %w (max_message_bytes %d, less %d bytes of message attributes)", b.RequestID, err, s.maxMessageBytes, overhead)
	}
	if len(chunks) == 0 {
		return nil, nil
	}
	var (
		requests [][]types.SendMessageBatchRequestEntry
		current  []types.SendMessageBatchRequestEntry
		size     int
	)
	for i, chunk := range chunks {
		n := len(chunk) + overhead
		if len(current) == maxRequestEntries || size+n > maxRequestBytes {
			requests = append(requests, current)
			current, size = nil, 0
		}
		current = append(current, s.entry(b, chunk, i+1, len(chunks)))
		size += n
	}
	return append(requests, current), nil
}

// entry is the message for part part of parts of b.
func (s *Sink) entry(b *sink.Batch, chunk []byte, part, parts int) types.SendMessageBatchRequestEntry {
	id := strconv.Itoa(part)
	attrs := map[string]types.MessageAttributeValue{
		AttrRequestID: {DataType: aws.String(typeString), StringValue: aws.String(b.RequestID)},
		AttrPart:      {DataType: aws.String(typeNumber), StringValue: aws.String(id)},
		AttrParts:     {DataType: aws.String(typeNumber), StringValue: aws.String(strconv.Itoa(parts))},
	}
	if b.Project != "" {
		attrs[AttrProject] = types.MessageAttributeValue{DataType: aws.String(typeString), StringValue: aws.String(b.Project)}
	}
	if b.Logstore != "" {
		attrs[AttrLogstore] = types.MessageAttributeValue{DataType: aws.String(typeString), StringValue: aws.String(b.Logstore)}
	}
	e := types.SendMessageBatchRequestEntry{
		Id:                aws.String(id),
		MessageBody:       aws.String(string(chunk)),
		MessageAttributes: attrs,
	}
	if s.fifo {
		e.MessageGroupId = aws.String(b.RequestID)
		e.MessageDeduplicationId = aws.String(b.RequestID + "." + id)
	}
	return e
}

// MaxLineBytes is the longest line that fits in a message with the largest
// attributes: the longest request id, project and logstore names, part
// numbers of 10 digits. The line is counted as sent, its characters that
// SQS refuses escaped: each U+FFFE or U+FFFF as 6 bytes, not 3.
func (s *Sink) MaxLineBytes() int {
	return s.maxMessageBytes - attrSize(names.MaxRequestIDLen, names.MaxNameLen, names.MaxNameLen, 10) - 1 // the line's newline
}

// attributesSize bounds what the message attributes of any part of b add to
// the message size, as SQS counts it: each name, data type and value.
func attributesSize(b *sink.Batch) int {
	// part and parts are at most the number of bytes, so have no more digits.
	return attrSize(len(b.RequestID), len(b.Project), len(b.Logstore), len(strconv.Itoa(len(b.NDJSON))))
}

// attrSize is the attributes' size for a request id, project and logstore of
// those lengths (a project or logstore of 0 is left out) and part numbers of
// that many digits.
func attrSize(requestID, project, logstore, digits int) int {
	n := len(AttrRequestID) + len(typeString) + requestID +
		len(AttrPart) + len(typeNumber) + digits +
		len(AttrParts) + len(typeNumber) + digits
	if project > 0 {
		n += len(AttrProject) + len(typeString) + project
	}
	if logstore > 0 {
		n += len(AttrLogstore) + len(typeString) + logstore
	}
	return n
}

// split cuts NDJSON into as few runs of whole lines as fit in limit bytes
// each. A line that does not fit alone is an error.
func split(ndjson []byte, limit int) ([][]byte, error) {
	var chunks [][]byte
	start, line := 0, 0
	for pos := 0; pos < len(ndjson); line++ {
		n := bytes.IndexByte(ndjson[pos:], '\n') + 1
		if n == 0 {
			n = len(ndjson) - pos
		}
		if n > limit {
			return nil, fmt.Errorf("line %d is %d bytes, more than the %d bytes a message holds", line+1, n, limit)
		}
		if pos+n-start > limit {
			chunks = append(chunks, ndjson[start:pos])
			start = pos
		}
		pos += n
	}
	if start < len(ndjson) {
		chunks = append(chunks, ndjson[start:])
	}
	return chunks, nil
}

// escapeRefused returns ndjson with each character that SQS refuses in a
// message written as a \uXXXX JSON escape, or ndjson itself when it holds
// none. In a valid JSON line such characters can only be inside strings,
// where the escape means the same.
func escapeRefused(ndjson []byte) []byte {
	var out []byte
	done := 0
	for i := 0; i < len(ndjson); {
		// Only control characters and U+FFFE and U+FFFF (EF BF BE, EF BF
		// BF) can be refused in valid UTF-8.
		if c := ndjson[i]; c >= 0x20 && c != 0xEF || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		r, n := utf8.DecodeRune(ndjson[i:])
		if r < 0x20 || r == 0xFFFE || r == 0xFFFF {
			out = fmt.Appendf(append(out, ndjson[done:i]...), `\u%04X`, r)
			done = i + n
		}
		i += n
	}
	if out == nil {
		return ndjson
	}
	return append(out, ndjson[done:]...)
}
