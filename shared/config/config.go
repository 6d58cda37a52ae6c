// Package config reads webtrack's configuration from environment variables,
// the one configuration both Function Compute and Lambda give a function. It
// is read once at start and every bad value is reported with its variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink/groupcommit"
)

// Config is everything a function needs to start.
type Config struct {
	Processor processor.Config
	// SinkURL names where batches are stored (WEBTRACK_SINK).
	SinkURL  string
	LogLevel slog.Level
	// Addr is the local server's listen address (WEBTRACK_ADDR, else :$PORT).
	Addr string
	// TrustForwardedFor makes the local server take the client address from
	// X-Forwarded-For (WEBTRACK_TRUST_FORWARDED_FOR).
	TrustForwardedFor bool
	// MemoryLimit is the Go memory limit for the instance's memory.
	MemoryLimit int64
	// GroupCommit lets concurrent requests for one partition share one
	// write (WEBTRACK_GROUP_COMMIT), within Group's bounds.
	GroupCommit bool
	Group       groupcommit.Options
}

// DefaultSinkURL stores under ./data, the embedded default.
const DefaultSinkURL = "file://./data"

// DefaultAddr is the local server's listen address when neither WEBTRACK_ADDR
// nor PORT is set.
const DefaultAddr = "127.0.0.1:8080"

// MaxBodyLimit is the largest WEBTRACK_MAX_BODY_BYTES accepted: more than a
// function's request payload limit could ever carry.
const MaxBodyLimit = 64 << 20

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	cfg := Config{Processor: processor.DefaultConfig(), SinkURL: DefaultSinkURL, Addr: DefaultAddr, GroupCommit: true, Group: groupcommit.DefaultOptions()}
	p := &cfg.Processor
	r.string("WEBTRACK_SINK", &cfg.SinkURL)
	r.homeInFileSink(cfg.SinkURL)
	r.fileSinkOnFunction(cfg.SinkURL)
	r.project("WEBTRACK_DEFAULT_PROJECT", &p.DefaultProject)
	r.domains("WEBTRACK_ENDPOINTS", &p.Endpoints)
	r.patterns("WEBTRACK_PROJECTS", &p.Projects)
	r.patterns("WEBTRACK_LOGSTORES", &p.Logstores)
	r.patterns("WEBTRACK_DISABLED_LOGSTORES", &p.DisabledLogstores)
	r.patterns("WEBTRACK_SIGNED_LOGSTORES", &p.SignedLogstores)
	r.tokens(p)
	r.origins("WEBTRACK_ALLOWED_ORIGINS", &p.AllowedOrigins)
	r.int("WEBTRACK_MAX_BODY_BYTES", &p.MaxBodyBytes, 1, MaxBodyLimit)
	r.int("WEBTRACK_MAX_ENTRIES", &p.MaxEntries, 1, 1<<20)
	r.bool("WEBTRACK_CLIENT_METADATA", &p.ClientMetadata)
	r.bool("WEBTRACK_CLIENT_TIME", &p.ClientTime)
	r.duration("WEBTRACK_SINK_TIMEOUT", &p.SinkTimeout, 1, math.MaxInt64, "want a positive duration such as 10s or 1500ms")
	r.memory(&cfg)
	r.groupCommit(&cfg)
	r.metrics(&cfg)
	r.listenAddr(&cfg.Addr)
	r.bool("WEBTRACK_TRUST_FORWARDED_FOR", &cfg.TrustForwardedFor)
	if v := getenv("WEBTRACK_LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			r.fail("WEBTRACK_LOG_LEVEL", v, "want debug, info, warn or error")
		}
	}
	return cfg, errors.Join(r.errs...)
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, value, why string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

func (r *reader) string(name string, dst *string) {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		*dst = v
	}
}

// list reads a comma-separated list. An item with a space in it is refused:
// no name, pattern, domain or origin holds one, so it is a list separated
// by spaces, whose one item would match nothing.
func (r *reader) list(name string, dst *[]string) {
	v := r.getenv(name)
	if strings.TrimSpace(v) == "" {
		return
	}
	*dst = nil
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if strings.ContainsFunc(item, unicode.IsSpace) {
			r.fail(name, v, "the list is comma-separated: write "+strings.Join(strings.Fields(strings.ReplaceAll(v, ",", " ")), ","))
			*dst = nil
			return
		}
		if item != "" {
			*dst = append(*dst, item)
		}
	}
}

func (r *reader) patterns(name string, dst *[]string) {
	r.list(name, dst)
	for _, p := range *dst {
		if _, err := path.Match(p, ""); err != nil || strings.Count(p, "/") > 1 {
			r.fail(name, p, "not a name pattern: use names, * and ?, optionally as project/logstore")
		} else if strings.ToLower(p) != p {
			r.fail(name, p, "names are lowercase, so a pattern with upper-case letters matches none")
		}
	}
}

// origins reads browser origins: *, scheme://host[:port], or
// scheme://*.domain[:port] for every subdomain of domain.
func (r *reader) origins(name string, dst *[]string) {
	r.list(name, dst)
	for _, o := range *dst {
		_, host, _ := strings.Cut(o, "://")
		domain, wild := strings.CutPrefix(host, "*.")
		domain, _, _ = strings.Cut(domain, ":")
		switch {
		case o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") || strings.HasSuffix(o, "/"):
			r.fail(name, o, "an origin is * or scheme://host[:port], without a path")
		case o != "*" && strings.Contains(domain, "*") || wild && !validDomain(domain):
			r.fail(name, o, "a wildcard in an origin stands for subdomains, first in the host: https://*.example.com")
		}
	}
}

func (r *reader) int(name string, dst *int, lo, hi int) {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
		return
	}
	*dst = n
}

func (r *reader) bool(name string, dst *bool) {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, "want true or false")
		return
	}
	*dst = b
}

// duration reads a duration from lo to hi into dst, refusing anything else
// with want; it says whether the variable was set to such a duration.
func (r *reader) duration(name string, dst *time.Duration, lo, hi time.Duration, want string) bool {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail(name, v, want)
		return false
	}
	*dst = d
	return true
}
