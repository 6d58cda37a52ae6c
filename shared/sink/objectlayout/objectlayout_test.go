package objectlayout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

func TestContentMD5(t *testing.T) {
	l := objectlayout.Layout{Compression: objectlayout.None}
	obj, err := l.Encode(&sink.Batch{RequestID: "R", NDJSON: []byte("{\"a\":1}\n")})
	if err != nil {
		t.Fatal(err)
	}
	// openssl dgst -md5 -binary | base64, over the body {"a":1}\n
	if got, want := obj.ContentMD5(), "RYj/N5e3jYGdhY+jvdgrCQ=="; got != want {
		t.Errorf("ContentMD5 = %s, want %s", got, want)
	}
}

func TestContentID(t *testing.T) {
	// printf 'A/1\nB/2\n' | sha256sum | cut -c1-32
	const want = "7db4507bfa8b59e76e40d48441950c99"
	for _, ids := range [][]string{{"A/1", "B/2"}, {"B/2", "A/1"}} {
		if got := objectlayout.ContentID(ids); got != want {
			t.Errorf("ContentID(%q) = %s, want %s", ids, got, want)
		}
	}
	if got := objectlayout.ContentID([]string{"A/1"}); got == want {
		t.Error("ContentID of a subset is the same as of the whole")
	}

	// The key is the ingest path's, with the content id as the request id.
	l := objectlayout.Layout{Prefix: "logs/", Compression: objectlayout.Gzip}
	b := &sink.Batch{Project: "p1", Logstore: "web", RequestID: want, ReceivedAt: time.Unix(1795642200, 0)}
	key := l.Key(b)
	if wantKey := "logs/project=p1/logstore=web/dt=2026-11-25/hour=21/1795642200000000000-" + want + ".ndjson.gz"; key != wantKey {
		t.Errorf("Key = %s, want %s", key, wantKey)
	}
	if id := objectlayout.RequestID(key); id != want {
		t.Errorf("RequestID(%s) = %s, want %s", key, id, want)
	}
}

func TestUpload(t *testing.T) {
	l := objectlayout.Layout{Compression: objectlayout.Gzip}
	b := &sink.Batch{RequestID: "REQ1", NDJSON: []byte("{\"a\":1}\n")}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Upload(ctx, "test put", b, func(*objectlayout.Object) error {
		t.Fatal("put called with a cancelled context")
		return nil
	})
	if want := "test put of request REQ1 not tried: context canceled"; err == nil || err.Error() != want || !errors.Is(err, context.Canceled) {
		t.Errorf("Upload with a cancelled context = %v, want %s", err, want)
	}

	failed := errors.New("refused")
	var kept *objectlayout.Object
	err = l.Upload(context.Background(), "test put", b, func(o *objectlayout.Object) error { kept = o; return failed })
	if err != failed {
		t.Errorf("Upload = %v, want put's error as it is", err)
	}
	if kept.Body == nil {
		t.Error("the object of a failed put was released; the transport may still read it")
	}

	err = l.Upload(context.Background(), "test put", b, func(o *objectlayout.Object) error { kept = o; return nil })
	if err != nil || kept.Body != nil {
		t.Errorf("Upload = %v, body after success %d bytes; want nil and the object released", err, len(kept.Body))
	}
}

// BenchmarkEncodeParallel encodes from every P at once, as concurrent
// requests do: a 3 MiB batch and a 10-entry browser batch. Compression that
// serialises requests shows as no gain over GOMAXPROCS=1 (-cpu 1,2,…).
func BenchmarkEncodeParallel(b *testing.B) {
	for _, size := range []struct {
		name          string
		entries, line int
	}{{"3MiB", 4096, 760}, {"10entries", 10, 200}} {
		for _, c := range []objectlayout.Compression{objectlayout.Gzip, objectlayout.Zstd} {
			b.Run(size.name+"/"+string(c), func(b *testing.B) {
				batch := sinktest.NewBatch("REQ0000000000000000000001", size.entries, size.line)
				l := objectlayout.Layout{Compression: c}
				b.SetBytes(int64(len(batch.NDJSON)))
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						obj, err := l.Encode(batch)
						if err != nil {
							b.Error(err)
							return
						}
						obj.Release()
					}
				})
			})
		}
	}
}
