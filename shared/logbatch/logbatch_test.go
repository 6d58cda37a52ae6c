package logbatch_test

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
	// "\u005f_topic__" is "__topic__".
	if _, _, err := e.EncodeJSON(nil, []byte(`{"__logs__":[{"\u005f_topic__":"x"}]}`), options()); err == nil || err.Code.Name != "InvalidKey" {
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
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("line %d is not JSON: %q", i, line)
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
