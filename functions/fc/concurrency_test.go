package main

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// TestConcurrentInvocationsShareObjects hands the built function 16
// invocations at once, as Function Compute does with instanceConcurrency
// above 1: every one must answer 200 and store its entries exactly once, in
// fewer objects than invocations (group commit).
func TestConcurrentInvocationsShareObjects(t *testing.T) {
	data := t.TempDir()
	fn := startFC(t, build(t, "."), "WEBTRACK_SINK=file://"+data)
	samples, err := events.Samples("fc-post-json")
	if err != nil || len(samples) != 1 {
		t.Fatalf("the fc-post-json sample: %v", err)
	}
	sample := samples[0]
	const sampleRequestID = "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234"
	if !bytes.Contains(sample.Payload, []byte(sampleRequestID)) {
		t.Fatalf("the sample's request id is not %s", sampleRequestID)
	}
	const invocations = 16
	var wg sync.WaitGroup
	for i := range invocations {
		wg.Go(func() {
			// Each HTTP trigger event carries its own request id.
			id := fmt.Sprintf("1-6744a3f2-%024d", i)
			payload := bytes.ReplaceAll(sample.Payload, []byte(sampleRequestID), []byte(id))
			answer, err := fn.invoke(id, payload)
			if err == nil {
				err = sample.Check(answer)
			}
			if err != nil {
				t.Errorf("invocation %d: %v", i, err)
			}
		})
	}
	wg.Wait()

	objects := processortest.ReadObjects(t, data)
	perRequest := map[string]int{}
	for _, line := range processortest.Lines(objects) {
		perRequest[processortest.Field(t, line, "__tag__:__request_id__")]++
	}
	for i := range invocations {
		id := fmt.Sprintf("1-6744a3f2-%024d", i)
		if perRequest[id] != sample.Want.Entries {
			t.Errorf("invocation %s: %d entries stored, want %d", id, perRequest[id], sample.Want.Entries)
		}
	}
	if len(perRequest) != invocations || len(objects) >= invocations {
		t.Errorf("%d invocations stored %d requests in %d objects, want %d in fewer objects", invocations, len(perRequest), len(objects), invocations)
	}
	t.Logf("%d concurrent invocations, %d objects", invocations, len(objects))
}
