package config

import (
	"fmt"
	"slices"
	"strings"
)

// Prefix starts the name of every webtrack setting.
const Prefix = "WEBTRACK_"

// Setting is an environment variable that Load reads, with one line of help.
type Setting struct {
	Name, Help string
}

// help is the one line that --help prints for each setting; README.md's
// Configuration table says the rest. The tests check that it names exactly
// the variables Load reads.
var help = map[string]string{
	"WEBTRACK_SINK":                "where batches are stored, a sink URL (default file://./data)",
	AllowLocalFileSink:             "true allows a file:// sink on Lambda or Function Compute, for a mounted EFS or NAS path",
	"WEBTRACK_DEFAULT_PROJECT":     "the project when the Host names none (default default)",
	"WEBTRACK_ENDPOINTS":           "comma-separated domains under which the Host's first label is the project",
	"WEBTRACK_PROJECTS":            "comma-separated projects that exist, names or patterns (default *)",
	"WEBTRACK_LOGSTORES":           "comma-separated logstores that accept data, names, patterns or project/logstore (default *)",
	"WEBTRACK_DISABLED_LOGSTORES":  "comma-separated logstores that answer 401, same patterns",
	"WEBTRACK_SIGNED_LOGSTORES":    "comma-separated logstores that take only signed writes (the SDK's STS mode), same patterns",
	TokenSecrets:                   "comma-separated secrets of signed writes' credentials: the first mints, every one verifies",
	"WEBTRACK_ALLOWED_ORIGINS":     "comma-separated browser origins that may send data, such as https://shop.example.com or https://*.example.com (default *)",
	"WEBTRACK_MAX_BODY_BYTES":      "largest raw (decompressed) body (default 3145728)",
	"WEBTRACK_MAX_ENTRIES":         "most entries in one request (default 4096)",
	"WEBTRACK_CLIENT_METADATA":     "add __tag__:__client_ip__ and __tag__:__receive_time__ to every entry (default true)",
	"WEBTRACK_CLIENT_TIME":         "keep a valid __time__ sent by the client (default false)",
	"WEBTRACK_SINK_TIMEOUT":        "longest time to store one batch (default 10s)",
	"WEBTRACK_MAX_INFLIGHT_BYTES":  "memory that requests may hold at once (default half the instance's memory)",
	"WEBTRACK_GROUP_COMMIT":        "let concurrent requests for one partition share one write (default true)",
	"WEBTRACK_GROUP_MAX_BYTES":     "largest group, in NDJSON bytes (default 16777216)",
	"WEBTRACK_GROUP_MAX_ENTRIES":   "most entries in one group (default 100000)",
	"WEBTRACK_GROUP_LINGER":        "how long a group waits for more members (default 0)",
	"WEBTRACK_EMF_METRICS":         "CloudWatch metrics in each request line (default true on Lambda)",
	"WEBTRACK_ADDR":                "local server: listen address, host:port (default 127.0.0.1:8080)",
	"PORT":                         "local server: listen on :$PORT when WEBTRACK_ADDR is unset",
	"WEBTRACK_TRUST_FORWARDED_FOR": "local server: take the client address from X-Forwarded-For (default false)",
	"WEBTRACK_LOG_LEVEL":           "debug, info, warn or error (default info)",
}

// read lists the variables Load reads, in the order it reads them, found by
// running it: the list cannot drift from what Load does.
func read() []string {
	var names []string
	Load(func(name string) string {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return ""
	})
	return names
}

// Settings lists the variables a user sets (WEBTRACK_* and PORT) in the
// order Load reads them, each with its help. The platform's own variables,
// which Load reads too, are left out.
func Settings() []Setting {
	var s []Setting
	for _, name := range read() {
		if strings.HasPrefix(name, Prefix) || name == "PORT" {
			s = append(s, Setting{name, help[name]})
		}
	}
	return s
}

// Unknown returns a warning for each WEBTRACK_* variable in environ (NAME=value
// pairs, as os.Environ gives them) that Load does not read, such as a
// misspelt setting, naming the setting it most resembles if any.
func Unknown(environ []string) []string {
	var known []string
	for _, s := range Settings() {
		if strings.HasPrefix(s.Name, Prefix) {
			known = append(known, s.Name)
		}
	}
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(strings.ToUpper(name), Prefix) || slices.Contains(known, name) {
			continue
		}
		if guess := closest(name, known); guess != "" {
			warnings = append(warnings, fmt.Sprintf("%s is not a setting; did you mean %s?", name, guess))
		} else {
			warnings = append(warnings, fmt.Sprintf("%s is not a setting and is ignored (webtrack --help lists them)", name))
		}
	}
	return warnings
}

// closest returns the known name that name most likely misspells: one
// within 3 edits of it (case aside), else the shortest that contains it or
// that it contains (WEBTRACK_ORIGINS for WEBTRACK_ALLOWED_ORIGINS). It
// returns "" when none is close.
func closest(name string, known []string) string {
	word := strings.TrimPrefix(strings.ToUpper(name), Prefix)
	best, bestDist := "", 4
	for _, k := range known {
		if d := distance(word, strings.TrimPrefix(k, Prefix)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" || len(word) < 4 {
		return best
	}
	for _, k := range known {
		kw := strings.TrimPrefix(k, Prefix)
		if (strings.Contains(kw, word) || strings.Contains(word, kw)) && (best == "" || len(k) < len(best)) {
			best = k
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
