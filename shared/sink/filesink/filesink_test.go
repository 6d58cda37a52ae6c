package filesink_test

import (
	"context"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

func harness(t *testing.T, query string) sinktest.Harness {
	dir := t.TempDir()
	s, err := sink.Open(context.Background(), "file://"+dir+query)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return sinktest.Harness{Sink: s, Stored: func(context.Context) (map[string][]string, error) {
		objects, err := sinktest.ReadFiles(dir)
		return sinktest.ByRequest(objects), err
	}}
}

func TestConformanceGzip(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Harness { return harness(t, "") })
}

func TestConformanceZstd(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Harness { return harness(t, "?compression=zstd&prefix=raw/web") })
}

func TestConformanceUncompressed(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Harness { return harness(t, "?compression=none") })
}

func TestObjectPathIsHivePartitioned(t *testing.T) {
	dir := t.TempDir()
	layout, err := objectlayout.Parse("/raw/", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := filesink.New(dir, layout)
	if err != nil {
		t.Fatal(err)
	}
	b := sinktest.NewBatch("5642EFA499248C827B012B39", 2, 50)
	if err := s.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "raw/project=test-project/logstore=test-logstore/dt=2026-11-25/hour=21",
		"1795642200000000000-5642EFA499248C827B012B39.ndjson.gz")
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("object not at its partitioned path: %v", err)
	}
}

func TestUnwritableRootFailsWithoutRetry(t *testing.T) {
	dir := t.TempDir()
	s, err := filesink.New(dir, objectlayout.Layout{Compression: objectlayout.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	// A plain file where the project directory must go: every write fails.
	if err := os.WriteFile(filepath.Join(dir, "project=test-project"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = s.Put(context.Background(), sinktest.NewBatch("REQ0000000000000000000009", 1, 40))
	if err == nil {
		t.Fatal("Put succeeded where no directory can be made")
	}
	if sink.IsRetryable(err) {
		t.Errorf("a broken layout on disk is not worth retrying, got retryable %v", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the path", err)
	}
}

func TestFullDiskIsRetryable(t *testing.T) {
	// Whether this machine lets a test mount a tiny tmpfs varies, so the
	// classification is checked on the errno the kernel returns for it.
	err := &fs.PathError{Op: "write", Path: "/data/x", Err: syscall.ENOSPC}
	if !sink.IsRetryable(filesink.Classify(err)) {
		t.Fatal("a full disk must answer 503 so that clients retry")
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	sinktest.OpenFails(t, "file://", "needs a directory")
	sinktest.OpenFails(t, "file:///tmp/x?compression=brotli", `compression "brotli"`)
	// A misspelt parameter is refused, not silently ignored.
	sinktest.OpenFails(t, "file://"+t.TempDir()+"?compresion=zstd", `unknown file URL parameter "compresion" (known: prefix, compression)`)
}
