//go:build unix

package main_test

// Real clients against the real server: the command is built, started with a
// file sink, and fed by the official browser SDK running in headless
// Chromium and by Node and Python clients that compress their bodies. What
// the sink stored is read back and compared field by field.
//
// The clients live in testdata/clients; `bash .ci/test` installs them
// (.ci/setup.d/40-clients.sh). Without them these tests fail, never skip.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor/processortest"
)

const (
	clientsDir    = "testdata/clients"
	sdkPackage    = "@aliyun-sls/web-track-browser"
	sdkVersion    = "0.3.9"
	stsPackage    = "@aliyun-sls/web-sts-plugin"
	lz4Version    = "0.6.5"
	duckdbPackage = "@duckdb/node-api"
	duckdbVersion = "1.5.6-r.1"
	installHint   = "run `bash .ci/test` (its setup step .ci/setup.d/40-clients.sh installs the test clients)"
)

func TestClients(t *testing.T) {
	requireClients(t)
	t.Run("BrowserSDK", func(t *testing.T) { testBrowserSDK(t, bin) })
	t.Run("BrowserSTS", func(t *testing.T) { testBrowserSTS(t, bin) })
	t.Run("Compressed", func(t *testing.T) { testCompressed(t, bin) })
}

// requireClients fails unless node and the pinned npm packages are installed.
func requireClients(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: %v; %s", err, installHint)
	}
	for pkg, want := range map[string]string{sdkPackage: sdkVersion, stsPackage: sdkVersion, "lz4": lz4Version, duckdbPackage: duckdbVersion} {
		raw, err := os.ReadFile(filepath.Join(clientsDir, "node_modules", pkg, "package.json"))
		if err != nil {
			t.Fatalf("npm package %s is not installed (%v): %s", pkg, err, installHint)
		}
		var meta struct{ Version string }
		if err := json.Unmarshal(raw, &meta); err != nil || meta.Version != want {
			t.Fatalf("npm package %s is %q, want %s (%v): %s", pkg, meta.Version, want, err, installHint)
		}
	}
	if _, err := os.Stat(filepath.Join(clientsDir, "node_modules/lz4/build/Release/lz4.node")); err != nil {
		t.Fatalf("the lz4 package's native block compressor was not built (%v): %s", err, installHint)
	}
}

// storedIn returns the stored objects of a logstore of the default project.
func storedIn(all []processortest.Object, logstore string) []processortest.Object {
	var in []processortest.Object
	for _, o := range all {
		if strings.HasPrefix(o.Key, "project=default/logstore="+logstore+"/dt=") {
			in = append(in, o)
		}
	}
	return in
}

// checkStoredLine compares a stored line with want, every field byte for byte.
// __time__ must lie in [from, to] and equal __tag__:__receive_time__.
func checkStoredLine(t *testing.T, what string, line map[string]any, want map[string]string, from, to time.Time) {
	t.Helper()
	tm, ok := line["__time__"].(json.Number)
	sec, err := tm.Int64()
	if !ok || err != nil || sec < from.Unix() || sec > to.Unix() {
		t.Errorf("%s: __time__ = %v, want the receive time in [%d, %d]", what, line["__time__"], from.Unix(), to.Unix())
	}
	// The request id is the server's own: 24 upper-case hex digits.
	id, _ := line["__tag__:__request_id__"].(string)
	if len(id) != 24 || strings.Trim(id, "0123456789ABCDEF") != "" {
		t.Errorf("%s: __tag__:__request_id__ = %#v, want the server's 24-digit request id", what, line["__tag__:__request_id__"])
	}
	want = mergeFields(want, map[string]string{
		"__tag__:__client_ip__":    "127.0.0.1",
		"__tag__:__receive_time__": tm.String(),
		"__tag__:__request_id__":   id,
	})
	for k, w := range want {
		v, ok := line[k]
		if !ok {
			t.Errorf("%s: field %q missing", what, k)
			continue
		}
		if s, isString := v.(string); !isString || s != w {
			t.Errorf("%s: field %q = %#v, want %q", what, k, v, w)
		}
	}
	for k := range line {
		if _, ok := want[k]; !ok && k != "__time__" {
			t.Errorf("%s: unexpected field %q = %#v", what, k, line[k])
		}
	}
}

