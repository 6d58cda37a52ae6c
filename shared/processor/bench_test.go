package processor_test

import (
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// encodingSink encodes each batch into its stored form, as the object sinks
// do, and drops it: the benchmarks measure the processor, not a disk.
type encodingSink struct{ layout objectlayout.Layout }

func (s encodingSink) Put(_ context.Context, b *sink.Batch) error {
	obj, err := s.layout.Encode(b)
	if err != nil {
		return err
	}
	obj.Release()
	return nil
}

func (encodingSink) Close() error { return nil }

// webBatch is a batch of n browser-like entries, each about entryBytes.
func webBatch(n, entryBytes int) []byte {
	var b strings.Builder
	b.WriteString(`{"__topic__":"web","__source__":"browser","__tags__":{"sdk":"web-track-browser","version":"0.3.9"},"__logs__":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		start := b.Len()
		fmt.Fprintf(&b, `{"event":"click","page":"/products/%d?ref=home","uid":"u-%08d","session":"s-%012d","ts":"%d","x":%d,"y":%d,"title":"商品详情 – item %d","ua":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36","extra":{"ab":"b","n":[1,2,3]},"note":"`,
			i%500, i*7919%100000000, i*104729, 1795642200000+int64(i), i%1920, i%1080, i)
		pad := entryBytes - (b.Len() - start) - 2
		for j := 0; j < pad; j++ {
			b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789 "[j%37])
		}
		b.WriteString(`"}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

type benchCase struct {
	name string
	raw  []byte // the JSON batch, uncompressed
	req  processor.Request
}

func benchCases() []benchCase {
	big := webBatch(4096, 766) // 3 MiB raw
	small := webBatch(10, 400)
	lz := processortest.LZ4(big)
	hdr := func(kind string) []string {
		h := []string{"x-log-apiversion", "0.6.0", "x-log-bodyrawsize", strconv.Itoa(len(big))}
		if kind != "" {
			h = append(h, "x-log-compresstype", kind)
		}
		return h
	}
	browser := processortest.Post("web", small, "Content-Type", "text/plain;charset=UTF-8")
	browser.Query = url.Values{"APIVersion": {"0.6.0"}}
	beacon := processortest.Get("web", "track.gif", "APIVersion=0.6.0&event=view&page=%2Fhome&uid=u-123&title=%E5%95%86%E5%93%81")
	return []benchCase{
		{"3MiB-lz4", big, processortest.Post("web", lz, hdr("lz4")...)},
		{"3MiB-deflate", big, processortest.Post("web", processortest.Deflate(big), hdr("deflate")...)},
		{"3MiB-plain", big, processortest.Post("web", big, hdr("")...)},
		{"browser-10", small, browser},
		{"beacon-get", []byte(beacon.Query.Encode()), beacon},
	}
}

func newBenchProcessor(b *testing.B) *processor.Processor {
	cfg := processor.DefaultConfig()
	return processor.New(cfg, encodingSink{objectlayout.Layout{Compression: objectlayout.Gzip}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// BenchmarkProcessor measures a whole request: decompress, validate, encode
// the lines and compress them into the stored object.
func BenchmarkProcessor(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			p := newBenchProcessor(b)
			ctx := context.Background()
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			for b.Loop() {
				req := c.req
				if resp := p.Handle(ctx, &req); resp.Status != 200 {
					b.Fatalf("status %d: %s", resp.Status, resp.Body)
				}
			}
		})
	}
}

// BenchmarkProcessorZstd is BenchmarkProcessor's 3 MiB lz4 case stored as zstd.
func BenchmarkProcessorZstd(b *testing.B) {
	c := benchCases()[0]
	p := processor.New(processor.DefaultConfig(), encodingSink{objectlayout.Layout{Compression: objectlayout.Zstd}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.SetBytes(int64(len(c.raw)))
	b.ReportAllocs()
	for b.Loop() {
		req := c.req
		if resp := p.Handle(context.Background(), &req); resp.Status != 200 {
			b.Fatalf("status %d", resp.Status)
		}
	}
}

// BenchmarkNaive is the baseline: the obvious implementation of the same
// work with the standard library, on the same inputs.
func BenchmarkNaive(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := naive(&c.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// naive inflates with the standard library, decodes into maps, re-marshals
// each entry with its added fields and gzips with a new writer.
func naive(req *processor.Request) error {
	now := time.Now().Unix()
	var entries []map[string]any
	topic, source := "", ""
	if req.Method == "GET" {
		e := map[string]any{}
		for k, v := range req.Query {
			if k != "APIVersion" {
				e[k] = v[0]
			}
		}
		entries = append(entries, e)
	} else {
		raw := req.Body
		switch req.Header.Get("X-Log-Compresstype") {
		case "lz4":
			n, _ := strconv.Atoi(req.Header.Get("X-Log-Bodyrawsize"))
			raw = make([]byte, n)
			if _, err := lz4.UncompressBlock(req.Body, raw); err != nil {
				return err
			}
		case "deflate":
			r, err := stdzlib.NewReader(bytes.NewReader(req.Body))
			if err != nil {
				return err
			}
			if raw, err = io.ReadAll(r); err != nil {
				return err
			}
		}
		var batch struct {
			Topic  string            `json:"__topic__"`
			Source string            `json:"__source__"`
			Logs   []map[string]any  `json:"__logs__"`
			Tags   map[string]string `json:"__tags__"`
		}
		if err := json.Unmarshal(raw, &batch); err != nil {
			return err
		}
		entries, topic, source = batch.Logs, batch.Topic, batch.Source
		for _, e := range entries {
			for k, v := range batch.Tags {
				e["__tag__:"+k] = v
			}
		}
	}
	var out bytes.Buffer
	zw := stdgzip.NewWriter(&out)
	for _, e := range entries {
		for k, v := range e {
			if _, ok := v.(string); !ok {
				text, _ := json.Marshal(v)
				e[k] = string(text)
			}
		}
		e["__time__"], e["__topic__"], e["__source__"] = now, topic, source
		e["__tag__:__client_ip__"], e["__tag__:__receive_time__"] = req.ClientIP, strconv.FormatInt(now, 10)
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		zw.Write(append(line, '\n'))
	}
	return zw.Close()
}
