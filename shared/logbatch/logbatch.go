// Package logbatch turns one web-tracking request into stored lines: it parses
// and validates a JSON batch (or a GET beacon's query) in a single pass and
// writes each entry as one flat NDJSON line, stamped with the receive time,
// topic, source, tags and client metadata.
//
// Validation follows the service: UTF-8 everywhere, key rules, reserved keys,
// value, topic and source sizes, the entry count. One bad entry rejects the
// whole request. Non-string values (numbers, booleans, null, objects, arrays)
// are stored as their compact JSON text, as the browser SDK sends them. An
// entry that names the same key twice is rejected with InvalidKey, so every
// stored line is an unambiguous JSON object.
//
// An entry may carry its own __topic__ or __source__, as a logger of the
// service's team sends: the entry's value keeps the name, and the batch's is
// stored as __topic__0 or __source__0 on that entry's line, as the service
// stores it.
package logbatch

import (
	"bytes"
	"errors"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/webtrack/webtrack/shared/apierror"
)

// Limits of the service that are not configurable.
const (
	MaxValueBytes = 1 << 20 // one field value
	MaxTopicBytes = 128     // __topic__ and __source__
	// MaxPastTime and MaxFutureTime bound a client-supplied __time__.
	MaxPastTime   = 7 * 24 * time.Hour
	MaxFutureTime = 15 * time.Minute
)

// Options says how a request's entries are stamped and bounded.
type Options struct {
	ReceivedAt time.Time
	ClientIP   string
	// ClientMetadata adds __tag__:__client_ip__ and __tag__:__receive_time__.
	ClientMetadata bool
	// ClientTime keeps a valid __time__ sent in an entry instead of replacing
	// it with the receive time.
	ClientTime bool
	// MaxEntries is the most entries one request may carry.
	MaxEntries int
	// MaxOutputBytes bounds the NDJSON one request may produce. Every line
	// repeats the batch's tags, so a small body can ask for far more; it is
	// refused with PostBodyTooLarge before anything is allocated.
	MaxOutputBytes int
	// MaxLineBytes bounds each stored line, without its newline: the
	// longest line the sink can carry, or zero for no bound. A line is
	// counted as sent, each U+FFFE and U+FFFF as a 6-byte escape.
	MaxLineBytes int
	// RequestID is stored in every line as __tag__:__request_id__, so that
	// the lines of one request can be found in an object that holds many.
	RequestID string
	// Reserve, when set, is told the size of the lines before they are
	// allocated; its error refuses the request instead. The caller counts
	// them against its memory budget.
	Reserve func(size int) *apierror.Error
}

// Encoder parses requests and encodes their entries. It keeps its buffers
// between calls; it is not safe for concurrent use.
type Encoder struct {
	dec     jsontext.Decoder
	opts    *Options
	topic   []byte // quoted JSON string
	source  []byte // quoted JSON string
	tags    []byte // ,"__tag__:k":"v" runs
	fields  []byte // ,"k":"v" runs of every entry
	ends    []int  // end of each entry's run in fields
	times   []int64
	owns    []own // the members each entry names itself
	scratch []byte
}

// EncodeJSON parses a JSON batch, appends its NDJSON lines to dst, and
// returns them and their count. The lines are the caller's: they do not
// hold on to the encoder, which may serve the next request at once.
func (e *Encoder) EncodeJSON(dst, body []byte, o *Options) ([]byte, int, *apierror.Error) {
	e.reset(o)
	e.dec.Reset(bytes.NewBuffer(body))
	if err := e.parseBatch(); err != nil {
		return nil, 0, err
	}
	if _, err := e.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return nil, 0, apierror.New(apierror.PostBodyInvalid, "unexpected data after the JSON object at offset %d", e.dec.InputOffset())
		}
		return nil, 0, syntaxError(err)
	}
	out, err := e.assemble(dst)
	return out, len(e.ends), err
}

func (e *Encoder) reset(o *Options) {
	e.opts = o
	e.topic = append(e.topic[:0], `""`...)
	e.source = append(e.source[:0], `""`...)
	e.tags = e.tags[:0]
	e.fields = e.fields[:0]
	e.ends = e.ends[:0]
	e.times = e.times[:0]
	e.owns = e.owns[:0]
}

func (e *Encoder) parseBatch() *apierror.Error {
	if err := e.expect('{', inBody); err != nil {
		return err
	}
	sawLogs := false
	for e.dec.PeekKind() == '"' {
		name, err := e.readName()
		if err != nil {
			return err
		}
		switch string(name) {
		case "__topic__":
			e.topic, err = e.readTopic(e.topic[:0], "__topic__")
		case "__source__":
			e.source, err = e.readTopic(e.source[:0], "__source__")
		case "__tags__":
			err = e.parseTags()
		case "__logs__":
			sawLogs = true
			err = e.parseLogs()
		default: // unknown members are ignored, as the service does
			if skipErr := e.dec.SkipValue(); skipErr != nil {
				err = syntaxError(skipErr)
			}
		}
		if err != nil {
			return err
		}
	}
	if _, err := e.dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	if !sawLogs {
		return apierror.New(apierror.PostBodyInvalid, "the body has no __logs__ array")
	}
	return nil
}