// mergeFields merges maps into a new one.
func mergeFields(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// logField is one field of a log entry: its value as a JSON literal, as a
// client holds it, and the string the server must store.
type logField struct {
	key, json, want string
}

// entryJSON is an entry as a JSON object, fields in order.
func entryJSON(fields []logField) []byte {
	b := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, jsonQuote(f.key)...)
		b = append(b, ':')
		b = append(b, f.json...)
	}
	return append(b, '}')
}

func wantFields(fields []logField) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		m[f.key] = f.want
	}
	return m
}

// jsonQuote is s as a JSON string, with no HTML escaping.
func jsonQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func strField(key, s string) logField { return logField{key, jsonQuote(s), s} }

// sdkFields are what every entry sent through the browser SDK carries: the
// SDK turns each value into a string (String(v), or JSON.stringify for
// objects and null) before sending, so want is what JavaScript makes of it.
var sdkFields = []logField{
	strField("msg", "héllo wörld — 日本語 ✓ 🚀 Ωμέγα"),
	{"escapes", `"quote \" backslash \\ slash \/ newline \n tab \t ctl \u0001 sep \u2028 end"`, "quote \" backslash \\ slash / newline \n tab \t ctl \x01 sep \u2028 end"},
	strField("html", `<b>&amp;</b> 'single' </script>`),
	strField("empty", ""),
	strField("client-ver", "1.0.0-beta+7"),
	strField("Mixed_Case9", "x"),
	{"int", `42`, "42"},
	{"neg", `-3.25`, "-3.25"},
	{"big_int", `12345678901234567890`, "12345678901234567000"},
	{"tiny", `1e-7`, "1e-7"},
	{"exp", `1E21`, "1e+21"},
	{"trailing_zero", `2.50`, "2.5"},
	{"yes", `true`, "true"},
	{"no", `false`, "false"},
	{"nothing", `null`, "null"},
	{"nested", `{"user": {"id": 7, "name": "Zoë", "roles": ["admin", "dev"]}, "ok": true, "ratio": 0.50}`,
		`{"user":{"id":7,"name":"Zoë","roles":["admin","dev"]},"ok":true,"ratio":0.5}`},
	{"list", `[1, "two", null, {"x": 1.50}, [], {}]`, `[1,"two",null,{"x":1.5},[],{}]`},
	{"nested_unicode", `{"emoji": "🚀", "cjk": "中文", "esc": "a\"b\\c\nd\u0007"}`, `{"emoji":"🚀","cjk":"中文","esc":"a\"b\\c\nd\u0007"}`},
}

// sdkEntry is one entry for the SDK, told apart by seq.
func sdkEntry(seq string, extra ...logField) []logField {
	return append(append([]logField{strField("seq", seq)}, sdkFields...), extra...)
}

// sdkStep is one call the test page makes on a tracker, or a pause.
type sdkStep struct {
	Tracker string            `json:"tracker,omitempty"`
	Method  string            `json:"method,omitempty"`
	Logs    []json.RawMessage `json:"logs,omitempty"`
	// Flushed waits until the tracker has sent everything it holds.
	Flushed string `json:"flushed,omitempty"`
}

