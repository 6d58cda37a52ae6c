// Package lambdaevent converts the four HTTP event families that invoke a
// Lambda function (API Gateway HTTP API, function URLs, API Gateway REST API
// and Application Load Balancer target groups) to the processor's requests
// and its responses back to each family's response.
package lambdaevent

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// Kind is an HTTP event family.
type Kind int

// The event families; ALBMultiValue is a target group with multi-value
// headers switched on, which must be answered in kind.
const (
	Unknown Kind = iota
	HTTPAPI
	FunctionURL
	REST
	ALB
	ALBMultiValue
)

var kindNames = [...]string{"unknown", "HTTP API", "function URL", "REST API", "ALB", "ALB multi-value"}

func (k Kind) String() string { return kindNames[k] }

// probe holds the fields that tell the families apart.
type probe struct {
	Version           string          `json:"version"`
	HTTPMethod        string          `json:"httpMethod"`
	MultiValueHeaders json.RawMessage `json:"multiValueHeaders"`
	RequestContext    struct {
		HTTP         *struct{} `json:"http"`
		ELB          *struct{} `json:"elb"`
		DomainName   string    `json:"domainName"`
		Stage        string    `json:"stage"`
		ResourcePath string    `json:"resourcePath"`
	} `json:"requestContext"`
}

// ErrUnknownEvent is returned for an event of no known HTTP family.
var ErrUnknownEvent = errors.New("not an HTTP API, function URL, REST API or ALB event")

// Detect tells which family an event belongs to, from the event alone.
func Detect(payload []byte) (Kind, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return Unknown, err
	}
	rc := p.RequestContext
	switch {
	case rc.ELB != nil && p.HTTPMethod != "":
		if len(p.MultiValueHeaders) > 0 && string(p.MultiValueHeaders) != "null" {
			return ALBMultiValue, nil
		}
		return ALB, nil
	case p.Version == "2.0" && rc.HTTP != nil:
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			return FunctionURL, nil
		}
		return HTTPAPI, nil
	case p.HTTPMethod != "" && (rc.Stage != "" || rc.ResourcePath != ""):
		return REST, nil
	}
	return Unknown, ErrUnknownEvent
}

// rawQuery parses a payload 2.0 rawQueryString. Should it not parse, the
// gateway's own decoding (repeated values joined by commas) is used.
func rawQuery(raw string, decoded map[string]string) url.Values {
	if q, err := url.ParseQuery(raw); err == nil {
		return q
	}
	return values(decoded, nil, false)
}

// values builds a query from payload 1.0 maps; a name present in multi is
// taken from there only. ALB passes names and values still URL-encoded, so
// unescape decodes them (a value that does not decode is kept as sent).
func values(single map[string]string, multi map[string][]string, unescape bool) url.Values {
	dec := func(s string) string { return s }
	if unescape {
		dec = func(s string) string {
			if u, err := url.QueryUnescape(s); err == nil {
				return u
			}
			return s
		}
	}
	q := make(url.Values, len(single)+len(multi))
	for k, vs := range multi {
		for _, v := range vs {
			q.Add(dec(k), dec(v))
		}
	}
	for k, v := range single {
		if _, ok := multi[k]; !ok {
			q.Add(dec(k), dec(v))
		}
	}
	return q
}