// expect reads the opening delimiter of an object or array.
func (e *Encoder) expect(kind jsontext.Kind, at place) *apierror.Error {
	if got := e.dec.PeekKind(); got != kind {
		if got == 0 { // the decoder has an error to tell
			_, err := e.dec.ReadToken()
			return syntaxError(err)
		}
		return apierror.New(apierror.PostBodyInvalid, "%s must be a JSON %s, not %s", at, kindName(kind), kindName(got))
	}
	if _, err := e.dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	return nil
}

// readName reads an object member name, unescaped. The result is valid until
// the next read.
func (e *Encoder) readName() ([]byte, *apierror.Error) {
	v, err := e.dec.ReadValue()
	if err != nil {
		return nil, syntaxError(err)
	}
	return e.unquote(v)
}

func (e *Encoder) unquote(v jsontext.Value) ([]byte, *apierror.Error) {
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	var err error
	e.scratch, err = jsontext.AppendUnquote(e.scratch[:0], v)
	if err != nil {
		return nil, syntaxError(err)
	}
	return e.scratch, nil
}

func (e *Encoder) readTopic(dst []byte, name string) ([]byte, *apierror.Error) {
	v, err := e.dec.ReadValue()
	if err != nil {
		return dst, syntaxError(err)
	}
	if v.Kind() == 'n' {
		return append(dst, `""`...), nil
	}
	dst, size, apiErr := e.appendString(dst, v, MaxTopicBytes)
	if apiErr != nil {
		return dst, apiErr
	}
	if size > MaxTopicBytes {
		return dst, apierror.New(apierror.PostBodyInvalid, "%s is %d bytes; at most %d are allowed", name, size, MaxTopicBytes)
	}
	return dst, nil
}

func (e *Encoder) parseTags() *apierror.Error {
	if err := e.expect('{', inTags); err != nil {
		return err
	}
	for e.dec.PeekKind() == '"' {
		key, err := e.readName()
		if err != nil {
			return err
		}
		if why := checkKey(key); why != "" {
			return invalidKey(inTags, key, why)
		}
		if reservedTags[string(key)] {
			return invalidKey(inTags, key, "is set by the service")
		}
		e.tags = append(append(append(e.tags, `,"__tag__:`...), key...), `":`...)
		if err := e.appendValue(&e.tags, inTags, key); err != nil {
			return err
		}
	}
	_, err := e.dec.ReadToken()
	return syntaxError(err)
}

func (e *Encoder) parseLogs() *apierror.Error {
	if err := e.expect('[', inLogs); err != nil {
		return err
	}
	for e.dec.PeekKind() != ']' {
		if len(e.ends) == e.opts.MaxEntries {
			return apierror.New(apierror.PostBodyTooLarge, "__logs__ has more than %d entries", e.opts.MaxEntries)
		}
		if err := e.parseEntry(); err != nil {
			return err
		}
	}
	_, err := e.dec.ReadToken()
	return syntaxError(err)
}

func (e *Encoder) parseEntry() *apierror.Error {
	where := place(len(e.ends))
	if err := e.expect('{', where); err != nil {
		return err
	}
	t := e.opts.ReceivedAt.Unix()
	var names own
	for e.dec.PeekKind() == '"' {
		key, err := e.readName()
		if err != nil {
			return err
		}
		if string(key) == "__time__" {
			if t, err = e.readTime(where, t); err != nil {
				return err
			}
			continue
		}
		if err := e.startField(where, key); err != nil {
			return err
		}
		names |= ownKeys[string(key)]
		if err := e.appendValue(&e.fields, where, key); err != nil {
			return err
		}
	}
	if _, err := e.dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	if err := names.check(where); err != nil {
		return err
	}
	e.ends = append(e.ends, len(e.fields))
	e.times = append(e.times, t)
	e.owns = append(e.owns, names&(ownTopic|ownSource))
	return nil
}

// own says which of the batch's members an entry names itself. An entry's
// __topic__ (__source__) displaces the batch's to __topic__0 (__source__0),
// which the entry then may not name too.
type own uint8

const (
	ownTopic own = 1 << iota
	ownSource
	ownTopic0
	ownSource0
)

var ownKeys = map[string]own{"__topic__": ownTopic, "__source__": ownSource, "__topic__0": ownTopic0, "__source__0": ownSource0}