func testBrowserSDK(t *testing.T, serverBin string) {
	browser := chromiumPath(t)
	page := newPageServer(t)
	srv := startTrackServer(t, serverBin, "WEBTRACK_ALLOWED_ORIGINS="+page.URL)

	// Tracker a batches 3 entries or half a second; b keeps everything
	// until the page unloads.
	tagsA := map[string]string{"app": "shop", "release": "2026.11-β", "region": "杭州"}
	trackers := map[string]map[string]any{
		"a": {"host": srv.URL, "project": "my-project", "logstore": "web", "time": 0.5, "count": 3,
			"topic": "checkout ✓", "source": "shop-frontend", "tags": tagsA},
		"b": {"host": srv.URL, "project": "my-project", "logstore": "web", "time": 60, "count": 100},
	}
	common := map[string]map[string]string{
		"a": {"__topic__": "checkout ✓", "__source__": "shop-frontend"},
		// no topic; no source: the service leaves a POST's source empty
		"b": {"__topic__": "", "__source__": ""},
	}
	for k, v := range tagsA {
		common["a"]["__tag__:"+k] = v
	}
	// big is more than the 32768 UTF-16 units above which the SDK sends with
	// XMLHttpRequest instead of navigator.sendBeacon.
	big := strField("big", strings.Repeat("ä€𝄞 ", 9000))

	entries := map[string][]logField{} // by seq
	trackerOf := map[string]string{}   // seq's tracker
	var steps []sdkStep
	var wantGroups [][]string // the seqs of each request, in order
	call := func(tracker, method string, seqs ...string) {
		st := sdkStep{Tracker: tracker, Method: method}
		for _, seq := range seqs {
			var extra []logField
			if seq == "a12" {
				extra = append(extra, big)
			}
			entries[seq] = sdkEntry(seq, extra...)
			trackerOf[seq] = tracker
			st.Logs = append(st.Logs, entryJSON(entries[seq]))
		}
		steps = append(steps, st)
	}
	call("a", "send", "a1")
	call("a", "send", "a2")
	call("a", "send", "a3") // count reached: a1-a3 go
	wantGroups = append(wantGroups, []string{"a1", "a2", "a3"})
	call("a", "sendBatchLogs", "a4", "a5", "a6", "a7")
	wantGroups = append(wantGroups, []string{"a4", "a5", "a6", "a7"})
	call("a", "sendImmediate", "a8")
	wantGroups = append(wantGroups, []string{"a8"})
	call("a", "sendBatchLogsImmediate", "a9", "a10")
	wantGroups = append(wantGroups, []string{"a9", "a10"})
	call("a", "send", "a11") // goes when the timer fires
	steps = append(steps, sdkStep{Flushed: "a"})
	wantGroups = append(wantGroups, []string{"a11"})
	call("a", "sendImmediate", "a12")
	wantGroups = append(wantGroups, []string{"a12"})
	call("b", "send", "b1")
	call("b", "sendBatchLogs", "b2", "b3") // go when the page unloads
	wantGroups = append(wantGroups, []string{"b1", "b2", "b3"})

	corsFields := []logField{strField("seq", "cors1"), strField("msg", "preflighted ✓")}
	corsBody := fmt.Sprintf(`{"__topic__":"cors","__logs__":[%s]}`, entryJSON(corsFields))
	plan, err := json.Marshal(map[string]any{
		"trackers": trackers,
		"steps":    steps,
		"cors":     map[string]string{"url": srv.URL + "/logstores/cors/track", "body": corsBody},
	})
	if err != nil {
		t.Fatal(err)
	}
	page.plan.Store(&plan)

	from := time.Now()
	chrome := startChromium(t, browser, page.URL+"/index.html")
	var report struct {
		SDK    string
		Errors []string
		CORS   *struct {
			Status    int
			RequestID string
			Body      string
			Error     string
		}
	}
	select {
	case body := <-page.reports["page"]:
		if err := json.Unmarshal(body, &report); err != nil {
			t.Fatalf("page report %q: %v", body, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the test page did not report within 60s; chromium:\n%s\nserver:\n%s", chrome.output(), srv.Log())
	}
	if report.SDK != "function" || len(report.Errors) > 0 {
		t.Errorf("page: window.SLS_Tracker is %q; errors: %q", report.SDK, report.Errors)
	}
	switch c := report.CORS; {
	case c == nil:
		t.Error("the page did not run its CORS check")
	case c.Error != "":
		t.Errorf("cross-origin fetch with x-log-* headers failed in the browser (CORS): %s", c.Error)
	case c.Status != http.StatusOK || c.RequestID == "":
		t.Errorf("cross-origin fetch: status %d, x-log-requestid %q readable by the page, body %q; want 200 and the id", c.Status, c.RequestID, c.Body)
	}
	select {
	case <-page.reports["next"]:
	case <-time.After(30 * time.Second):
		t.Fatalf("the page did not navigate away within 30s; chromium:\n%s", chrome.output())
	}
	srv.waitEntries(t, "web", len(entries), 30*time.Second)
	srv.waitEntries(t, "cors", 1, 10*time.Second)
	to := time.Now()
	reqs := srv.checkRequests(t)
	if !slices.ContainsFunc(reqs, func(r trackLog) bool {
		return r.Method == http.MethodOptions && r.Path == "/logstores/cors/track"
	}) {
		t.Errorf("the browser sent no CORS preflight for the fetch with x-log-* headers; requests: %+v", reqs)
	}

	all := processortest.ReadObjects(t, srv.dir)
	// The SDK's requests, each one's entries in order: concurrent requests
	// may share an object (group commit), and every line names its request.
	byRequest := map[string][]string{}
	seen := map[string]bool{}
	for _, o := range storedIn(all, "web") {
		for i, line := range o.Lines {
			seq, _ := line["seq"].(string)
			fields, ok := entries[seq]
			if !ok || seen[seq] {
				t.Errorf("%s line %d: unexpected or repeated entry %v", o.Key, i, line)
				continue
			}
			seen[seq] = true
			id, _ := line["__tag__:__request_id__"].(string)
			byRequest[id] = append(byRequest[id], seq)
			checkStoredLine(t, seq, line, mergeFields(common[trackerOf[seq]], wantFields(fields)), from, to)
		}
	}
	gotGroups := slices.Collect(maps.Values(byRequest))
	for id, group := range byRequest {
		if !slices.ContainsFunc(reqs, func(r trackLog) bool { return r.RequestID == id && r.Entries == len(group) }) {
			t.Errorf("stored lines name request %s (%d entries), which the server did not log so", id, len(group))
		}
	}
	for seq := range entries {
		if !seen[seq] {
			t.Errorf("entry %s was not stored", seq)
		}
	}
	// The SDK's batches, in any order.
	sortGroups := func(g [][]string) {
		slices.SortFunc(g, func(a, b []string) int { return strings.Compare(strings.Join(a, ","), strings.Join(b, ",")) })
	}
	sortGroups(gotGroups)
	sortGroups(wantGroups)
	t.Logf("the SDK's requests: %v, in %d objects", gotGroups, len(storedIn(all, "web")))
	if !slices.EqualFunc(gotGroups, wantGroups, slices.Equal) {
		t.Errorf("the SDK's requests carried %v, want %v", gotGroups, wantGroups)
	}

	cors := storedIn(all, "cors")
	if len(cors) != 1 || len(cors[0].Lines) != 1 {
		t.Fatalf("cors logstore: %d objects %+v, want one of one line", len(cors), cors)
	}
	checkStoredLine(t, "cors", cors[0].Lines[0], mergeFields(map[string]string{"__topic__": "cors", "__source__": ""}, wantFields(corsFields)), from, to)
	if n := len(storedIn(all, "web")) + len(cors); n != len(all) {
		t.Errorf("%d objects stored, %d of them outside logstores web and cors", len(all), len(all)-n)
	}
	if t.Failed() {
		t.Logf("chromium:\n%s\nserver:\n%s", chrome.output(), srv.Log())
	}
}

// pageServer serves the test page from its own origin, so that the SDK in
// the page sends across origins as on a real site.
type pageServer struct {
	*httptest.Server
	plan    atomic.Pointer[[]byte]
	reports map[string]chan []byte
	// credentials are what the site's backend hands the page, by name: STS
	// AssumeRole's JSON, as the token command prints it.
	credentials atomic.Pointer[map[string][]byte]
}

func newPageServer(t *testing.T) *pageServer {
	t.Helper()
	p := &pageServer{reports: map[string]chan []byte{"page": make(chan []byte, 1), "next": make(chan []byte, 1)}}
	files := map[string]string{
		"/index.html": "browser/index.html",
		"/page.js":    "browser/page.js",
		"/next.html":  "browser/next.html",
		"/sdk.js":     "node_modules/" + sdkPackage + "/dist/web-track-browser.global.js",
		"/sts.html":   "browser/sts.html",
		"/sts.js":     "browser/sts.js",
		// The plugin's browser bundle, crypto-js inside: defines window.stsPlugin.
		"/sts-plugin.js": "node_modules/" + stsPackage + "/dist/web-sts-plugin.global.js",
	}
	mux := http.NewServeMux()
	for path, file := range files {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			body, err := os.ReadFile(filepath.Join(clientsDir, file))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			ctype := "text/html; charset=utf-8"
			if strings.HasSuffix(file, ".js") {
				ctype = "text/javascript; charset=utf-8"
			}
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
		})
	}
	mux.HandleFunc("GET /plan.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*p.plan.Load())
	})
	mux.HandleFunc("GET /credentials/{name}", func(w http.ResponseWriter, r *http.Request) {
		var c []byte
		if creds := p.credentials.Load(); creds != nil {
			c = (*creds)[r.PathValue("name")]
		}
		if c == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(c)
	})
	mux.HandleFunc("POST /report/{name}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := readReport(r)
		if c, ok := p.reports[r.PathValue("name")]; ok {
			select {
			case c <- body:
			default:
			}
		}
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func readReport(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(http.MaxBytesReader(nil, r.Body, 1<<20))
	return b.Bytes(), err
}

// chromiumPath finds Debian's chromium (or another Chromium-based browser).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no chromium on PATH: %s", installHint)
	return ""
}

