// Package filesink stores each batch as one object file on local disk, the
// embedded default sink: file:///var/data or file://relative/dir, with the
// optional query parameters prefix and compression (gzip, zstd or none); any
// other parameter is refused.
//
// A file is written under a hidden temporary name in its final directory,
// synced, then renamed into place and the directory synced, so a reader never
// sees half an object and an acknowledged batch survives a crash; a directory
// the sink creates is synced in its parent for the same reason. Query engines
// skip names that start with '.', so they never read the temporary. The
// temporaries a killed process left are removed by a later write into their
// directory, once they are older than orphanAge.
package filesink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// Open is the opener of file:// URLs: file:///abs/dir or
// file://relative/dir, with the object layout's prefix and compression.
func Open(_ context.Context, u *url.URL) (sink.Sink, error) {
	dir := u.Path
	if u.Host != "" { // file://relative/dir
		dir = filepath.Join(u.Host, u.Path)
	}
	if dir == "" {
		return nil, errors.New("file sink needs a directory: file:///abs/dir or file://relative/dir")
	}
	if err := sink.CheckParams(u, "prefix", "compression"); err != nil {
		return nil, err
	}
	layout, err := objectlayout.Parse(u.Query().Get("prefix"), u.Query())
	if err != nil {
		return nil, err
	}
	return New(dir, layout)
}

// orphanAge is the age after which a hidden temporary file is taken for one
// that a killed process left: far longer than any write takes. Should a
// write outlast it all the same, its rename fails and the client retries.
const orphanAge = 5 * time.Minute

// maxDirs bounds the directories a sink remembers; past it, it forgets them
// all, which costs each one a mkdir and a sync again.
const maxDirs = 1024

// Sink writes objects under a root directory.
type Sink struct {
	root   string
	layout objectlayout.Layout

	mu sync.Mutex
	// swept holds the directories made durable by this sink, with the time
	// each was last cleared of orphans.
	swept map[string]time.Time
}

// New returns a file sink rooted at dir, creating it if needed.
func New(dir string, layout objectlayout.Layout) (*Sink, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := mkdirAll(abs); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return &Sink{root: abs, layout: layout, swept: map[string]time.Time{}}, nil
}

// Root is the directory objects are written under.
func (s *Sink) Root() string { return s.root }

// Put writes the batch as one object file.
func (s *Sink) Put(ctx context.Context, b *sink.Batch) error {
	return s.layout.Upload(ctx, "file sink put", b, func(obj *objectlayout.Object) error {
		if err := ctx.Err(); err != nil { // encoding took the time that was left
			return err
		}
		path := filepath.Join(s.root, filepath.FromSlash(obj.Key))
		if err := s.write(path, obj.Body); err != nil {
			return classify(fmt.Errorf("file sink: writing %s: %w", path, err))
		}
		return nil
	})
}

// write writes one object into its directory, making the directory again
// if it was removed since the sink made it.
func (s *Sink) write(path string, body []byte) error {
	dir := filepath.Dir(path)
	for retried := false; ; retried = true {
		err := s.prepare(dir)
		if err == nil {
			err = writeAtomically(path, body)
		}
		if retried || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		s.mu.Lock()
		delete(s.swept, dir)
		s.mu.Unlock()
	}
}

// Close does nothing: files are closed as soon as they are written.
func (s *Sink) Close() error { return nil }

// prepare makes dir durable the first time the sink writes into it, and
// clears it of orphans when it was last cleared orphanAge ago or never. The
// lock is held while directories are made, so that no write into a new
// directory is acknowledged before the directory's entry is synced.
func (s *Sink) prepare(dir string) error {
	now := time.Now()
	s.mu.Lock()
	last, known := s.swept[dir]
	if !known {
		if err := mkdirAll(dir); err != nil {
			s.mu.Unlock()
			return err
		}
		if len(s.swept) >= maxDirs {
			clear(s.swept)
		}
	}
	due := now.Sub(last) >= orphanAge
	if due {
		s.swept[dir] = now
	}
	s.mu.Unlock()
	if due {
		removeOrphans(dir, now)
	}
	return nil
}

// mkdirAll makes dir and its missing parents, as os.MkdirAll does, and syncs
// each one's parent, so that a power failure cannot take the new entry with
// it. A directory that exists is synced in its parent too: another writer may
// have made it and not synced it yet.
func mkdirAll(dir string) error {
	parent := filepath.Dir(dir)
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrNotExist) && parent != dir {
		if err = mkdirAll(parent); err == nil {
			err = os.Mkdir(dir, 0o755)
		}
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// removeOrphans removes the hidden temporary files in dir older than
// orphanAge. It is best effort: a file it cannot remove stays for the next.
func removeOrphans(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > orphanAge {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

func writeAtomically(path string, body []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(body)
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// syncDir syncs a directory's entries to disk; a variable for tests.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}

// classify marks the failures that may pass on their own (a full disk or
// quota, an overloaded device) as unavailable, so clients retry later.
func classify(err error) error {
	for _, transient := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EAGAIN, syscall.EMFILE, syscall.ENFILE} {
		if errors.Is(err, transient) {
			return sink.Unavailable(err)
		}
	}
	return err
}
