package decompress_test

import (
	"bytes"
	"compress/zlib"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"

	"github.com/webtrack/webtrack/shared/decompress"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

const limit = 1 << 20

func TestLZ4BombIsRefusedWithLittleMemory(t *testing.T) {
	raw := bytes.Repeat([]byte{'a'}, 16<<20)
	block := processortest.LZ4(raw) // about 64 KB that claims 16 MiB
	var d decompress.Decoder
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := d.Decode(block, "lz4", strconv.Itoa(len(raw)), limit); err == nil || err.Code.Name != "PostBodyTooLarge" {
			t.Fatalf("got %v", err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations to refuse a bomb", allocs)
	}
	// Lying about the size does not help: the block still may not inflate past the limit.
	if _, err := d.Decode(block, "lz4", "100", limit); err == nil || err.Code.Name == "" {
		t.Fatalf("a block larger than declared was accepted")
	}
}

func TestDeflateBombStopsAtTheLimit(t *testing.T) {
	bomb := processortest.Deflate(bytes.Repeat([]byte{0}, 256<<20)) // 256 MiB from about 256 KB
	var d decompress.Decoder
	var before, after testingMem
	before.read()
	_, err := d.Decode(bomb, "deflate", strconv.Itoa(limit+1), limit)
	if err == nil || err.Code.Name != "PostBodyTooLarge" {
		t.Fatalf("declared past the limit: got %v", err)
	}
	_, err = d.Decode(bomb, "deflate", "1000", limit)
	after.read()
	if err == nil || err.Code.Name != "PostBodyTooLarge" {
		t.Fatalf("declared 1000 bytes: got %v", err)
	}
	if grew := after.total - before.total; grew > 8*limit {
		t.Errorf("allocated %d bytes to refuse a bomb with a %d byte limit", grew, limit)
	}
}

// TestDecodingStopsAtTheDeclaredSize: a body that under-states its size
// costs what it declared, not the limit, so memory counted from the
// declared size before decoding holds.
func TestDecodingStopsAtTheDeclaredSize(t *testing.T) {
	raw := bytes.Repeat([]byte(`{"k":"v"},`), 100<<10) // 1000 KB
	for kind, body := range map[string][]byte{"deflate": processortest.Deflate(raw), "lz4": processortest.LZ4(raw)} {
		var d decompress.Decoder
		var before, after testingMem
		before.read()
		_, err := d.Decode(body, kind, "1", len(raw))
		after.read()
		if err == nil || err.Code.Name != "InvalidBodyRawSize" && err.Code.Name != "PostBodyUncompressError" {
			t.Errorf("%s declaring 1 byte: got %v", kind, err)
		}
		if grew := after.total - before.total; grew > 64<<10 {
			t.Errorf("%s declaring 1 byte: allocated %d bytes to refuse a %d byte body", kind, grew, len(raw))
		}
	}
}

func FuzzDecode(f *testing.F) {
	raw := []byte(processortest.Batch)
	f.Add(processortest.LZ4(raw), "lz4", strconv.Itoa(len(raw)))
	f.Add(processortest.Deflate(raw), "deflate", strconv.Itoa(len(raw)))
	f.Add(raw, "", strconv.Itoa(len(raw)))
	f.Add([]byte{0xf0, 0xff, 0x00}, "lz4", "999999")
	f.Add([]byte("x\x9c\x03\x00\x00\x00\x00\x01"), "deflate", "0")
	f.Fuzz(func(t *testing.T, body []byte, kind, rawSize string) {
		var d decompress.Decoder
		out, err := d.Decode(body, kind, rawSize, 64<<10)
		if err != nil {
			return
		}
		declared, perr := strconv.Atoi(strings.TrimSpace(rawSize))
		compressed := strings.TrimSpace(kind) != ""
		if len(out) > 64<<10 || compressed && (perr != nil || declared != len(out)) || !compressed && !bytes.Equal(out, body) {
			t.Fatalf("returned %d bytes for declared %q", len(out), rawSize)
		}
		switch kind {
		case "deflate": // the standard library must agree
			r, zerr := zlib.NewReader(bytes.NewReader(body))
			if zerr != nil {
				t.Fatalf("accepted what compress/zlib rejects: %v", zerr)
			}
			want, zerr := io.ReadAll(r)
			if zerr != nil || !bytes.Equal(want, out) {
				t.Fatalf("differs from compress/zlib (%v)", zerr)
			}
		case "lz4":
			again := make([]byte, len(out))
			if n, lerr := lz4.UncompressBlock(body, again); lerr != nil || n != len(out) || !bytes.Equal(again, out) {
				t.Fatalf("not reproducible: %v", lerr)
			}
		}
	})
}

// TestUncompressedBodyIsMeasured: the declared size of an uncompressed body
// is ignored (the browser SDK's STS mode counts UTF-16 code units), and the
// body itself is held to the limit.
func TestUncompressedBodyIsMeasured(t *testing.T) {
	var d decompress.Decoder
	body := []byte(`{"__logs__":[{"msg":"日本語 🚀"}]}`)
	for _, declared := range []string{"", "31", "0", "12ab", strconv.Itoa(2 * limit)} {
		if out, err := d.Decode(body, "", declared, limit); err != nil || !bytes.Equal(out, body) {
			t.Errorf("x-log-bodyrawsize %q: %q, %v", declared, out, err)
		}
	}
	if _, err := d.Decode(bytes.Repeat([]byte{' '}, limit+1), "", "10", limit); err == nil || err.Code.Name != "PostBodyTooLarge" {
		t.Errorf("a body over the limit declared small: %v", err)
	}
	for declared, code := range map[string]string{"": "MissingBodyRawSize", "12ab": "InvalidBodyRawSize", "-1": "InvalidBodyRawSize", strconv.Itoa(limit + 1): "PostBodyTooLarge"} {
		if _, err := d.Decode(processortest.Deflate(body), "deflate", declared, limit); err == nil || err.Code.Name != code {
			t.Errorf("deflate with x-log-bodyrawsize %q: %v, want %s", declared, err, code)
		}
	}
}

func TestEmptyBodies(t *testing.T) {
	var d decompress.Decoder
	// An LZ4 block of no bytes is a single zero token.
	if out, err := d.Decode([]byte{0}, "lz4", "0", limit); err != nil || len(out) != 0 {
		t.Errorf("empty lz4 block: %q %v", out, err)
	}
	if _, err := d.Decode([]byte("0000"), "lz4", "0", limit); err == nil {
		t.Error("garbage declared as an empty lz4 body was accepted")
	}
	if out, err := d.Decode(processortest.Deflate(nil), "deflate", "0", limit); err != nil || len(out) != 0 {
		t.Errorf("empty deflate stream: %q %v", out, err)
	}
}