// browserProcess is a headless Chromium; its whole process group is killed
// when the test ends.
type browserProcess struct {
	mu  sync.Mutex
	out bytes.Buffer
}

func (b *browserProcess) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

// output is what the browser printed, less its complaints about D-Bus.
func (b *browserProcess) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out strings.Builder
	for line := range strings.Lines(b.out.String()) {
		if !strings.Contains(line, "dbus") {
			out.WriteString(line)
		}
	}
	return out.String()
}

func startChromium(t *testing.T, path, url string) *browserProcess {
	t.Helper()
	profile := t.TempDir() // removed after the browser is gone: cleanups run last first
	b := &browserProcess{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--no-first-run", "--no-default-browser-check", "--mute-audio",
		"--enable-logging=stderr", "--v=0",
		"--user-data-dir="+profile, url)
	cmd.Env = append(os.Environ(), "HOME="+profile) // no crash reports or caches in the real home
	cmd.Stdout, cmd.Stderr = b, b
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel() // kills the process group
		_ = cmd.Wait()
	})
	return b
}

// clientPayload is a batch as the OpenAPI SDKs send it, and what must be stored.
type clientPayload struct {
	body   []byte
	common map[string]string
	lines  []map[string]string
}

// newClientPayload builds a batch of entries with the client's topic, source and
// tags. Values other than strings are sent raw and stored as their compact
// JSON text.
func newClientPayload(client string, entries [][]logField) clientPayload {
	p := clientPayload{common: map[string]string{
		"__topic__": "compressed ✓", "__source__": client + "-client",
		"__tag__:lang": client, "__tag__:note": "ünïcödé",
	}}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"__topic__":%s,"__source__":%s,"__tags__":{"lang":%s,"note":"ünïcödé"},"__logs__":[`,
		jsonQuote("compressed ✓"), jsonQuote(client+"-client"), jsonQuote(client))
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(entryJSON(e))
		p.lines = append(p.lines, wantFields(e))
	}
	b.WriteString("]}")
	p.body = b.Bytes()
	return p
}

// repetitiveBatch is a compressible batch of n entries.
func repetitiveBatch(client string, n int) clientPayload {
	var entries [][]logField
	for i := range n {
		entries = append(entries, []logField{
			strField("seq", client+"-"+strconv.Itoa(i)),
			strField("msg", "用户 clicked «Buy» ✓ 🚀 — "+strings.Repeat("ab", i)),
			strField("path", "/checkout/step/"+strconv.Itoa(i%3)),
			{"n", strconv.Itoa(i * 1000), strconv.Itoa(i * 1000)},
			{"f", `-1.5e3`, `-1.5e3`},
			{"ok", `true`, `true`},
			{"none", `null`, `null`},
			{"obj", `{"k":[1,"2",{"z":null}],"s":"ü"}`, `{"k":[1,"2",{"z":null}],"s":"ü"}`},
		})
	}
	return newClientPayload(client, entries)
}

// incompressibleBatch is a batch whose one entry is random text.
func incompressibleBatch(t *testing.T, client string) clientPayload {
	noise := make([]byte, 3000)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	return newClientPayload(client, [][]logField{{strField("seq", client+"-0"), strField("noise", base64.StdEncoding.EncodeToString(noise))}})
}

type clientRequest struct {
	Name     string `json:"name"`
	Logstore string `json:"logstore"`
	Encoding string `json:"encoding"`
	Body     []byte `json:"body"` // base64 in JSON

	want         clientPayload
	compressible bool // the client must send less than half the raw size
}

type clientResult struct {
	Name      string
	Status    int
	RequestID string
	Body      string
	RawSize   int
	SentSize  int
	How       string
}

// runClient runs a client script with the requests as its input and returns
// what it reports.
func runClient(t *testing.T, url string, reqs []clientRequest, name string, args ...string) []clientResult {
	t.Helper()
	out := runScript(t, map[string]any{"url": url, "requests": reqs}, name, args...)
	var results []clientResult
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(reqs) {
		t.Fatalf("%s: output %q: %v (want %d results)", name, out, err, len(reqs))
	}
	return results
}

// runScript runs name with args in the clients' directory, with the JSON of
// in as its input, and returns its output. A failure, or a run past a
// minute, ends the test with what the script wrote to its standard error.
func runScript(t *testing.T, in any, name string, args ...string) []byte {
	t.Helper()
	spec, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = clientsDir
	cmd.Stdin = bytes.NewReader(spec)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func testCompressed(t *testing.T, serverBin string) {
	python, err := exec.LookPath("python3")
	if err != nil {
		// npm needs python3 to build the lz4 package, so CI has it.
		t.Fatalf("python3 is not installed: %v", err)
	}
	srv := startTrackServer(t, serverBin)
	nodeReqs := []clientRequest{
		{Name: "lz4", Logstore: "node-lz4", Encoding: "lz4", want: repetitiveBatch("node", 40), compressible: true},
		{Name: "lz4 incompressible", Logstore: "node-lz4-noise", Encoding: "lz4", want: incompressibleBatch(t, "node")},
		{Name: "lz4 literal block", Logstore: "node-lz4-literal", Encoding: "lz4-literal", want: repetitiveBatch("node", 5)},
		{Name: "deflate", Logstore: "node-deflate", Encoding: "deflate", want: repetitiveBatch("node", 40), compressible: true},
	}
	pyReqs := []clientRequest{
		{Name: "python deflate", Logstore: "python-deflate", Encoding: "deflate", want: repetitiveBatch("python", 40), compressible: true},
	}
	from := time.Now()
	results := runClient(t, srv.URL, setBodies(nodeReqs), "node", "compressed.mjs")
	results = append(results, runClient(t, srv.URL, setBodies(pyReqs), python, "deflate_post.py")...)
	reqs := append(nodeReqs, pyReqs...)
	for i, r := range results {
		t.Logf("%s: %s, %d bytes raw, %d sent: %d %q", r.Name, r.How, r.RawSize, r.SentSize, r.Status, r.Body)
		if r.Name != reqs[i].Name || r.Status != http.StatusOK || r.RequestID == "" || r.Body != "" {
			t.Errorf("%s: status %d, x-log-requestid %q, body %q; want 200, an id and no body", r.Name, r.Status, r.RequestID, r.Body)
		}
		if r.RawSize != len(reqs[i].Body) {
			t.Errorf("%s: the client declared %d raw bytes, the batch has %d", r.Name, r.RawSize, len(reqs[i].Body))
		}
		if reqs[i].compressible && r.SentSize*2 > r.RawSize {
			t.Errorf("%s: sent %d bytes for %d raw: not compressed", r.Name, r.SentSize, r.RawSize)
		}
	}
	for _, r := range reqs {
		srv.waitEntries(t, r.Logstore, len(r.want.lines), 10*time.Second)
	}
	to := time.Now()
	srv.checkRequests(t)
	all := processortest.ReadObjects(t, srv.dir)
	for _, r := range reqs {
		objs := storedIn(all, r.Logstore)
		if len(objs) != 1 {
			t.Errorf("%s: %d objects in logstore %s, want 1", r.Name, len(objs), r.Logstore)
			continue
		}
		lines := objs[0].Lines
		if len(lines) != len(r.want.lines) {
			t.Errorf("%s: %d lines stored, want %d", r.Name, len(lines), len(r.want.lines))
			continue
		}
		for i, line := range lines {
			checkStoredLine(t, fmt.Sprintf("%s line %d", r.Name, i), line, mergeFields(r.want.common, r.want.lines[i]), from, to)
		}
	}
	if len(all) != len(reqs) {
		t.Errorf("%d objects stored, want %d", len(all), len(reqs))
	}
}

func setBodies(reqs []clientRequest) []clientRequest {
	for i := range reqs {
		reqs[i].Body = reqs[i].want.body
	}
	return reqs
}
