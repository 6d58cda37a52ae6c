package processor

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/webtrack/webtrack/shared/apierror"
)

// firstReadBytes is how much of a streamed body is read before the request
// reserves any memory: a client that sends headers and then nothing holds
// no part of the budget while it waits.
const firstReadBytes = 512

// minBodyBuffer is the first buffer a streamed body is read into; it
// doubles, each step reserved before it is allocated, as bytes arrive.
const minBodyBuffer = 16 << 10

// readBody returns the body as sent: Body, or what BodyReader gives, up to
// one byte past the limit, read into a pooled buffer that it returns too
// (or nil), for the caller to put back. A streamed body holds memory only
// for the bytes that have arrived: its buffer grows as they do, each step
// reserved in held first, and it is taken from the pool only once its
// first step is reserved. A read that fails (the client hung up, or was
// too slow) is never processed.
func (p *Processor) readBody(ctx context.Context, held *reservation, req *Request) (*bodyBuffer, []byte, *apierror.Error) {
	if req.BodyReader == nil {
		if err := held.grow(ctx, int64(len(req.Body))); err != nil {
			return nil, nil, err
		}
		if len(req.Body) > p.maxRequestBytes {
			return nil, req.Body, apierror.New(apierror.PostBodyTooLarge, "the body is more than %d bytes", p.maxRequestBytes)
		}
		return nil, req.Body, nil
	}
	if req.ContentLength > int64(p.maxRequestBytes) {
		return nil, nil, apierror.New(apierror.PostBodyTooLarge, "the body is %d bytes; at most %d are allowed", req.ContentLength, p.maxRequestBytes)
	}
	// The most the buffer ever needs: the declared length (the reader ends
	// there), or one byte past the limit, to tell a body that is too large.
	most := p.maxRequestBytes + 1
	if req.ContentLength >= 0 {
		most = int(req.ContentLength) + 1
	}
	var first [firstReadBytes]byte
	n, err := readSome(req.BodyReader, first[:min(firstReadBytes, most)])
	if err != nil && err != io.EOF {
		return nil, nil, readError(err)
	}
	size := min(max(minBodyBuffer, n), most) // the buffer's size, reserved
	if err := held.grow(ctx, int64(size)); err != nil {
		return nil, nil, err
	}
	w := p.bodies.Get().(*bodyBuffer)
	buf := w.b[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = append(buf, first[:n]...)
	for err == nil {
		if len(buf) == size {
			if size == most {
				break // one byte past the declared length or the limit
			}
			grown := min(2*size, most)
			// Reserve the larger buffer before it exists; while the bytes
			// are copied both are held.
			if err := held.grow(ctx, int64(grown)); err != nil {
				w.b = buf
				return w, nil, err
			}
			if cap(buf) < grown {
				buf = append(make([]byte, 0, grown), buf...)
			}
			held.shrink(int64(size))
			size = grown
		}
		var m int
		m, err = req.BodyReader.Read(buf[len(buf):size])
		buf = buf[:len(buf)+m]
	}
	w.b = buf
	if err != nil && err != io.EOF {
		return w, nil, readError(err)
	}
	if len(buf) > p.maxRequestBytes {
		return w, buf, apierror.New(apierror.PostBodyTooLarge, "the body is more than %d bytes", p.maxRequestBytes)
	}
	if req.ContentLength >= 0 && len(buf) != int(req.ContentLength) {
		return w, buf, apierror.New(apierror.PostBodyInvalid, "the body is not the %d bytes that Content-Length says", req.ContentLength)
	}
	return w, buf, nil
}

// bodyBuffer is a pooled buffer for a streamed body.
type bodyBuffer struct{ b []byte }

// putBody pools buf, unless it is so large that it would pin an outsized
// request's memory in the pool.
func (p *Processor) putBody(buf *bodyBuffer) {
	if cap(buf.b) > maxPooledBuffer {
		buf.b = nil
	}
	p.bodies.Put(buf)
}

// readSome reads into b until at least one byte or an error arrives.
func readSome(r io.Reader, b []byte) (int, error) {
	for {
		if n, err := r.Read(b); n > 0 || err != nil {
			return n, err
		}
	}
}

func readError(err error) *apierror.Error {
	if isTimeout(err) {
		return apierror.New(apierror.RequestTimeout, "the body was not received in time: %v", err)
	}
	return apierror.New(apierror.PostBodyInvalid, "the body could not be read whole: %v", err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

// decodeCost is what decoding a body of n bytes holds beside it: its
// decompressed form, of the declared size (the decoder refuses a body that
// inflates past it, and a declared size past the limit before it
// allocates), the encoder's buffers for the raw body, and the small
// allocations of a request.
func decodeCost(req *Request, n, maxBodyBytes int) int64 {
	if req.Header.Get("X-Log-Compresstype") == "" {
		return encoderCost(n) + overhead
	}
	raw, err := strconv.Atoi(strings.TrimSpace(req.Header.Get("X-Log-Bodyrawsize")))
	if err != nil || raw < 0 || raw > maxBodyBytes {
		return overhead // refused before anything else is allocated
	}
	return int64(raw) + encoderCost(raw) + overhead
}
