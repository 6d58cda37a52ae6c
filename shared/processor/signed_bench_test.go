package processor_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// BenchmarkSignedWrite is BenchmarkProcessor's browser-10 batch as a signed
// write: what checking the credentials and the signature adds.
func BenchmarkSignedWrite(b *testing.B) {
	small := webBatch(10, 400)
	cfg := processor.DefaultConfig()
	cfg.Tokens = processortest.Config().Tokens
	cfg.Now = func() time.Time { return processortest.ReceivedAt }
	p := processor.New(cfg, encodingSink{objectlayout.Layout{Compression: objectlayout.Gzip}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	signed := processortest.Signed("web", string(small), processortest.Mint(processortest.NewSecret, time.Hour, "web"), processortest.ReceivedAt)
	signed.Header.Del("Origin")
	b.SetBytes(int64(len(small)))
	b.ReportAllocs()
	for b.Loop() {
		req := signed
		if resp := p.Handle(context.Background(), &req); resp.Status != 200 {
			b.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
	}
}
