// Command local serves the web-tracking API over plain HTTP, storing on local
// disk by default: `go run ./functions/local`, or build it once with
// `go build -o bin/webtrack ./functions/local` and run bin/webtrack. It
// listens on 127.0.0.1:8080, or WEBTRACK_ADDR, or :$PORT on container
// platforms, and stops gracefully on SIGTERM or Ctrl-C without losing a
// request in flight. `webtrack --help` lists its commands and settings.
package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/webtrack/webtrack/handler/httpserver"
	"github.com/webtrack/webtrack/shared/sink"
	_ "github.com/webtrack/webtrack/shared/sink/allsinks" // every sink driver
	"github.com/webtrack/webtrack/shared/startup"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// serve runs the server until SIGTERM or Ctrl-C.
func serve() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := startup.FromEnv(ctx)
	if err != nil {
		return err
	}
	defer svc.Close()
	cfg := svc.Config
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	p := cfg.Processor
	slog.Info("listening", "addr", ln.Addr().String(), "sink", sink.Redact(cfg.SinkURL),
		"projects", p.Projects, "logstores", p.Logstores, "disabled_logstores", p.DisabledLogstores, "signed_logstores", p.SignedLogstores,
		"token_keys", p.Tokens.KeyIDs(), "allowed_origins", p.AllowedOrigins,
		"max_body_bytes", p.MaxBodyBytes, "max_entries", p.MaxEntries, "max_inflight_bytes", p.MaxInflightBytes,
		"group_commit", cfg.GroupCommit, "version", version())
	scheme := ""
	if u, err := url.Parse(cfg.SinkURL); err == nil {
		scheme = u.Scheme
	}
	srv := &http.Server{
		Handler:           httpserver.Handler{Processor: svc.Processor, TrustForwardedFor: cfg.TrustForwardedFor, Sink: scheme},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	err = httpserver.Serve(ctx, srv, ln, 30*time.Second)
	slog.Info("stopped")
	return err
}
