// Package apierror names every reason the web-tracking API rejects a request:
// each is a protocol error code with its HTTP status, as the Log Service
// answers it, so that clients and their retry logic see what they expect.
package apierror

import (
	"fmt"
	"net/http"
)

// Code is a protocol error code and the HTTP status it is answered with.
type Code struct {
	Name   string
	Status int
}

// The error codes of the PutWebTracking page and of the service's common
// errors that apply to this path, signed requests' among them.
var (
	PostBodyInvalid         = Code{"PostBodyInvalid", http.StatusBadRequest}
	PostBodyTimeOutOfRange  = Code{"PostBodyInvalid", 499}
	InvalidTimestamp        = Code{"InvalidTimestamp", http.StatusBadRequest}
	InvalidEncoding         = Code{"InvalidEncoding", http.StatusBadRequest}
	InvalidKey              = Code{"InvalidKey", http.StatusBadRequest}
	PostBodyTooLarge        = Code{"PostBodyTooLarge", http.StatusBadRequest}
	PostBodyUncompressError = Code{"PostBodyUncompressError", http.StatusBadRequest}
	MissingBodyRawSize      = Code{"MissingBodyRawSize", http.StatusBadRequest}
	InvalidBodyRawSize      = Code{"InvalidBodyRawSize", http.StatusBadRequest}
	InvalidCompressType     = Code{"InvalidCompressType", http.StatusBadRequest}
	MissingAPIVersion       = Code{"MissingAPIVersion", http.StatusBadRequest}
	InvalidAPIVersion       = Code{"InvalidAPIVersion", http.StatusBadRequest}
	WebTrackingDisabled     = Code{"Unauthorized", http.StatusUnauthorized}
	Unauthorized            = Code{"Unauthorized", http.StatusUnauthorized}
	InvalidAccessKeyID      = Code{"InvalidAccessKeyId", http.StatusUnauthorized}
	SignatureNotMatch       = Code{"SignatureNotMatch", http.StatusUnauthorized}
	RequestTimeTooSkewed    = Code{"RequestTimeTooSkewed", http.StatusBadRequest}
	OriginNotAllowed        = Code{"OriginNotAllowed", http.StatusForbidden}
	LogStoreNotExist        = Code{"LogStoreNotExist", http.StatusNotFound}
	ProjectNotExist         = Code{"ProjectNotExist", http.StatusNotFound}
	RequestPathNotFound     = Code{"RequestPathNotFound", http.StatusNotFound}
	MethodNotAllowed        = Code{"MethodNotAllowed", http.StatusMethodNotAllowed}
	RequestTimeout          = Code{"RequestTimeout", http.StatusRequestTimeout}
	RequestURITooLong       = Code{"RequestURITooLong", http.StatusRequestURITooLong}
	InternalServerError     = Code{"InternalServerError", http.StatusInternalServerError}
	ServerBusy              = Code{"ServerBusy", http.StatusServiceUnavailable}
)

// Error is a rejection of one request: a code and a message that says what
// was wrong and where.
type Error struct {
	Code    Code
	Message string
}

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Code.Name + ": " + e.Message }