// check refuses an entry that names both a member and the name the batch's
// member is displaced to: its line would hold that name twice.
func (o own) check(where place) *apierror.Error {
	switch {
	case o&(ownTopic|ownTopic0) == ownTopic|ownTopic0:
		return invalidKey(where, []byte("__topic__0"), "holds the batch's __topic__ in an entry that has its own __topic__")
	case o&(ownSource|ownSource0) == ownSource|ownSource0:
		return invalidKey(where, []byte("__source__0"), "holds the batch's __source__ in an entry that has its own __source__")
	}
	return nil
}

// startField checks an entry's key and writes `,"key":` for its value.
func (e *Encoder) startField(where place, key []byte) *apierror.Error {
	if why := checkKey(key); why != "" {
		return invalidKey(where, key, why)
	}
	if key[0] == '_' && reservedKeys[string(key)] {
		return invalidKey(where, key, "is reserved")
	}
	e.fields = append(append(append(e.fields, `,"`...), key...), `":`...)
	return nil
}

// appendValue reads a member value and appends it to *dst as a JSON string.
func (e *Encoder) appendValue(dst *[]byte, where place, key []byte) *apierror.Error {
	v, err := e.dec.ReadValue()
	if err != nil {
		return syntaxError(err)
	}
	var size int
	var apiErr *apierror.Error
	*dst, size, apiErr = e.appendString(*dst, v, MaxValueBytes)
	if apiErr != nil {
		return apiErr
	}
	if size > MaxValueBytes {
		return apierror.New(apierror.PostBodyInvalid, "%s: the value of %q is %d bytes; at most %d are allowed", where, key, size, MaxValueBytes)
	}
	return nil
}

// appendString appends v as a JSON string: a string as it was sent, any other
// value as its compact JSON text. It returns the value's size in bytes,
// unescaped where that matters: when its escaped size exceeds limit.
func (e *Encoder) appendString(dst []byte, v jsontext.Value, limit int) ([]byte, int, *apierror.Error) {
	switch v.Kind() {
	case '"':
		size := len(v) - 2
		if size > limit && bytes.IndexByte(v, '\\') >= 0 {
			s, err := e.unquote(v)
			if err != nil {
				return dst, 0, err
			}
			size = len(s)
		}
		return append(dst, v...), size, nil
	case '{', '[':
		e.scratch = append(e.scratch[:0], v...)
		if err := (*jsontext.Value)(&e.scratch).Compact(); err != nil {
			return dst, 0, syntaxError(err)
		}
		size := len(e.scratch)
		dst, err := jsontext.AppendQuote(dst, e.scratch)
		if err != nil {
			return dst, 0, syntaxError(err)
		}
		return dst, size, nil
	default: // numbers and literals need no escaping
		dst = append(append(append(dst, '"'), v...), '"')
		return dst, len(v), nil
	}
}

// readTime reads an entry's __time__. It is replaced by the receive time
// unless the client's time is kept.
func (e *Encoder) readTime(where place, receive int64) (int64, *apierror.Error) {
	v, err := e.dec.ReadValue()
	if err != nil {
		return 0, syntaxError(err)
	}
	if !e.opts.ClientTime {
		return receive, nil
	}
	switch v.Kind() {
	case '"':
		return e.clientTime(where, v[1:len(v)-1])
	case '0':
		return e.clientTime(where, v)
	}
	return 0, apierror.New(apierror.InvalidTimestamp, "%s: __time__ %s is not a unix time in seconds", where, v)
}

// clientTime parses a client's __time__: a unix time in seconds within
// [-7 days, +15 minutes] of the receive time.
func (e *Encoder) clientTime(where place, text []byte) (int64, *apierror.Error) {
	t, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil {
		return 0, apierror.New(apierror.InvalidTimestamp, "%s: __time__ %q is not a unix time in seconds", where, text)
	}
	lo := e.opts.ReceivedAt.Add(-MaxPastTime).Unix()
	hi := e.opts.ReceivedAt.Add(MaxFutureTime).Unix()
	if t < lo || t > hi {
		return 0, apierror.New(apierror.PostBodyTimeOutOfRange, "%s: the post data time is out of range: __time__ %d is not within [%d, %d]", where, t, lo, hi)
	}
	return t, nil
}

