package processor_test

import (
	"testing"

	"github.com/webtrack/webtrack/shared/processor/processortest"
)

func TestProtocolCases(t *testing.T) {
	processortest.Run(t, processortest.Handle)
}
