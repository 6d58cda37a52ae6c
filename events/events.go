// Package events holds the sample events of every front door, the files that
// `sam local invoke -e` and `s local invoke --event-file` take, and what each
// must answer (expected.json). Tests replay them through the adapters, the
// built Lambda binary under the Runtime Interface Emulator and the built FC
// binary under a runtime API harness.
package events

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/processor/processortest"
)

//go:embed *.json
var files embed.FS

// Want is a sample event's entry in expected.json.
type Want struct {
	Status int `json:"status"`
	// Entries is how many log entries the event stores.
	Entries int `json:"entries"`
	// Code is the errorCode of a rejected request.
	Code string `json:"code,omitempty"`
	// BatchItemFailures are the message ids that a compactor sample's
	// answer must list, in order.
	BatchItemFailures []string `json:"batchItemFailures,omitempty"`
}

// Sample is one sample event file.
type Sample struct {
	Name    string
	Payload []byte
	Want    Want
}

// Samples returns the sample events whose names start with prefix ("fc-",
// "lambda-"), failing if a file is missing from expected.json or
// expected.json names a file that is not there.
func Samples(prefix string) ([]Sample, error) {
	raw, err := files.ReadFile("expected.json")
	if err != nil {
		return nil, err
	}
	var manifest map[string]Want
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, fmt.Errorf("expected.json: %w", err)
	}
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, err
	}
	var samples []Sample
	for _, n := range names {
		if n == "expected.json" {
			continue
		}
		want, ok := manifest[n]
		if !ok {
			return nil, fmt.Errorf("%s is not in expected.json", n)
		}
		delete(manifest, n)
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		payload, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		samples = append(samples, Sample{Name: n, Payload: payload, Want: want})
	}
	for n := range manifest {
		return nil, fmt.Errorf("expected.json names %s, which is not in events/", n)
	}
	return samples, nil
}

// Check compares a function's JSON answer to the sample with what
// expected.json wants. A GIF must come base64-encoded.
func (s Sample) Check(answer []byte) error {
	if strings.HasPrefix(s.Name, "compactor-") {
		return s.checkCompactor(answer)
	}
	var r struct {
		StatusCode      int
		Body            string
		IsBase64Encoded bool
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return fmt.Errorf("answer %s: %w", answer, err)
	}
	if r.StatusCode != s.Want.Status {
		return fmt.Errorf("status %d, want %d (body %s)", r.StatusCode, s.Want.Status, r.Body)
	}
	if s.Want.Code != "" && !strings.Contains(r.Body, `"errorCode":"`+s.Want.Code+`"`) {
		return fmt.Errorf("body %s, want errorCode %s", r.Body, s.Want.Code)
	}
	if strings.Contains(s.Name, "-gif") {
		gif, err := base64.StdEncoding.DecodeString(r.Body)
		if !r.IsBase64Encoded || err != nil || !bytes.HasPrefix(gif, []byte("GIF89a")) {
			return fmt.Errorf("body %q (base64 %v), want a base64 GIF", r.Body, r.IsBase64Encoded)
		}
	}
	return nil
}

// Replay hands each sample to invoke, in order, and checks its answer and
// how many entries it added to the file sink rooted at dataDir.
func Replay(t *testing.T, samples []Sample, dataDir string, invoke func(i int, s Sample) ([]byte, error)) {
	t.Helper()
	stored := 0
	for i, s := range samples {
		answer, err := invoke(i, s)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if err := s.Check(answer); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		n := len(processortest.Lines(processortest.ReadObjects(t, dataDir)))
		if n-stored != s.Want.Entries {
			t.Errorf("%s: %d entries stored, want %d", s.Name, n-stored, s.Want.Entries)
		}
		stored = n
	}
}
