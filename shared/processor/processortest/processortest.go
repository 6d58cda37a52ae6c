// Package processortest is the table of protocol cases that every front door
// runs: each route, each body encoding, each error code. A front door's test
// supplies a Roundtrip that turns the request into its provider's event,
// calls its handler and turns the answer back into what the HTTP client
// sees; Run checks the answer and what the file sink stored.
package processortest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
	"github.com/webtrack/webtrack/shared/ststoken"
)

// Roundtrip sends req through a front door to p and returns the response as
// the HTTP client would see it.
type Roundtrip func(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response

// Case is one request and what must come of it.
type Case struct {
	Name    string
	Request processor.Request
	// Config adjusts the table's configuration for this case.
	Config func(*processor.Config)
	// BreakStorage makes every write of the file sink fail.
	BreakStorage bool
	Status       int
	// Code is the expected errorCode, or "" for success.
	Code string
	// Entries is how many entries must be stored.
	Entries int
	// Check looks further at the response and the stored objects.
	Check func(t *testing.T, resp *processor.Response, stored []Object)
}

// Object is one stored object: its key under the sink root and its lines.
type Object struct {
	Key   string
	Lines []map[string]any
}

// ReceivedAt is the table's fixed clock.
var ReceivedAt = time.Date(2026, 11, 25, 21, 30, 0, 0, time.UTC)

// Config is the configuration every case starts from.
func Config() processor.Config {
	cfg := processor.DefaultConfig()
	cfg.Endpoints = []string{"log.example.com"}
	cfg.Projects = []string{"default", "my-project"}
	cfg.Logstores = []string{"web", "app-logs", "my-project/only-here", "disabled", SignedLogstore}
	cfg.DisabledLogstores = []string{"disabled"}
	cfg.SignedLogstores = []string{SignedLogstore}
	tokens, err := ststoken.NewKeyring([]string{NewSecret, OldSecret})
	if err != nil {
		panic(err)
	}
	cfg.Tokens = tokens
	cfg.AllowedOrigins = []string{"https://shop.example.com"}
	cfg.MaxBodyBytes = 256 << 10
	cfg.MaxEntries = 100
	cfg.Now = func() time.Time { return ReceivedAt }
	return cfg
}

// Run runs every case of Cases through rt.
func Run(t *testing.T, rt Roundtrip) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) { RunCase(t, c, rt) })
	}
}

// RunCase runs one case through rt.
func RunCase(t *testing.T, c Case, rt Roundtrip) {
	dir := t.TempDir()
	s, err := filesink.New(dir, objectlayout.Layout{Compression: objectlayout.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	if c.BreakStorage { // a plain file where the project directory must go
		if err := os.WriteFile(filepath.Join(dir, "project=default"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config()
	if c.Config != nil {
		c.Config(&cfg)
	}
	p := processor.New(cfg, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := c.Request
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp := rt(t, p, &req)
	if resp.Status != c.Status {
		t.Errorf("status %d, want %d (body %s)", resp.Status, c.Status, resp.Body)
	}
	if resp.Header.Get("X-Log-Requestid") == "" {
		t.Error("no x-log-requestid header")
	}
	if c.Code != "" {
		var e struct{ ErrorCode, ErrorMessage string }
		if err := json.Unmarshal(resp.Body, &e); err != nil {
			t.Fatalf("error body %q is not the error JSON: %v", resp.Body, err)
		}
		if e.ErrorCode != c.Code || e.ErrorMessage == "" {
			t.Errorf("errorCode %q (%s), want %q", e.ErrorCode, e.ErrorMessage, c.Code)
		}
	}
	stored := ReadObjects(t, dir)
	n := 0
	for _, o := range stored {
		n += len(o.Lines)
	}
	if n != c.Entries {
		t.Errorf("%d entries stored, want %d", n, c.Entries)
	}
	if c.Check != nil {
		c.Check(t, resp, stored)
	}
}

// ReadObjects reads every object a file sink stored under dir.
func ReadObjects(t testing.TB, dir string) []Object {
	t.Helper()
	files, err := sinktest.ReadFiles(dir, "project=default") // BreakStorage's plain file
	if err != nil {
		t.Fatalf("reading stored objects: %v", err)
	}
	var objects []Object
	for _, f := range files {
		o := Object{Key: f.Key}
		dec := json.NewDecoder(bytes.NewReader(f.NDJSON))
		dec.UseNumber()
		for dec.More() {
			var line map[string]any
			if err := dec.Decode(&line); err != nil {
				t.Fatalf("reading stored objects: %s: %v", f.Key, err)
			}
			o.Lines = append(o.Lines, line)
		}
		objects = append(objects, o)
	}
	return objects
}

// Post is a POST of body to a logstore's track path with the given headers
// (pairs of name and value).
func Post(logstore string, body []byte, headers ...string) processor.Request {
	return processor.Request{
		Method: http.MethodPost, Path: "/logstores/" + logstore + "/track", Host: "127.0.0.1:8080",
		Header: pairs(headers), Body: body, ClientIP: "203.0.113.7",
	}
}

// Get is a GET of a logstore's path ("track", "track.gif", "track_ua.gif")
// with a raw query.
func Get(logstore, target, rawQuery string, headers ...string) processor.Request {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		panic(err)
	}
	return processor.Request{
		Method: http.MethodGet, Path: "/logstores/" + logstore + "/" + target, Host: "127.0.0.1:8080",
		Query: q, Header: pairs(headers), ClientIP: "203.0.113.7",
	}
}

func pairs(kv []string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// Handle is the Roundtrip of the processor itself, with no front door.
func Handle(_ *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
	return p.Handle(context.Background(), req)
}

// Field returns a stored line's field as a string, failing if it is absent.
func Field(t *testing.T, line map[string]any, key string) string {
	t.Helper()
	v, ok := line[key]
	if !ok {
		t.Fatalf("stored line has no %q: %v", key, line)
	}
	s, ok := v.(string)
	if !ok {
		if n, isNum := v.(json.Number); isNum {
			return n.String()
		}
		t.Fatalf("stored %q is %T, not a string", key, v)
	}
	return s
}

// Lines returns the lines of all objects, in key order.
func Lines(stored []Object) []map[string]any {
	var lines []map[string]any
	for _, o := range stored {
		lines = append(lines, o.Lines...)
	}
	return lines
}

// wantEqual fails the test unless got equals want.
func wantEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func hasPrefix(t *testing.T, what, got, prefix string) {
	t.Helper()
	if !strings.HasPrefix(got, prefix) {
		t.Errorf("%s = %q, want prefix %q", what, got, prefix)
	}
}

// SendHTTP serves req with h on a loopback server and sends it over real
// HTTP as a client sends it (path, query, headers, body and Host), with
// edit, unless nil, changing its headers first, and returns the answer as
// the client reads it.
func SendHTTP(t *testing.T, h http.Handler, req *processor.Request, edit func(http.Header)) *processor.Response {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	u := srv.URL + req.Path
	if len(req.Query) > 0 {
		u += "?" + req.Query.Encode()
	}
	hr, err := http.NewRequest(req.Method, u, bytes.NewReader(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header = req.Header.Clone()
	if edit != nil {
		edit(hr.Header)
	}
	if req.Host != "" && req.Host != "127.0.0.1:8080" {
		hr.Host = req.Host
	}
	resp, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &processor.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}
