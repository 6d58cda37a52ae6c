// Package httpserver is the front door for a plain HTTP server: the local
// server, a container, or a custom runtime. It turns a net/http request into
// the processor's request and writes the processor's response back.
package httpserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/webtrack/webtrack/handler/gateway"
	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink"
)

// Handler serves track requests with a processor.
type Handler struct {
	Processor *processor.Processor
	// TrustForwardedFor takes the client address from the last entry of
	// X-Forwarded-For, the one the proxy in front of the server added. Set
	// it only behind such a proxy: anyone can send the header.
	TrustForwardedFor bool
	// RequestIDHeader, when set, names the header that carries the
	// platform's id for the request (x-fc-request-id on Function Compute),
	// which becomes the request id: answered as x-log-requestid and stored.
	// Set it only behind a platform that sets the header and refuses it from
	// clients.
	RequestIDHeader string
	// Sink is the sink's URL scheme, which HealthPath reports.
	Sink string
}

// HealthPath answers 200 with {"status":"ok","sink":"<scheme>"} while the
// server runs, for load balancers and probes. It is no track request: the
// processor never sees it, and it is not logged.
const HealthPath = "/healthz"

// ServeHTTP answers one request.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == HealthPath {
		h.health(w, r)
		return
	}
	resp := h.Processor.Handle(r.Context(), h.request(r))
	header := w.Header()
	for k, v := range resp.Header {
		header[k] = v
	}
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

// health answers HealthPath.
func (h Handler) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	body, _ := json.Marshal(struct {
		Status string `json:"status"`
		Sink   string `json:"sink"`
	}{"ok", h.Sink})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// request converts r. The processor reads the body itself, once the request
// is admitted within its memory budget, and answers a failed read.
func (h Handler) request(r *http.Request) *processor.Request {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	if h.TrustForwardedFor {
		if v := gateway.LastForwardedFor(r.Header); v != "" {
			ip = v
		}
	}
	return &processor.Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		Host:          r.Host,
		Query:         r.URL.Query(),
		Header:        r.Header,
		BodyReader:    r.Body,
		ContentLength: r.ContentLength,
		ClientIP:      ip,
		ID:            h.requestID(r),
	}
}

// requestID is the platform's id for r, or "" for none.
func (h Handler) requestID(r *http.Request) string {
	if h.RequestIDHeader == "" {
		return ""
	}
	return r.Header.Get(h.RequestIDHeader)
}

// Listen listens on addr and logs that it does, with the settings that
// decide what the server accepts and the attributes more: the line that
// launchers and tests wait for ("listening", with the address).
func Listen(addr string, cfg config.Config, more ...any) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := cfg.Processor
	slog.Info("listening", append([]any{"addr", ln.Addr().String(), "sink", sink.Redact(cfg.SinkURL),
		"projects", p.Projects, "logstores", p.Logstores, "disabled_logstores", p.DisabledLogstores, "signed_logstores", p.SignedLogstores,
		"token_keys", p.Tokens.KeyIDs(), "allowed_origins", p.AllowedOrigins,
		"max_body_bytes", p.MaxBodyBytes, "max_entries", p.MaxEntries, "max_inflight_bytes", p.MaxInflightBytes,
		"group_commit", cfg.GroupCommit}, more...)...)
	return ln, nil
}

// SinkScheme is the scheme of cfg's sink URL, for Handler.Sink.
func SinkScheme(cfg config.Config) string {
	if u, err := url.Parse(cfg.SinkURL); err == nil {
		return u.Scheme
	}
	return ""
}

// Serve runs srv on ln until ctx is done, then shuts it down gracefully: it
// stops accepting, lets every in-flight request finish (and be stored) for
// up to grace, and returns.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; err != http.ErrServerClosed {
		return err
	}
	return nil
}
