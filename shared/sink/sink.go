// Package sink defines where accepted batches go: one small interface that
// every storage or queue provider implements, chosen at start-up by a URL
// (file:///var/data, s3://bucket/prefix, sqs://queue, kafka://broker/topic).
//
// The contract is the project's promise to its clients: Put returns nil only
// once the batch is durably stored, so that the front door may answer 2xx.
package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Batch is one accepted request, ready to store: every entry already
// validated and encoded as one NDJSON line.
//
// A Batch and its NDJSON buffer belong to the caller and are reused once Put
// returns: a sink must not keep a reference to them.
type Batch struct {
	Project    string
	Logstore   string
	RequestID  string
	ReceivedAt time.Time
	// Entries is the number of lines in NDJSON.
	Entries int
	// NDJSON holds one flat JSON object per entry, each ending in '\n'.
	NDJSON []byte
}

// Lines yields each NDJSON line of the batch, without its trailing newline.
func (b *Batch) Lines() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		rest := b.NDJSON
		for len(rest) > 0 {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				i = len(rest)
			}
			if !yield(rest[:i]) {
				return
			}
			rest = rest[min(i+1, len(rest)):]
		}
	}
}

// Sink stores batches.
type Sink interface {
	// Put stores the batch durably and returns nil only when it is stored.
	// It gives up when ctx is done. An error that wraps ErrUnavailable says
	// the same batch may be stored if tried again later.
	Put(ctx context.Context, b *Batch) error
	// Close releases the sink's connections and files.
	Close() error
}

// LineLimiter is a Sink that cannot carry a line longer than MaxLineBytes
// (a queue's message or record size). The processor refuses a request with
// such a line (400 PostBodyTooLarge) before anything is stored, rather than
// let the sink fail after part of the batch went out.
type LineLimiter interface {
	MaxLineBytes() int
}

// MaxLineBytes is the longest line s can carry, or 0 for no limit.
func MaxLineBytes(s Sink) int {
	if l, ok := s.(LineLimiter); ok {
		return l.MaxLineBytes()
	}
	return 0
}

// ErrUnavailable marks an error after which the same Put may succeed later:
// the storage is down, throttling, full or slow. Front doors answer it with
// 503 ServerBusy; any other error is 500 InternalServerError.
var ErrUnavailable = errors.New("sink unavailable")

// Unavailable wraps err so that errors.Is(err, ErrUnavailable) holds.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// IsRetryable says whether a failed Put may succeed when tried again: the sink
// said so, or it ran out of time.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// Opener builds a sink from its URL. It is called once per function instance.
type Opener func(ctx context.Context, u *url.URL) (Sink, error)

// Drivers maps URL schemes to the openers of their sinks. Each binary's main
// passes the set it links to start-up: nothing is registered behind its
// back, and any combination of drivers links.
type Drivers map[string]Opener

// Open builds the sink that rawURL names. Its errors name the URL as Redact
// gives it, never with a password.
func (d Drivers) Open(ctx context.Context, rawURL string) (Sink, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error repeats its input: give the redacted URL's
		// error instead, or blame the user info when only it was at fault.
		safe := Redact(rawURL)
		err = errors.New("invalid user or password")
		if _, perr := url.Parse(safe); perr != nil {
			err = errors.Unwrap(perr)
		}
		return nil, fmt.Errorf("sink URL %q: %w", safe, err)
	}
	safe := u.Redacted()
	open, ok := d[u.Scheme]
	if !ok {
		hint := ""
		if u.Scheme == "" && !strings.HasPrefix(rawURL, "//") {
			hint = "; for a directory, write file://" + safe
		}
		return nil, fmt.Errorf("sink URL %q: unknown scheme %q (known: %s)%s", safe, u.Scheme, strings.Join(d.Schemes(), ", "), hint)
	}
	s, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("sink URL %q: %w", safe, err)
	}
	return s, nil
}

// Schemes lists the schemes of d, sorted.
func (d Drivers) Schemes() []string { return slices.Sorted(maps.Keys(d)) }

// Deadline is when a store that may take timeout must end: timeout from
// now, or margin before ctx's deadline if that comes first, which leaves the
// caller margin to answer after a store that failed at its deadline.
func Deadline(ctx context.Context, timeout, margin time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Add(-margin).Before(deadline) {
		deadline = d.Add(-margin)
	}
	return deadline
}

// Redact returns rawURL with its password replaced by "xxxxx", as
// url.URL.Redacted does. When rawURL does not parse, everything from the
// first ':' after "scheme://" to the last '@' is replaced: that covers the
// password however it is malformed, at worst hiding more than it.
func Redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	at := strings.LastIndexByte(rest, '@')
	colon := strings.IndexByte(rest, ':')
	if !ok || at < 0 || colon < 0 || colon > at {
		return rawURL
	}
	return scheme + "://" + rest[:colon] + ":xxxxx" + rest[at:]
}

// CheckParams refuses a sink URL with a query parameter that is not one of
// known, so that a misspelt parameter is not silently ignored. The error
// names the parameter and lists the known ones.
func CheckParams(u *url.URL, known ...string) error {
	q := u.Query()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(known, name) {
			return fmt.Errorf("unknown %s URL parameter %q (known: %s)", u.Scheme, name, strings.Join(known, ", "))
		}
	}
	return nil
}
