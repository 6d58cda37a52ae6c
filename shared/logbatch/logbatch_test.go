package logbatch_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/webtrack/webtrack/shared/logbatch"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

func options() *logbatch.Options {
	return &logbatch.Options{ReceivedAt: time.Unix(1795642200, 0), ClientIP: "192.0.2.1", ClientMetadata: true, MaxEntries: 4096}
}

func TestEscapedKeysAreCheckedUnescaped(t *testing.T) {
	var e logbatch.Encoder
	// "\u0061" is "a": the same key twice, spelled differently.
	if _, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"a":"1","\u0061":"2"}]}`), options()); err == nil || err.Code.Name != "InvalidKey" {
		t.Errorf("duplicate key through an escape: %v", err)
	}
	// "\u005f_partition_time__" is "__partition_time__".
	if _, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"\u005f_partition_time__":"x"}]}`), options()); err == nil || err.Code.Name != "InvalidKey" {
		t.Errorf("reserved key through an escape: %v", err)
	}
	out, n, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"\u0062":"2"}]}`), options())
	if err != nil || n != 1 || !bytes.Contains(out, []byte(`,"b":"2"}`)) {
		t.Errorf("escaped key not stored unescaped: %s %v", out, err)
	}
}

func TestEncoderIsReusable(t *testing.T) {
	var e logbatch.Encoder
	first, _, err := e.EncodeJSON(nil, []byte(`{"__topic__":"one","__logs__":[{"a":"1"}],"__tags__":{"t":"x"}}`), options())
	if err != nil {
		t.Fatal(err)
	}
	firstCopy := string(first)
	second, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"b":"2"}]}`), options())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(second), "one") || strings.Contains(string(second), "__tag__:t") {
		t.Errorf("state of the first batch leaked into the second: %s (first %s)", second, firstCopy)
	}
}

