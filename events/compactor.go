package events

import (
	"fmt"
	"slices"

	"github.com/webtrack/webtrack/handler/queueevent/queueeventtest"
)

// checkCompactor compares the compactor's answer to a queue event with what
// expected.json wants: status 200 for an answer that is not an error, and
// the message ids in batchItemFailures.
func (s Sample) checkCompactor(answer []byte) error {
	ids, err := queueeventtest.Failures(answer)
	if err != nil {
		return err
	}
	if !slices.Equal(ids, s.Want.BatchItemFailures) {
		return fmt.Errorf("batchItemFailures %q, want %q", ids, s.Want.BatchItemFailures)
	}
	return nil
}
