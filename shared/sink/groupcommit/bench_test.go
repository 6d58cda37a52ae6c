package groupcommit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/groupcommit"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// countingSink counts the writes that reach the sink it wraps.
type countingSink struct {
	sink.Sink
	writes atomic.Int64
}

func (s *countingSink) Put(ctx context.Context, b *sink.Batch) error {
	s.writes.Add(1)
	return s.Sink.Put(ctx, b)
}

// BenchmarkBrowserBatches stores 10-entry, browser-SDK-sized batches from 16
// concurrent requests into one partition of the file sink (gzip, synced),
// each alone (the baseline) and through group commit. objects/op is the
// objects written per request.
func BenchmarkBrowserBatches(b *testing.B) {
	for _, grouped := range []bool{false, true} {
		name := "alone"
		if grouped {
			name = "groupcommit"
		}
		b.Run(name, func(b *testing.B) {
			files, err := filesink.New(b.TempDir(), objectlayout.Layout{Compression: objectlayout.Gzip})
			if err != nil {
				b.Fatal(err)
			}
			counted := &countingSink{Sink: files}
			var s sink.Sink = counted
			if grouped {
				s = groupcommit.New(counted, groupcommit.DefaultOptions())
			}
			var next atomic.Int64
			b.SetParallelism(8) // 16 requests in flight on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					batch := request(int(next.Add(1)), 10)
					batch.ReceivedAt = hour
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if err := s.Put(ctx, batch); err != nil {
						b.Error(err)
					}
					cancel()
				}
			})
			b.ReportMetric(float64(counted.writes.Load())/float64(b.N), "objects/op")
		})
	}
}
