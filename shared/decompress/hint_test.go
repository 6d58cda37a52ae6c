package decompress_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pierrec/lz4/v4"

	"github.com/webtrack/webtrack/shared/apierror"
	"github.com/webtrack/webtrack/shared/decompress"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// TestLZ4FrameIsNamed sends what the lz4 command writes, a frame, where a
// raw block is expected: the error must say so.
func TestLZ4FrameIsNamed(t *testing.T) {
	raw := []byte(processortest.Batch)
	var frame bytes.Buffer
	w := lz4.NewWriter(&frame)
	w.Write(raw)
	w.Close()
	var d decompress.Decoder
	_, err := d.Decode(frame.Bytes(), "lz4", strconv.Itoa(len(raw)), limit)
	if err == nil || err.Code != apierror.PostBodyUncompressError || !strings.Contains(err.Message, "LZ4 frame (magic 04 22 4D 18") ||
		!strings.Contains(err.Message, "raw LZ4 block") {
		t.Errorf("an LZ4 frame: %v", err)
	}
	if _, err := d.Decode([]byte("0000000000"), "lz4", "10", limit); err == nil || strings.Contains(err.Message, "frame") {
		t.Errorf("garbage that is no frame: %v", err)
	}
}

// TestTextBodyHint mangles a compressed body as a gateway does with a text
// body (invalid UTF-8 becomes U+FFFD) and checks that the error names the
// Content-Type as the likely cause, and only for text and JSON types.
func TestTextBodyHint(t *testing.T) {
	raw := []byte(processortest.Batch)
	mangled := []byte(strings.ToValidUTF8(string(processortest.Deflate(raw)), string(utf8.RuneError)))
	var d decompress.Decoder
	_, err := d.Decode(mangled, "deflate", strconv.Itoa(len(raw)), limit)
	if err == nil {
		t.Fatal("a mangled deflate body was accepted")
	}
	for contentType, hinted := range map[string]bool{
		"application/json":                true,
		"application/json; charset=utf-8": true,
		"text/plain;charset=UTF-8":        true,
		"application/vnd.api+json":        true,
		"":                                false,
		"application/octet-stream":        false,
	} {
		got := decompress.TextBodyHint(err, "deflate", contentType)
		if got.Code != err.Code || !strings.HasPrefix(got.Message, err.Message) ||
			hinted != strings.Contains(got.Message, "send compressed bodies with no Content-Type or application/octet-stream") {
			t.Errorf("Content-Type %q: %v, want a hint %v", contentType, got, hinted)
		}
	}
	if _, err := d.Decode(raw, "", strconv.Itoa(len(raw)+1), limit); decompress.TextBodyHint(err, "", "application/json") != err {
		t.Errorf("an uncompressed body got the hint: %v", decompress.TextBodyHint(err, "", "application/json"))
	}
	if got := decompress.TextBodyHint(nil, "lz4", "application/json"); got != nil {
		t.Errorf("no error became %v", got)
	}
}
