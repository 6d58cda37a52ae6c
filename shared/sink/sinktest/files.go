package sinktest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// Object is one stored object read back: its key and its NDJSON.
type Object struct {
	Key    string
	NDJSON []byte
}

// ReadFiles reads back the objects that a file sink stored under dir, in
// lexical order of their keys, the slash-separated paths under dir. A file
// whose name starts with '.' is a temporary left behind, and an error; so is
// any other file that is not an object, unless its key is in ignore.
func ReadFiles(dir string, ignore ...string) ([]Object, error) {
	var objects []Object
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			return errors.New("temporary file left behind: " + path)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if slices.Contains(ignore, key) {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		nd, err := objectlayout.Decode(path, body)
		if err != nil {
			return err
		}
		objects = append(objects, Object{Key: key, NDJSON: nd})
		return nil
	})
	return objects, err
}

// ByRequest groups the objects' lines, without their newlines, by the
// request id in each key: what Harness.Stored returns.
func ByRequest(objects []Object) map[string][]string {
	got := map[string][]string{}
	for _, o := range objects {
		id := objectlayout.RequestID(o.Key)
		for line := range strings.Lines(string(o.NDJSON)) {
			got[id] = append(got[id], strings.TrimSuffix(line, "\n"))
		}
	}
	return got
}
