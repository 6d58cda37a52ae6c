package processor

import (
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/webtrack/webtrack/shared/ststoken"
)

// Config is the processor's policy. DefaultConfig gives the protocol's
// defaults; shared/config reads it from the environment.
type Config struct {
	// DefaultProject names the project when the Host carries none.
	DefaultProject string
	// Endpoints are the domains under which the Host's first label names
	// the project, as in {project}.{endpoint}. Any other Host means
	// DefaultProject.
	Endpoints []string
	// Projects are the projects that exist (patterns as in path.Match; "*"
	// for any). Others answer 404 ProjectNotExist.
	Projects []string
	// Logstores are the logstores that accept web tracking: patterns
	// matched against the logstore name, or against "project/logstore" when
	// they contain a '/'. Others answer 404 LogStoreNotExist.
	Logstores []string
	// DisabledLogstores exist but have web tracking switched off: they
	// answer 401. Same patterns as Logstores; they win over Logstores.
	DisabledLogstores []string
	// SignedLogstores take only signed writes (POST /logstores/{logstore}):
	// an anonymous request answers 401. Same patterns as Logstores.
	SignedLogstores []string
	// Tokens checks the credentials of signed writes; nil refuses them all
	// with InvalidAccessKeyId.
	Tokens *ststoken.Keyring
	// AllowedOrigins are the browser origins that may send data ("*" for
	// any). A request whose Origin is not allowed answers 403.
	AllowedOrigins []string
	// MaxBodyBytes bounds a request body before and after decompression.
	MaxBodyBytes int
	// MaxEntries bounds the entries of one request.
	MaxEntries int
	// MaxInflightBytes bounds the memory that requests hold at once (body,
	// decompressed body and stored lines, counted before they are
	// allocated). A request that does not fit waits for room until its
	// deadline; zero means no bound.
	MaxInflightBytes int64
	// ClientMetadata adds __tag__:__client_ip__ and __tag__:__receive_time__.
	ClientMetadata bool
	// ClientTime keeps a valid __time__ sent by the client (the service
	// replaces it with the receive time). Signed writes always keep it.
	ClientTime bool
	// SinkTimeout bounds one store; the function's own deadline, less
	// ResponseMargin, bounds it too.
	SinkTimeout time.Duration
	// ResponseMargin is the time kept back from the function's deadline to
	// send the response after a failed store.
	ResponseMargin time.Duration
	// EMFMetrics adds CloudWatch Embedded Metric Format members to each
	// request line, from which CloudWatch Logs extracts metrics.
	EMFMetrics bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig is the service's behaviour: 3 MiB and 4,096 entries per
// request, every logstore open, any origin, client metadata recorded.
func DefaultConfig() Config {
	return Config{
		DefaultProject: "default",
		Projects:       []string{"*"},
		Logstores:      []string{"*"},
		AllowedOrigins: []string{"*"},
		MaxBodyBytes:   3 << 20,
		MaxEntries:     4096,
		ClientMetadata: true,
		SinkTimeout:    10 * time.Second,
		ResponseMargin: DefaultResponseMargin,
	}
}

// DefaultResponseMargin is the time kept back from a function's deadline to
// answer after a failed store.
const DefaultResponseMargin = 300 * time.Millisecond

// MaxQueryBytes bounds a GET request's query, as the service bounds its
// GET requests to 16 KB.
const MaxQueryBytes = 16 << 10

// maxOutputBytes bounds the stored lines of one request: twice the raw body
// limit, plus 512 bytes per entry for the fields every line repeats. Only a
// batch whose tags are repeated on many entries reaches it.
func maxOutputBytes(maxBodyBytes, maxEntries int) int { return 2*maxBodyBytes + 512*maxEntries }

// maxRequestBytes is the largest body a request may carry as sent: the raw
// limit, plus what LZ4 adds to incompressible data.
func maxRequestBytes(maxBodyBytes int) int { return lz4.CompressBlockBound(maxBodyBytes) }

// projectFromHost returns the project a Host names, or "" if it names none.
func (c *Config) projectFromHost(host string) string {
	host = strings.ToLower(stripPort(host))
	for _, endpoint := range c.Endpoints {
		if label, ok := strings.CutSuffix(host, "."+strings.ToLower(endpoint)); ok && !strings.Contains(label, ".") {
			return label
		}
	}
	return ""
}

func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// matchAny says whether project/logstore matches any pattern.
func matchAny(patterns []string, project, logstore string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		name := logstore
		if strings.Contains(p, "/") {
			name = project + "/" + logstore
		}
		ok, _ := path.Match(p, name)
		return ok
	})
}

// originAllowed says whether a browser origin may send data: any origin for
// "*", the origin itself, or for scheme://*.domain[:port] any subdomain of
// domain (at any depth) on that scheme and port, but not domain itself.
func (c *Config) originAllowed(origin string) bool {
	origin = strings.ToLower(origin)
	return origin == "" || slices.ContainsFunc(c.AllowedOrigins, func(p string) bool {
		p = strings.ToLower(p)
		if p == "*" || p == origin {
			return true
		}
		scheme, domain, wild := strings.Cut(p, "://*.")
		host, sameScheme := strings.CutPrefix(origin, scheme+"://")
		sub, under := strings.CutSuffix(host, "."+domain)
		return wild && sameScheme && under && sub != "" && !strings.ContainsFunc(sub, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '.'
		})
	})
}
