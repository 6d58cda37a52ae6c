// Package decompress undoes a request body's x-log-compresstype within a
// size limit: lz4 is a raw LZ4 block, deflate is zlib-wrapped deflate, and
// x-log-bodyrawsize must be the exact decompressed size. The declared size
// is only a claim, but one that bounds the work: a declared size past the
// limit is refused before anything is allocated, and nothing is allocated or
// inflated past the declared size, so the caller can count memory for it
// before decoding. An uncompressed body is measured, and its declared size
// ignored.
package decompress

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zlib"
	"github.com/pierrec/lz4/v4"

	"github.com/webtrack/webtrack/shared/apierror"
)

// Decoder decompresses bodies, reusing its buffers between calls. It is not
// safe for concurrent use.
type Decoder struct {
	buf  bytes.Buffer
	zlib io.ReadCloser
}

// Decode returns the raw body: body itself when it is not compressed (and
// rawSize is ignored), else its decompressed form, valid until the next
// call on d.
func (d *Decoder) Decode(body []byte, compressType, rawSize string, limit int) ([]byte, *apierror.Error) {
	kind := strings.ToLower(strings.TrimSpace(compressType))
	if kind != "" && kind != "lz4" && kind != "deflate" {
		return nil, apierror.New(apierror.InvalidCompressType, "x-log-compresstype %q is not supported; use lz4 or deflate", compressType)
	}
	if kind == "" {
		// Measured, not trusted: the STS mode of the browser SDK declares
		// the body's length in UTF-16 code units, not bytes.
		if len(body) > limit {
			return nil, tooLarge(len(body), limit)
		}
		return body, nil
	}
	if rawSize == "" {
		return nil, missingSize(kind)
	}
	size, err := strconv.Atoi(strings.TrimSpace(rawSize))
	if err != nil || size < 0 {
		return nil, apierror.New(apierror.InvalidBodyRawSize, "x-log-bodyrawsize %q is not a byte count", rawSize)
	}
	if size > limit {
		return nil, tooLarge(size, limit)
	}
	if kind == "lz4" {
		return d.lz4(body, size, limit)
	}
	return d.deflate(body, size, limit)
}

func (d *Decoder) lz4(body []byte, size, limit int) ([]byte, *apierror.Error) {
	d.buf.Reset()
	d.buf.Grow(size + 1) // never a nil slice: the decoder dereferences even an empty one
	dst := d.buf.AvailableBuffer()[:size]
	n, err := lz4.UncompressBlock(body, dst)
	if err == nil && n == size {
		return dst, nil
	}
	if err == nil {
		return nil, mismatch(n, size)
	}
	// The block may be valid but larger than declared: measure it without
	// inflating it, so the client learns which of its claims was wrong.
	if n, ok := blockSize(body, limit); ok {
		if n > limit {
			return nil, apierror.New(apierror.PostBodyTooLarge, "the body decompresses to more than %d bytes", limit)
		}
		return nil, mismatch(n, size)
	}
	if bytes.HasPrefix(body, frameMagic) {
		return nil, apierror.New(apierror.PostBodyUncompressError, "the body is an LZ4 frame (magic 04 22 4D 18, as the lz4 command writes), "+
			"but x-log-compresstype lz4 is a raw LZ4 block: compress with the block API (LZ4_compress_default, lz4.block.compress(data, store_size=False), encodeBlock in npm's lz4)")
	}
	return nil, apierror.New(apierror.PostBodyUncompressError, "the body is not a valid LZ4 block that decompresses to %d bytes, as x-log-bodyrawsize says: %v", size, err)
}

