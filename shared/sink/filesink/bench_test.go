package filesink_test

import (
	"context"
	"testing"

	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// BenchmarkPut3MiB stores a 3 MiB, 4,096-entry batch per operation, synced to
// disk, as the other sinks' benchmarks of the same name do.
func BenchmarkPut3MiB(b *testing.B) {
	for _, compression := range []string{"gzip", "zstd", "none"} {
		b.Run(compression, func(b *testing.B) {
			s, err := drivers.Open(context.Background(), "file://"+b.TempDir()+"?compression="+compression)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			sinktest.BenchmarkPut(b, s)
		})
	}
}