// assemble appends each entry's line to dst: its time, the batch's topic,
// source and common fields, then the entry's own fields. The size is known,
// and checked against the output limit, before anything is allocated.
func (e *Encoder) assemble(dst []byte) ([]byte, *apierror.Error) {
	common := e.common()
	// Every line repeats the topic, source and common fields; with
	// {"__time__":N and } at most around bytes surround an entry's fields,
	// and one more for each member the entry displaces (its 0).
	repeated := len(`,"__topic__":,"__source__":`) + len(e.topic) + len(e.source) + len(common)
	around := len(`{"__time__":}`) + 20 + repeated
	size := len(e.fields) + len(e.ends)*(around+1) // and a newline each
	for _, o := range e.owns {
		size += bits.OnesCount8(uint8(o))
	}
	if limit := e.opts.MaxOutputBytes; limit > 0 && size > limit {
		return nil, apierror.New(apierror.PostBodyTooLarge,
			"the %d entries would be stored as %d bytes, more than the %d allowed: every entry repeats the %d bytes of __topic__, __source__ and __tags__; send fewer or smaller tags",
			len(e.ends), size, limit, repeated)
	}
	if limit := e.opts.MaxLineBytes; limit > 0 {
		sent := around + escapeGrowth(e.topic) + escapeGrowth(e.source) + escapeGrowth(common)
		start := 0
		for i, end := range e.ends {
			n := end - start + sent + bits.OnesCount8(uint8(e.owns[i]))
			if 2*n > limit { // escapes at most double a line
				n += escapeGrowth(e.fields[start:end])
			}
			if n > limit {
				return nil, apierror.New(apierror.PostBodyTooLarge,
					"%s would be stored as a line of about %d bytes, more than the %d that the configured sink can carry in one message",
					place(i), n, limit)
			}
			start = end
		}
	}
	if e.opts.Reserve != nil {
		if err := e.opts.Reserve(size); err != nil {
			return nil, err
		}
	}
	out := slices.Grow(dst, size)
	start := 0
	for i, end := range e.ends {
		out = strconv.AppendInt(append(out, `{"__time__":`...), e.times[i], 10)
		out = appendMember(out, "__topic__", e.owns[i]&ownTopic != 0, e.topic)
		out = appendMember(out, "__source__", e.owns[i]&ownSource != 0, e.source)
		out = append(out, common...)
		out = append(out, e.fields[start:end]...)
		out = append(out, "}\n"...)
		start = end
	}
	return out, nil
}

// escapeGrowth is how many bytes b gains when each U+FFFE and U+FFFF in it
// is written as a 6-byte \uXXXX escape, as a sink that cannot carry them
// raw (SQS) sends them.
func escapeGrowth(b []byte) int {
	return 3 * (bytes.Count(b, []byte("\uFFFE")) + bytes.Count(b, []byte("\uFFFF")))
}

// appendMember appends the batch's member ,"name":value, named name0 when
// the entry displaced it with its own.
func appendMember(dst []byte, name string, displaced bool, value []byte) []byte {
	dst = append(append(dst, `,"`...), name...)
	if displaced {
		dst = append(dst, '0')
	}
	return append(append(dst, `":`...), value...)
}

// common builds the fields after the topic and source that every line of
// the batch carries. It reuses the scratch buffer, which nothing else needs
// by now.
func (e *Encoder) common() []byte {
	c := append(e.scratch[:0], e.tags...)
	if e.opts.RequestID != "" {
		c = append(c, `,"__tag__:__request_id__":`...)
		c, _ = jsontext.AppendQuote(c, e.opts.RequestID)
	}
	if e.opts.ClientMetadata {
		c = append(c, `,"__tag__:__client_ip__":`...)
		c, _ = jsontext.AppendQuote(c, e.opts.ClientIP)
		c = strconv.AppendInt(append(c, `,"__tag__:__receive_time__":"`...), e.opts.ReceivedAt.Unix(), 10)
		c = append(c, '"')
	}
	e.scratch = c
	return c
}

// syntaxError turns a decoder error into the protocol's error, or nil.
func syntaxError(err error) *apierror.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jsontext.ErrDuplicateName):
		return apierror.New(apierror.InvalidKey, "%v", trimPrefix(err))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return apierror.New(apierror.PostBodyInvalid, "the body ends before its JSON is complete")
	}
	msg := trimPrefix(err)
	if strings.Contains(msg, "UTF-8") || strings.Contains(msg, "surrogate") {
		return apierror.New(apierror.InvalidEncoding, "%s", msg)
	}
	return apierror.New(apierror.PostBodyInvalid, "%s", msg)
}

func trimPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "jsontext: ")
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case ']':
		return "end of array"
	case '}':
		return "end of object"
	}
	return "invalid JSON"
}

// place says where in a request a value was, for error messages. Entries are
// counted from zero; the message is only built when there is an error.
type place int

const (
	inBody place = -3 - iota
	inLogs
	inTags
	inQuery
)

func (p place) String() string {
	switch p {
	case inBody:
		return "the body"
	case inLogs:
		return "__logs__"
	case inTags:
		return "__tags__"
	case inQuery:
		return "the query"
	}
	return "__logs__[" + strconv.Itoa(int(p)) + "]"
}
