// Package objectlayout decides how a batch looks in object storage: its key,
// Hive-style partitioned so that Athena, MaxCompute or Spark read the objects
// as one table, and its body, NDJSON compressed with gzip, zstd or nothing.
// The file, S3 and OSS sinks share it, so their objects are interchangeable.
package objectlayout

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/webtrack/webtrack/shared/sink"
)

// Compression is how an object's NDJSON body is compressed.
type Compression string

// The supported compressions. Gzip is the default: every query engine reads it.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none"
)

// Layout is a key prefix and a compression.
type Layout struct {
	// Prefix is prepended to every key; empty, or ending in '/'.
	Prefix      string
	Compression Compression
}

// Parse builds a Layout from a key prefix and the sink URL's query, which may
// set compression=gzip|zstd|none.
func Parse(prefix string, query url.Values) (Layout, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	c := Compression(strings.ToLower(query.Get("compression")))
	switch c {
	case "":
		c = Gzip
	case Gzip, Zstd, None:
	default:
		return Layout{}, fmt.Errorf("compression %q: want gzip, zstd or none", query.Get("compression"))
	}
	return Layout{Prefix: prefix, Compression: c}, nil
}

// Extension is the file name ending of the layout's objects.
func (l Layout) Extension() string {
	switch l.Compression {
	case Zstd:
		return ".ndjson.zst"
	case None:
		return ".ndjson"
	default:
		return ".ndjson.gz"
	}
}

// ContentType is the media type of the layout's objects.
func (l Layout) ContentType() string {
	switch l.Compression {
	case Zstd:
		return "application/zstd"
	case None:
		return "application/x-ndjson"
	default:
		return "application/gzip"
	}
}

// Key is the object key of a batch:
// {prefix}project={p}/logstore={l}/dt=YYYY-MM-DD/hour=HH/{unix-nanos}-{requestid}{ext},
// with the date and hour of its receive time in UTC.
func (l Layout) Key(b *sink.Batch) string {
	t := b.ReceivedAt.UTC()
	k := make([]byte, 0, len(l.Prefix)+len(b.Project)+len(b.Logstore)+len(b.RequestID)+80)
	k = append(k, l.Prefix...)
	k = append(k, "project="...)
	k = append(k, b.Project...)
	k = append(k, "/logstore="...)
	k = append(k, b.Logstore...)
	k = t.AppendFormat(append(k, "/dt="...), "2006-01-02")
	k = t.AppendFormat(append(k, "/hour="...), "15")
	k = strconv.AppendInt(append(k, '/'), t.UnixNano(), 10)
	k = append(k, '-')
	k = append(k, b.RequestID...)
	k = append(k, l.Extension()...)
	return string(k)
}

// ContentID is a request id made from what a batch holds: the SHA-256 of
// ids (in any order; ContentID sorts them in place, each then ended by a
// newline), as 32 lowercase hex digits. A writer that may be asked to store
// the same content again, as the queue compactor is when a queue delivers
// messages twice, gives its batch this RequestID and a ReceivedAt that also
// follows from the content: Key then names the same object each time, and
// the second write replaces the first instead of adding a copy.
func ContentID(ids []string) string {
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Object is one encoded batch. Release returns its buffer for reuse.
type Object struct {
	Key         string
	ContentType string
	Body        []byte
	buf         *bytes.Buffer
}

// Release returns the object's buffer to the pool; Body is invalid afterwards.
func (o *Object) Release() {
	if o.buf != nil && o.buf.Cap() <= maxPooledBuffer {
		buffers.Put(o.buf)
	}
	o.buf, o.Body = nil, nil
}

// ContentMD5 is the base64 MD5 digest of the body, the Content-MD5 header
// with which S3 and OSS reject a body damaged on the way.
func (o *Object) ContentMD5() string {
	sum := md5.Sum(o.Body)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// maxPooledBuffer keeps one outsized batch from pinning memory in the pool.
const maxPooledBuffer = 16 << 20

var (
	buffers     = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		return w
	}}
	// zstdEncoder is shared: EncodeAll runs as many calls at once as the
	// encoder's concurrency, one per P, so requests do not wait for each other.
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
		if err != nil {
			panic(err) // only for invalid options
		}
		return e
	})
)

// Encode compresses the batch's NDJSON into an object under its key.
func (l Layout) Encode(b *sink.Batch) (*Object, error) {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	switch l.Compression {
	case Zstd:
		buf.Grow(len(b.NDJSON)/4 + 64)
		buf.Write(zstdEncoder().EncodeAll(b.NDJSON, buf.AvailableBuffer()))
	case None:
		buf.Write(b.NDJSON)
	default:
		buf.Grow(len(b.NDJSON)/4 + 64)
		w := gzipWriters.Get().(*gzip.Writer)
		w.Reset(buf)
		_, err := w.Write(b.NDJSON)
		if err == nil {
			err = w.Close()
		}
		gzipWriters.Put(w)
		if err != nil {
			buffers.Put(buf)
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	return &Object{Key: l.Key(b), ContentType: l.ContentType(), Body: buf.Bytes(), buf: buf}, nil
}

// Upload is an object store's Put: unless ctx is already done, it encodes
// the batch and hands the object to put, which sends it in one request.
// Errors before put are prefixed with op ("s3 put"); put's are returned as
// they are. The object's buffer is released only when put succeeds: after a
// failed request the HTTP transport may still be reading the body.
func (l Layout) Upload(ctx context.Context, op string, b *sink.Batch, put func(*Object) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s of request %s not tried: %w", op, b.RequestID, err)
	}
	obj, err := l.Encode(b)
	if err != nil {
		return fmt.Errorf("%s of request %s: %w", op, b.RequestID, err)
	}
	if err := put(obj); err != nil {
		return err
	}
	obj.Release()
	return nil
}

// Decode returns the NDJSON inside an object body, judging its compression
// by the key's ending. It is for readers and tests, not the hot path.
func Decode(key string, body []byte) ([]byte, error) {
	switch path.Ext(key) {
	case ".gz":
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	case ".zst":
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(body, nil)
	case ".ndjson":
		return body, nil
	}
	return nil, fmt.Errorf("object %q: unknown extension", key)
}

// RequestID returns the request id in an object key made by Key, or "".
func RequestID(key string) string {
	name := path.Base(key)
	name = name[:strings.Index(name+".", ".")]
	_, id, ok := strings.Cut(name, "-")
	if !ok {
		return ""
	}
	return id
}
