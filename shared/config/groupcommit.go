package config

import (
	"strings"
	"time"
)

// groupCommit reads the group commit settings: WEBTRACK_GROUP_COMMIT turns
// it off; WEBTRACK_GROUP_MAX_BYTES and WEBTRACK_GROUP_MAX_ENTRIES bound a
// group; WEBTRACK_GROUP_LINGER lets a group wait for more members.
func (r *reader) groupCommit(cfg *Config) {
	r.bool("WEBTRACK_GROUP_COMMIT", &cfg.GroupCommit)
	g := &cfg.Group
	r.int("WEBTRACK_GROUP_MAX_BYTES", &g.MaxBytes, 1<<10, 1<<30)
	r.int("WEBTRACK_GROUP_MAX_ENTRIES", &g.MaxEntries, 1, 1<<24)
	const linger = "WEBTRACK_GROUP_LINGER"
	if r.duration(linger, &g.Linger, 0, time.Minute, "want a duration from 0 to 1m, such as 200ms") && g.Linger >= cfg.Processor.SinkTimeout {
		r.fail(linger, strings.TrimSpace(r.getenv(linger)), "must be shorter than WEBTRACK_SINK_TIMEOUT, or every lingering request would time out")
	}
}
