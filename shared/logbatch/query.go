package logbatch

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/webtrack/webtrack/shared/apierror"
)

// Field is one key and value added to a beacon's entry by the server.
type Field struct{ Key, Value string }

// APIVersionParam is the query parameter that carries the API version; it is
// never stored.
const APIVersionParam = "APIVersion"

// EncodeQuery encodes a GET beacon as one entry: every query parameter except
// APIVersion becomes a field, and __topic__ and __source__ set the topic and
// source; the source is the client's address when the beacon names none. A
// parameter given more than once (a tracking script's push of the same key
// twice) is one field of its values joined by commas, in the order sent, as
// the HTTP gateways in front of functions pass it. The extra fields
// (track_ua.gif's User-Agent and Referer) follow. The line is appended to
// dst, as EncodeJSON appends.
func (e *Encoder) EncodeQuery(dst []byte, query url.Values, extra []Field, o *Options) ([]byte, int, *apierror.Error) {
	e.reset(o)
	const where = inQuery
	t := o.ReceivedAt.Unix()
	for _, key := range slices.Sorted(maps.Keys(query)) {
		values := query[key]
		if key == APIVersionParam {
			continue
		}
		if !utf8.ValidString(key) {
			return nil, 0, apierror.New(apierror.InvalidEncoding, "query parameter %q is not UTF-8", key)
		}
		value := strings.Join(values, ",")
		if !utf8.ValidString(value) {
			return nil, 0, apierror.New(apierror.InvalidEncoding, "the value of query parameter %q is not UTF-8", key)
		}
		var err *apierror.Error
		switch key {
		case "__topic__":
			e.topic, err = quoteLimited(e.topic[:0], key, value, MaxTopicBytes)
		case "__source__":
			e.source, err = quoteLimited(e.source[:0], key, value, MaxTopicBytes)
		case "__time__":
			if o.ClientTime {
				t, err = e.clientTime(where, []byte(value))
			}
		default:
			err = e.appendField(key, value)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	for _, f := range extra {
		if query.Has(f.Key) {
			return nil, 0, invalidKey(where, []byte(f.Key), "is set by the server on this path")
		}
		if err := e.appendField(f.Key, f.Value); err != nil {
			return nil, 0, err
		}
	}
	if string(e.source) == `""` { // the service's source for a beacon
		e.source, _ = jsontext.AppendQuote(e.source[:0], o.ClientIP)
	}
	e.ends = append(e.ends, len(e.fields))
	e.times = append(e.times, t)
	e.owns = append(e.owns, 0)
	out, err := e.assemble(dst)
	return out, 1, err
}

func (e *Encoder) appendField(key, value string) *apierror.Error {
	if err := e.startField(inQuery, []byte(key)); err != nil {
		return err
	}
	var err *apierror.Error
	e.fields, err = quoteLimited(e.fields, key, value, MaxValueBytes)
	return err
}

// quoteLimited appends value as a JSON string, if it is at most limit bytes.
func quoteLimited(dst []byte, key, value string, limit int) ([]byte, *apierror.Error) {
	if len(value) > limit {
		return dst, apierror.New(apierror.PostBodyInvalid, "the value of %q is %d bytes; at most %d are allowed", key, len(value), limit)
	}
	dst, err := jsontext.AppendQuote(dst, value)
	if err != nil { // cannot happen: value is valid UTF-8
		return dst, apierror.New(apierror.InvalidEncoding, "%q: %v", key, err)
	}
	return dst, nil
}
