package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/webtrack/webtrack/shared/processor"
)

// DefaultMemoryBytes is the memory assumed for the local server, which no
// platform sizes.
const DefaultMemoryBytes = 256 << 20

// MemoryOverheadBytes is what the process holds beyond the in-flight
// budget: the runtime, the sink's client, pooled buffers and the garbage
// the collector has yet to reclaim.
const MemoryOverheadBytes = 64 << 20

// memory reads how much memory the instance has: the function's size on
// Function Compute (FC_FUNCTION_MEMORY_SIZE) or Lambda
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), both in MB, else DefaultMemoryBytes.
// From it come the Go memory limit, 85% of it (or a budget set by
// WEBTRACK_MAX_INFLIGHT_BYTES and MemoryOverheadBytes, if less), which leaves the rest to the runtime's own
// memory and the platform, and the default in-flight budget, half of it,
// which leaves the other half to the collector's headroom, pooled buffers
// and the sink's clients.
func (r *reader) memory(cfg *Config) {
	memory := int64(DefaultMemoryBytes)
	for _, name := range []string{"FC_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"} {
		if v := strings.TrimSpace(r.getenv(name)); v != "" {
			mb, err := strconv.ParseInt(v, 10, 64)
			if err != nil || mb < 64 {
				r.fail(name, v, "want the function's memory in MB, at least 64")
				return
			}
			memory = mb << 20
			break
		}
	}
	cfg.MemoryLimit = memory / 100 * 85
	p := &cfg.Processor
	p.MaxInflightBytes = memory / 2
	budget := int(p.MaxInflightBytes)
	r.int("WEBTRACK_MAX_INFLIGHT_BYTES", &budget, 1<<20, 1<<40)
	p.MaxInflightBytes = int64(budget)
	// The collector keeps the heap near what requests hold, not up to twice
	// it: a budget set below the default bounds the process's memory too,
	// with room for the runtime, pooled buffers and the sink's client.
	if r.getenv("WEBTRACK_MAX_INFLIGHT_BYTES") != "" {
		cfg.MemoryLimit = min(cfg.MemoryLimit, p.MaxInflightBytes+MemoryOverheadBytes)
	}
	// The largest request must fit, counted as admission counts it.
	if need := processor.MaxRequestCost(p.MaxBodyBytes, p.MaxEntries); p.MaxInflightBytes < need {
		r.fail("WEBTRACK_MAX_INFLIGHT_BYTES", strconv.FormatInt(p.MaxInflightBytes, 10),
			fmt.Sprintf("a request of WEBTRACK_MAX_BODY_BYTES (%d) and WEBTRACK_MAX_ENTRIES (%d) may need %d bytes in flight: raise the budget (or the function's memory) or lower the limits", p.MaxBodyBytes, p.MaxEntries, need))
	}
}
