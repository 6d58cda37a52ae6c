package config_test

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/processor"
)

func TestMemoryBudgetFollowsThePlatform(t *testing.T) {
	for _, c := range []struct {
		name                string
		env                 map[string]string
		budget, memoryLimit int64
	}{
		{"local server", nil, 128 << 20, 256 << 20 / 100 * 85},
		{"function compute", map[string]string{"FC_FUNCTION_MEMORY_SIZE": "1024"}, 512 << 20, 1024 << 20 / 100 * 85},
		{"lambda", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}, 256 << 20, 512 << 20 / 100 * 85},
		// An explicit budget bounds the heap too, with a fixed overhead.
		{"explicit budget", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "WEBTRACK_MAX_INFLIGHT_BYTES": "100000000"}, 100000000, 100000000 + config.MemoryOverheadBytes},
		{"explicit large budget", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "WEBTRACK_MAX_INFLIGHT_BYTES": "400000000"}, 400000000, 512 << 20 / 100 * 85},
	} {
		cfg, err := config.Load(env(c.env))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.Processor.MaxInflightBytes != c.budget || cfg.MemoryLimit != c.memoryLimit {
			t.Errorf("%s: budget %d, memory limit %d; want %d, %d", c.name, cfg.Processor.MaxInflightBytes, cfg.MemoryLimit, c.budget, c.memoryLimit)
		}
	}
}

func TestMemoryBudgetMustFitTheLargestRequest(t *testing.T) {
	for _, kv := range []map[string]string{
		{"WEBTRACK_MAX_INFLIGHT_BYTES": "4194304"},                                // 4 MiB for 3 MiB bodies
		{"FC_FUNCTION_MEMORY_SIZE": "128", "WEBTRACK_MAX_BODY_BYTES": "20000000"}, // 64 MiB for 20 MB bodies
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"},
	} {
		_, err := config.Load(env(kv))
		if err == nil || !strings.Contains(err.Error(), "WEBTRACK_MAX_INFLIGHT_BYTES") && !strings.Contains(err.Error(), "MEMORY_SIZE") {
			t.Errorf("%v: %v, want an error naming the variable", kv, err)
		}
	}
}

// The smallest budget allowed is the most one request may hold, counted as
// admission counts it: WEBTRACK_MAX_ENTRIES counts as well as the body.
func TestSmallestBudgetIsTheLargestRequest(t *testing.T) {
	for _, limits := range []map[string]string{
		{},
		{"WEBTRACK_MAX_BODY_BYTES": "1048576", "WEBTRACK_MAX_ENTRIES": "100000"},
	} {
		cfg, err := config.Load(env(limits))
		if err != nil {
			t.Fatal(err)
		}
		least := processor.MaxRequestCost(cfg.Processor.MaxBodyBytes, cfg.Processor.MaxEntries)
		for budget, ok := range map[int64]bool{least: true, least - 1: false} {
			kv := maps.Clone(limits)
			kv["WEBTRACK_MAX_INFLIGHT_BYTES"] = strconv.FormatInt(budget, 10)
			if _, err := config.Load(env(kv)); (err == nil) != ok {
				t.Errorf("%v: %v, want accepted %v", kv, err, ok)
			}
		}
	}
}

func TestGroupCommitSettings(t *testing.T) {
	cfg, err := config.Load(env(nil))
	if err != nil || !cfg.GroupCommit || cfg.Group.MaxBytes != 16<<20 || cfg.Group.MaxEntries != 100_000 || cfg.Group.Linger != 0 {
		t.Errorf("defaults: %+v %v, want group commit on, 16 MiB, 100,000 entries, no linger", cfg.Group, err)
	}
	cfg, err = config.Load(env(map[string]string{"WEBTRACK_GROUP_COMMIT": "false", "WEBTRACK_GROUP_MAX_BYTES": "1048576", "WEBTRACK_GROUP_MAX_ENTRIES": "5000", "WEBTRACK_GROUP_LINGER": "250ms"}))
	if err != nil || cfg.GroupCommit || cfg.Group.MaxBytes != 1<<20 || cfg.Group.MaxEntries != 5000 || cfg.Group.Linger != 250*time.Millisecond {
		t.Errorf("set: %+v %v", cfg.Group, err)
	}
	for _, kv := range []map[string]string{
		{"WEBTRACK_GROUP_LINGER": "-1s"},
		{"WEBTRACK_GROUP_LINGER": "soon"},
		{"WEBTRACK_GROUP_LINGER": "15s"}, // past the 10 s sink timeout
		{"WEBTRACK_GROUP_MAX_BYTES": "0"},
		{"WEBTRACK_GROUP_COMMIT": "maybe"},
	} {
		if _, err := config.Load(env(kv)); err == nil {
			t.Errorf("%v accepted", kv)
		}
	}
}
