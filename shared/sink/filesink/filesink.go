// Package filesink stores each batch as one object file on local disk, the
// embedded default sink: file:///var/data or file://relative/dir, with the
// optional query parameters prefix and compression (gzip, zstd or none); any
// other parameter is refused.
//
// A file is written under a hidden temporary name in its final directory,
// synced, then renamed into place and the directory synced, so a reader never
// sees half an object and an acknowledged batch survives a crash. Query
// engines skip names that start with '.', so they never read the temporary.
package filesink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

func init() {
	sink.Register("file", func(_ context.Context, u *url.URL) (sink.Sink, error) {
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
	})
}

// Sink writes objects under a root directory.
type Sink struct {
	root   string
	layout objectlayout.Layout
}

// New returns a file sink rooted at dir, creating it if needed.
func New(dir string, layout objectlayout.Layout) (*Sink, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return &Sink{root: abs, layout: layout}, nil
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
		if err := writeAtomically(path, obj.Body); err != nil {
			return classify(fmt.Errorf("file sink: writing %s: %w", path, err))
		}
		return nil
	})
}

// Close does nothing: files are closed as soon as they are written.
func (s *Sink) Close() error { return nil }

func writeAtomically(path string, body []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
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

func syncDir(dir string) error {
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