func TestTagsAfterLogsStillApply(t *testing.T) {
	var e logbatch.Encoder
	out, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"a":"1"},{"a":"2"}],"__tags__":{"k":"v"},"__topic__":"late"}`), options())
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(out) {
		if !bytes.Contains(line, []byte(`"__tag__:k":"v"`)) || !bytes.Contains(line, []byte(`"__topic__":"late"`)) {
			t.Errorf("line lacks the batch's tags or topic: %s", line)
		}
	}
}

func FuzzEncodeJSON(f *testing.F) {
	f.Add([]byte(processortest.Batch))
	f.Add([]byte(`{"__logs__":[{"a":"日本","n":1.5e3,"o":{"x":[null,true]}}],"__tags__":{"t":"v"}}`))
	f.Add([]byte(`{"__logs__":[{"a":"\ud83d\ude00","b":"\u0000"}],"__source__":null}`))
	f.Add([]byte(`{"__logs__":[{"a":"1","a":"2"}]}`))
	f.Add([]byte(`{"__topic__":"t","__source__":"s","__logs__":[{"__topic__":"a","__source__0":"b"},{"__source__":"c","__topic__0":"d"}]}`))
	f.Add([]byte("{\"__logs__\":[{\"a\":\"\xff\"}]}"))
	f.Add([]byte(`{"__logs__":[]} trailing`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var e logbatch.Encoder
		out, n, err := e.EncodeJSON(nil, body, options())
		if err != nil {
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted a body that is not valid UTF-8 JSON: %q", body)
		}
		var want struct {
			Logs []map[string]any `json:"__logs__"`
		}
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", body, err)
		}
		lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
		if n != len(want.Logs) || (n > 0 && len(lines) != n) || (n == 0 && len(out) != 0) {
			t.Fatalf("%d entries, %d lines, %d logs in %q", n, len(lines), len(want.Logs), body)
		}
		for i, line := range lines[:n] {
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil || !jsontext.Value(line).IsValid() {
				t.Fatalf("line %d is not JSON without duplicate names: %q", i, line)
			}
			for k, v := range want.Logs[i] {
				if s, ok := v.(string); ok && k != "__time__" && got[k] != s {
					t.Fatalf("entry %d field %q: stored %q, sent %q", i, k, got[k], s)
				}
			}
		}
	})
}

// TestTagsCannotAmplify sends a batch whose one large tag every line repeats:
// it must be refused from its computed size, before the lines are built.
func TestTagsCannotAmplify(t *testing.T) {
	body := []byte(`{"__tags__":{"t":"` + strings.Repeat("x", 50<<10) + `"},"__logs__":[{}` + strings.Repeat(",{}", 4095) + `]}`)
	o := options()
	o.MaxOutputBytes = 8 << 20
	var e logbatch.Encoder
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := e.EncodeJSON(nil, body, o)
	runtime.ReadMemStats(&after)
	if err == nil || err.Code.Name != "PostBodyTooLarge" || !strings.Contains(err.Message, "__tags__") {
		t.Fatalf("amplifying batch: %v, want PostBodyTooLarge naming the tags", err)
	}
	// 205 MB of lines were asked for; parsing needs a few hundred KB.
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 2<<20 {
		t.Errorf("refusing the batch allocated %d bytes", allocated)
	}
	// The same entries with a few short tags are a legitimate batch.
	body = []byte(`{"__tags__":{"app":"shop","env":"prod"},"__logs__":[{}` + strings.Repeat(",{}", 4095) + `]}`)
	if _, n, err := e.EncodeJSON(nil, body, o); err != nil || n != 4096 {
		t.Fatalf("4,096 entries with short tags: %d entries, %v", n, err)
	}
}

func TestEveryLineNamesItsRequest(t *testing.T) {
	o := options()
	o.RequestID = "5F3A7F3E2C1D9B8A00000001"
	var e logbatch.Encoder
	out, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"a":"1"},{"a":"2"}]}`), o)
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(out) {
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil || got["__tag__:__request_id__"] != o.RequestID {
			t.Errorf("line %s: request id %q, %v", line, got["__tag__:__request_id__"], err)
		}
	}
	if _, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{}],"__tags__":{"__request_id__":"forged"}}`), o); err == nil || err.Code.Name != "InvalidKey" {
		t.Errorf("a client's __request_id__ tag: %v, want InvalidKey", err)
	}
}

// strictLines splits NDJSON into its lines, each decoded and checked to be
// a JSON object that names no key twice.
func strictLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range bytes.Lines(out) {
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil || !jsontext.Value(bytes.TrimSuffix(line, []byte("\n"))).IsValid() {
			t.Fatalf("line %s is not a JSON object without duplicate names: %v", line, err)
		}
		lines = append(lines, got)
	}
	return lines
}

// TestEntriesWithTheirOwnTopic is the batch of a logger by the service's
// team: __topic__ inside every entry, the batch's own naming the merge. The
// entry's value keeps the name; the batch's is stored as __topic__0, and
// likewise __source__ as __source__0.
func TestEntriesWithTheirOwnTopic(t *testing.T) {
	var e logbatch.Encoder
	body := `{"__topic__":"merged","__source__":"web","__logs__":[` +
		`{"__topic__":"页面","msg":"日本語 😀"},` +
		`{"__topic__":"click","__source__":"button","n":1},` +
		`{"plain":"x"}]}`
	out, n, err := e.EncodeJSON(nil, []byte(body), options())
	if err != nil || n != 3 {
		t.Fatalf("%d entries, %v", n, err)
	}
	lines := strictLines(t, out)
	want := []map[string]any{
		{"__topic__": "页面", "__topic__0": "merged", "__source__": "web", "msg": "日本語 😀"},
		{"__topic__": "click", "__topic__0": "merged", "__source__": "button", "__source__0": "web", "n": "1"},
		{"__topic__": "merged", "__source__": "web", "plain": "x"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %q (%v)", i, k, lines[i][k], v, lines[i])
			}
		}
		for _, k := range []string{"__topic__0", "__source__0"} {
			if _, stored := lines[i][k]; stored && w[k] == nil {
				t.Errorf("line %d has %s although its entry displaced nothing: %v", i, k, lines[i])
			}
		}
	}
	// Naming both the member and where the batch's goes would repeat a key.
	for _, entry := range []string{`{"__topic__":"a","__topic__0":"b"}`, `{"__source__0":"b","__source__":"a"}`} {
		if _, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[`+entry+`]}`), options()); err == nil || err.Code.Name != "InvalidKey" {
			t.Errorf("%s: %v, want InvalidKey", entry, err)
		}
	}
	// Without a member of its own, an entry may use the name.
	if out, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"__topic__0":"b"}]}`), options()); err != nil || strictLines(t, out)[0]["__topic__0"] != "b" {
		t.Errorf("__topic__0 alone: %s %v", out, err)
	}
	// The keys the service refuses stay refused.
	for _, key := range []string{"__partition_time__", "_extract_others_", "__extract_others__"} {
		if _, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"`+key+`":"x"}]}`), options()); err == nil || err.Code.Name != "InvalidKey" {
			t.Errorf("%s: %v, want InvalidKey", key, err)
		}
	}
}

