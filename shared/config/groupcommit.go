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
	if v := strings.TrimSpace(r.getenv("WEBTRACK_GROUP_LINGER")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			r.fail("WEBTRACK_GROUP_LINGER", v, "want a duration from 0 to 1m, such as 200ms")
			return
		}
		if d >= cfg.Processor.SinkTimeout {
			r.fail("WEBTRACK_GROUP_LINGER", v, "must be shorter than WEBTRACK_SINK_TIMEOUT, or every lingering request would time out")
			return
		}
		g.Linger = d
	}
}