// blockSize is the decompressed size of a raw LZ4 block, found by reading
// its sequences without writing them, or false if it is not a valid block.
// It stops counting past limit.
func blockSize(block []byte, limit int) (int, bool) {
	size, i := 0, 0
	length := func(n int) (int, bool) { // a 4-bit length and its extension bytes
		if n < 15 {
			return n, true
		}
		for i < len(block) {
			b := block[i]
			i++
			n += int(b)
			if b != 255 {
				return n, true
			}
		}
		return 0, false
	}
	for i < len(block) && size <= limit {
		token := block[i]
		i++
		literals, ok := length(int(token >> 4))
		if !ok || literals > len(block)-i {
			return 0, false
		}
		i += literals
		size += literals
		if i == len(block) {
			return size, true // the last sequence has only literals
		}
		if len(block)-i < 2 {
			return 0, false
		}
		offset := int(block[i]) | int(block[i+1])<<8
		i += 2
		match, ok := length(int(token & 15))
		if !ok || offset == 0 || offset > size {
			return 0, false
		}
		size += match + 4
	}
	return size, size > limit
}

// frameMagic starts an LZ4 frame, which no valid block starts with.
var frameMagic = []byte{0x04, 0x22, 0x4d, 0x18}

func (d *Decoder) deflate(body []byte, size, limit int) ([]byte, *apierror.Error) {
	var err error
	if d.zlib == nil {
		d.zlib, err = zlib.NewReader(bytes.NewReader(body))
	} else {
		err = d.zlib.(zlib.Resetter).Reset(bytes.NewReader(body), nil)
	}
	if err != nil {
		return nil, uncompressError(err)
	}
	d.buf.Reset()
	d.buf.Grow(size + bytes.MinRead)
	// Reading one byte past the declared size tells a body that inflates
	// further, without inflating it; reaching the end of the stream
	// verifies its checksum.
	if _, err := d.buf.ReadFrom(io.LimitReader(d.zlib, int64(size)+1)); err != nil {
		return nil, uncompressError(err)
	}
	raw := d.buf.Bytes()
	if len(raw) > size {
		// Measure the rest within the limit, into no buffer, so the client
		// learns which of its claims was wrong.
		rest, err := io.Copy(io.Discard, io.LimitReader(d.zlib, int64(limit-len(raw))+1))
		switch n := len(raw) + int(rest); {
		case n > limit:
			return nil, apierror.New(apierror.PostBodyTooLarge, "the body inflates to more than %d bytes", limit)
		case err != nil:
			return nil, uncompressError(err)
		default:
			return nil, mismatch(n, size)
		}
	}
	if len(raw) != size {
		return nil, mismatch(len(raw), size)
	}
	return raw, nil
}

// TextBodyHint adds the likely cause to err, the error of decoding a body
// sent with x-log-compresstype, when the body came with a text or JSON
// Content-Type: API gateways, function URLs and Function Compute hand such a
// body to the function as UTF-8 text, which mangles compressed bytes. Any
// other error is returned as it is.
func TextBodyHint(err *apierror.Error, compressType, contentType string) *apierror.Error {
	if err == nil || compressType == "" || err.Code != apierror.PostBodyUncompressError && err.Code != apierror.InvalidBodyRawSize {
		return err
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if !strings.HasPrefix(mt, "text/") && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return err
	}
	return &apierror.Error{Code: err.Code, Message: err.Message + fmt.Sprintf("; the body came with Content-Type %q, and gateways "+
		"(HTTP APIs, function URLs, Function Compute) pass text and JSON bodies on as UTF-8 text, which breaks compressed bytes: "+
		"send compressed bodies with no Content-Type or application/octet-stream", contentType)}
}

func uncompressError(err error) *apierror.Error {
	return apierror.New(apierror.PostBodyUncompressError, "the body is not valid zlib-wrapped deflate: %v", err)
}

func tooLarge(size, limit int) *apierror.Error {
	return apierror.New(apierror.PostBodyTooLarge, "the body is %d bytes raw; at most %d are allowed", size, limit)
}

func mismatch(actual, declared int) *apierror.Error {
	return apierror.New(apierror.InvalidBodyRawSize, "the body is %d bytes raw but x-log-bodyrawsize says %d", actual, declared)
}

func missingSize(kind string) *apierror.Error {
	return apierror.New(apierror.MissingBodyRawSize, "a %s body needs x-log-bodyrawsize, its size before compression", kind)
}
