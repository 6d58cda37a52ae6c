// Command local serves the web-tracking API over plain HTTP, storing on local
// disk by default: `go run ./functions/local`. It listens on 127.0.0.1:8080,
// or WEBTRACK_ADDR, or :$PORT on container platforms, and stops gracefully on
// SIGTERM or Ctrl-C without losing a request in flight.
package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
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
	p, closeSink, err := startup.FromEnv(ctx)
	if err != nil {
		return err
	}
	defer closeSink()
	trustXFF, err := strconv.ParseBool(cmp.Or(os.Getenv("WEBTRACK_TRUST_FORWARDED_FOR"), "false"))
	if err != nil {
		return fmt.Errorf("WEBTRACK_TRUST_FORWARDED_FOR: want true or false: %w", err)
	}
	ln, err := net.Listen("tcp", listenAddr())
	if err != nil {
		return err
	}
	slog.Info("listening", "addr", ln.Addr().String())
	srv := &http.Server{
		Handler:           httpserver.Handler{Processor: p, TrustForwardedFor: trustXFF},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	err = httpserver.Serve(ctx, srv, ln, 30*time.Second)
	slog.Info("stopped")
	return err
}

func listenAddr() string {
	if addr := os.Getenv("WEBTRACK_ADDR"); addr != "" {
		return addr
	}
	if port := os.Getenv("PORT"); port != "" {
		return ":" + port
	}
	return "127.0.0.1:8080"
}
