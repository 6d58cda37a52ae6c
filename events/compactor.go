package events

import (
	"encoding/json"
	"fmt"
	"slices"
)

// checkCompactor compares the compactor's answer to a queue event with what
// expected.json wants: status 200 for an answer that is not an error, and
// the message ids in batchItemFailures.
func (s Sample) checkCompactor(answer []byte) error {
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return fmt.Errorf("answer %s: %w", answer, err)
	}
	if r.ErrorMessage != "" || r.BatchItemFailures == nil {
		return fmt.Errorf("answer %s, want batchItemFailures (status %d)", answer, s.Want.Status)
	}
	var ids []string
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	if !slices.Equal(ids, s.Want.BatchItemFailures) {
		return fmt.Errorf("batchItemFailures %q, want %q", ids, s.Want.BatchItemFailures)
	}
	return nil
}
