package filesink_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

func harness(t *testing.T, query string) sinktest.Harness {
	dir := t.TempDir()
	s, err := drivers.Open(context.Background(), "file://"+dir+query)
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
	sinktest.OpenFails(t, drivers, "file://", "needs a directory")
	sinktest.OpenFails(t, drivers, "file:///tmp/x?compression=brotli", `compression "brotli"`)
	// A misspelt parameter is refused, not silently ignored.
	sinktest.OpenFails(t, drivers, "file://"+t.TempDir()+"?compresion=zstd", `unknown file URL parameter "compresion" (known: prefix, compression)`)
}

// TestNewDirectoriesAreSynced checks that each directory the first write of
// an hour creates is synced in its parent before the write is acknowledged.
func TestNewDirectoriesAreSynced(t *testing.T) {
	var synced []string
	filesink.RecordSyncs(t, &synced)
	root := filepath.Join(t.TempDir(), "new", "root")
	s, err := filesink.New(root, objectlayout.Layout{Compression: objectlayout.None})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), sinktest.NewBatch("REQ0000000000000000000001", 1, 40)); err != nil {
		t.Fatal(err)
	}
	project := filepath.Join(root, "project=test-project")
	logstore := filepath.Join(project, "logstore=test-logstore")
	dt := filepath.Join(logstore, "dt=2026-11-25")
	for _, dir := range []string{filepath.Dir(root), root, project, logstore, dt, filepath.Join(dt, "hour=21")} {
		if !slices.Contains(synced, dir) {
			t.Errorf("%s was not synced; synced: %q", dir, synced)
		}
	}
}

// TestOrphanedTemporariesAreRemoved leaves temporaries as a killed process
// would, and checks that the next write into their directory removes the
// stale one and keeps the one that may still be in flight.
func TestOrphanedTemporariesAreRemoved(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "project=test-project/logstore=test-logstore/dt=2026-11-25/hour=21")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".1795642100000000000-REQ.ndjson.gz.123456.tmp")
	fresh := filepath.Join(dir, ".1795642200000000000-REQ.ndjson.gz.654321.tmp")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-filesink.OrphanAge - time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s, err := filesink.New(root, objectlayout.Layout{Compression: objectlayout.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), sinktest.NewBatch("REQ0000000000000000000002", 1, 40)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary not removed: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a temporary that may be in flight was removed: %v", err)
	}
}

// TestRemovedDirectoryIsMadeAgain removes a partition between two writes
// into it: the sink remembers the directories it made, but not blindly.
func TestRemovedDirectoryIsMadeAgain(t *testing.T) {
	root := t.TempDir()
	s, err := filesink.New(root, objectlayout.Layout{Compression: objectlayout.None})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"REQ0000000000000000000003", "REQ0000000000000000000004"} {
		if err := s.Put(context.Background(), sinktest.NewBatch(id, 1, 40)); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(root, "project=test-project")); err != nil {
			t.Fatal(err)
		}
	}
}

var drivers = sink.Drivers{"file": filesink.Open}
