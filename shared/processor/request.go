package processor

import (
	"io"
	"net/http"
	"net/url"
)

// Request is one HTTP request as a front door received it, in provider-neutral
// form. Adapters fill it from their event; the processor never learns which
// provider called.
type Request struct {
	Method string
	// Path is the URL path, e.g. /logstores/web/track.
	Path string
	// Host is the Host header: {project}.{endpoint}, a custom domain or an address.
	Host   string
	Query  url.Values
	Header http.Header
	// Body is the request body exactly as sent (already base64-decoded).
	Body []byte
	// BodyReader, when set, is read instead of Body, once the request has
	// been admitted within the in-flight memory budget: a front door that
	// streams the body (the HTTP server) sets it, with ContentLength.
	BodyReader io.Reader
	// ContentLength is BodyReader's length, or -1 when unknown.
	ContentLength int64
	// ClientIP is the address of the client that sent the request.
	ClientIP string
	// ID is the provider's id for this invocation, if any. It becomes the
	// request id when it is made only of letters, digits and '-'.
	ID string
}

// Response is what the front door sends back.
type Response struct {
	Status int
	Header http.Header
	// Body is the response body: empty, an error JSON or a GIF.
	Body []byte
}
