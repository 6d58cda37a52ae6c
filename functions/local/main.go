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
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/webtrack/webtrack/handler/httpserver"
	"github.com/webtrack/webtrack/shared/sink/allsinks"
	"github.com/webtrack/webtrack/shared/startup"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// serve runs the server until SIGTERM or Ctrl-C.
func serve() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := startup.FromEnv(ctx, allsinks.Drivers())
	if err != nil {
		return err
	}
	defer svc.Close()
	cfg := svc.Config
	ln, err := httpserver.Listen(cfg.Addr, cfg, "version", version())
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           httpserver.Handler{Processor: svc.Processor, TrustForwardedFor: cfg.TrustForwardedFor, Sink: httpserver.SinkScheme(cfg)},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	err = httpserver.Serve(ctx, srv, ln, 30*time.Second)
	slog.Info("stopped")
	return err
}
