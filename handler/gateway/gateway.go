// Package gateway holds what every HTTP gateway's JSON event has in common:
// bodies carried as strings, base64-encoded when binary, and headers carried
// as maps of names to one value or to a list of values.
package gateway

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// DecodeBody returns the bytes of an event's body, decoding base64 when the
// event says it is encoded.
func DecodeBody(body string, isBase64 bool) ([]byte, error) {
	if !isBase64 {
		return []byte(body), nil
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("event body: invalid base64: %w", err)
	}
	return b, nil
}

// EncodeBody returns a response body as an event carries it: as text when its
// Content-Type is text or JSON, base64-encoded otherwise (the GIF).
func EncodeBody(body []byte, header http.Header) (s string, isBase64 bool) {
	if len(body) == 0 {
		return "", false
	}
	if isText(header.Get("Content-Type")) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// FlatHeaders returns h with lower-case names and repeated values joined by
// commas, for gateways that take one value per header.
func FlatHeaders(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, vs := range h {
		m[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	return m
}

// MultiHeaders returns h with lower-case names, for gateways that take a list
// of values per header.
func MultiHeaders(h http.Header) map[string][]string {
	m := make(map[string][]string, len(h))
	for k, vs := range h {
		m[strings.ToLower(k)] = vs
	}
	return m
}

// Header builds an http.Header from an event's single-value and multi-value
// header maps. A name present in multi is taken from there only.
func Header(single map[string]string, multi map[string][]string) http.Header {
	h := make(http.Header, len(single)+len(multi))
	for k, vs := range multi {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range single {
		if _, ok := multi[k]; !ok {
			h.Add(k, v)
		}
	}
	return h
}

// Host is the Host header, or the gateway's domain name when the event
// carries no Host header.
func Host(h http.Header, domainName string) string {
	if v := h.Get("Host"); v != "" {
		return v
	}
	return domainName
}

// LastForwardedFor is the client address that the nearest proxy added: the
// last X-Forwarded-For entry, or "" when there is none. A proxy that appends
// (ALB, nginx, Cloud Run) leaves the client's own entries in front, so every
// earlier entry may be forged and only this one can be trusted.
func LastForwardedFor(h http.Header) string {
	values := h.Values("X-Forwarded-For")
	if len(values) == 0 {
		return ""
	}
	last := values[len(values)-1]
	return strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
}

// Path decodes a path as the client sent it (percent-encoded), keeping it as
// sent when it does not decode.
func Path(raw string) string {
	if p, err := url.PathUnescape(raw); err == nil {
		return p
	}
	return raw
}