// TestLineLimitCountsDisplacedMembers: a line's size, checked against the
// sink's limit, is exactly what is stored, the 0 of __topic__0 included.
func TestLineLimitCountsDisplacedMembers(t *testing.T) {
	body := []byte(`{"__topic__":"t","__source__":"s","__logs__":[{"__topic__":"own","__source__":"own","a":"b"}]}`)
	var e logbatch.Encoder
	out, _, err := e.EncodeJSON(nil, body, options())
	if err != nil {
		t.Fatal(err)
	}
	// The time takes at most 20 bytes; this one takes 10.
	o := options()
	o.MaxLineBytes = len(out) - 1 + 10
	if _, _, err := e.EncodeJSON(nil, body, o); err != nil {
		t.Errorf("a line that fits the limit: %v", err)
	}
	o.MaxLineBytes--
	if _, _, err := e.EncodeJSON(nil, body, o); err == nil || err.Code.Name != "PostBodyTooLarge" {
		t.Errorf("a line one byte over the limit: %v, want PostBodyTooLarge", err)
	}
}

// TestSourceOfAPostIsNotTheClient: as the service, a POST that names no
// __source__ stores it empty, the address only in __tag__:__client_ip__; a
// GET beacon's source is the address.
func TestSourceOfAPostIsNotTheClient(t *testing.T) {
	var e logbatch.Encoder
	for _, body := range []string{`{"__logs__":[{"a":"b"}]}`, `{"__source__":null,"__logs__":[{"a":"b"}]}`} {
		out, _, err := e.EncodeJSON(nil, []byte(body), options())
		if err != nil {
			t.Fatal(err)
		}
		l := strictLines(t, out)[0]
		if l["__source__"] != "" || l["__tag__:__client_ip__"] != "192.0.2.1" {
			t.Errorf("%s stored source %q, client ip %q; want \"\" and the address", body, l["__source__"], l["__tag__:__client_ip__"])
		}
	}
	out, _, err := e.EncodeQuery(nil, url.Values{"a": {"b"}}, nil, options())
	if err != nil {
		t.Fatal(err)
	}
	if l := strictLines(t, out)[0]; l["__source__"] != "192.0.2.1" {
		t.Errorf("a beacon's source %q, want the client's address", l["__source__"])
	}
	out, _, err = e.EncodeQuery(nil, url.Values{"__source__": {"page"}}, nil, options())
	if err != nil {
		t.Fatal(err)
	}
	if l := strictLines(t, out)[0]; l["__source__"] != "page" {
		t.Errorf("a beacon's own source stored as %q", l["__source__"])
	}
}

// TestRepeatedBeaconParameter: the tracking script the service's documents
// offer lets a page push a key twice, and sends both. The beacon is stored
// with the values joined by commas, in the order sent.
func TestRepeatedBeaconParameter(t *testing.T) {
	q, err := url.ParseQuery("APIVersion=0.6.0&tag=first&tag=second&other=x&tag=%E4%B8%AD")
	if err != nil {
		t.Fatal(err)
	}
	var e logbatch.Encoder
	out, n, apiErr := e.EncodeQuery(nil, q, nil, options())
	if apiErr != nil || n != 1 {
		t.Fatalf("%d entries, %v", n, apiErr)
	}
	if l := strictLines(t, out)[0]; l["tag"] != "first,second,中" || l["other"] != "x" {
		t.Errorf("stored %v, want tag \"first,second,中\" and other \"x\"", l)
	}
	// Joined, a value is bounded as any other.
	q = url.Values{"v": {strings.Repeat("x", logbatch.MaxValueBytes/2), strings.Repeat("y", logbatch.MaxValueBytes/2)}}
	if _, _, apiErr := e.EncodeQuery(nil, q, nil, options()); apiErr == nil || apiErr.Code.Name != "PostBodyInvalid" {
		t.Errorf("joined value over the limit: %v, want PostBodyInvalid", apiErr)
	}
}
