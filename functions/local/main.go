// Command local serves the web-tracking API over plain HTTP, storing on local
// disk by default: `go run ./functions/local`. It listens on 127.0.0.1:8080,
// or WEBTRACK_ADDR, or :$PORT on container platforms, and stops gracefully on
// SIGTERM or Ctrl-C without losing a request in flight.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/webtrack/webtrack/handler/httpserver"
	_ "github.com/webtrack/webtrack/shared/sink/allsinks" // every sink driver
	"github.com/webtrack/webtrack/shared/startup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "webtrack:", err)
		os.Exit(1)
	}
}

func run() error {
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
	slog.Info("listening", "addr", ln.Addr().String())
	srv := &http.Server{
		Handler:           httpserver.Handler{Processor: svc.Processor, TrustForwardedFor: cfg.TrustForwardedFor},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	err = httpserver.Serve(ctx, srv, ln, 30*time.Second)
	slog.Info("stopped")
	return err
}
