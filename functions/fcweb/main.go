// Command fcweb is webtrack's Function Compute 3.0 function for a custom
// runtime, built as the code package's bootstrap: an HTTP server that
// Function Compute starts and hands each HTTP trigger request to, many at
// once (instance concurrency), so that concurrent requests share stored
// objects (group commit) as on the local server. It is reachable only
// through Function Compute, whose x-fc-* request headers it trusts.
//
// The platform's contract, as documented:
//   - it listens on 0.0.0.0 (not 127.0.0.1) at FC_CUSTOM_LISTEN_PORT, 9000 by
//     default ("Must the listening port of a custom runtime be the same as
//     that of the HTTP server?",
//     https://www.alibabacloud.com/help/en/functioncompute/fc/must-the-listening-port-of-a-custom-runtime-be-the-same-as-that-of-the-http-server-of-the-custom-runtime;
//     FC_CUSTOM_LISTEN_PORT among the system environment variables,
//     https://www.alibabacloud.com/help/en/functioncompute/fc/environment-variables);
//     start-up makes no network call, so the port opens at once;
//   - x-fc-request-id is the request id ("Context and log format",
//     https://alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/context-and-log-format-1),
//     and a client cannot send an x-fc-* header through Function Compute
//     ("Web functions", limits,
//     https://www.alibabacloud.com/help/en/functioncompute/fc/web-functions);
//   - the client address is the last X-Forwarded-For entry: Function Compute
//     is the proxy in front of the server, and the entries before the one it
//     adds are the client's to forge ("How do I obtain the original IP
//     address of a client…",
//     https://www.alibabacloud.com/help/en/functioncompute/fc/how-to-get-the-original-ip-address-of-the-client-when-the-http-trigger-calls-the-built-in-runtime-function);
//   - the role's temporary credentials are in the environment at start
//     (environment variables page above), valid for 36 hours
//     (https://help.aliyun.com/en/functioncompute/context-1-1), and fresh
//     ones come with every request in x-fc-access-key-id,
//     x-fc-access-key-secret and x-fc-security-token (context page above;
//     the Debian 11 runtime no longer sends the token,
//     https://alibabacloud.com/help/tc/functioncompute/context-and-log-format-1,
//     and then the environment's are used);
//   - FC_FUNCTION_MEMORY_SIZE sizes the admission budget (shared/config);
//   - an instance is frozen between requests and destroyed after a PreStop
//     hook if one is configured
//     (https://www.alibabacloud.com/help/en/functioncompute/fc/lifecycle-hooks-for-function-instances-in-a-custom-runtime):
//     every request's batch is stored before it is answered, so nothing is
//     pending when no request runs and no hook is needed; on SIGTERM the
//     server stops accepting and lets every request in flight be stored and
//     answered before it exits.
//
// WEBTRACK_ADDR, PORT and WEBTRACK_TRUST_FORWARDED_FOR do not apply here.
package main

import (
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
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink/osssink"
	"github.com/webtrack/webtrack/shared/startup"
)

// Server timeouts. Only Function Compute's front end connects, and it sends
// a request's header at once. Function Compute ends every request at the
// function's timeout (s.yaml: 10 s), which so bounds a body's arrival
// first; readTimeout, answered 408, is the backstop for a function given a
// longer one. Idle connections are the front end's to close: a frozen
// instance's timers would fire as it thaws, closing connections just as a
// request arrives on them.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	noIdleTimeout     = -1
	// grace is how long a SIGTERM waits for the requests in flight.
	grace = 30 * time.Second
)

// defaultPort is Function Compute's when FC_CUSTOM_LISTEN_PORT is unset.
const defaultPort = "9000"

func main() {
	if err := serve(); err != nil {
		slog.Error("webtrack stopped", "err", err)
		os.Exit(1)
	}
}

// serve runs the server until SIGTERM.
func serve() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	svc, err := startup.FromEnv(ctx, drivers())
	if err != nil {
		return err
	}
	defer svc.Close()
	addr, err := listenAddr(os.Getenv("FC_CUSTOM_LISTEN_PORT"))
	if err != nil {
		return err
	}
	ln, err := httpserver.Listen(addr, svc.Config)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler(svc.Processor, httpserver.SinkScheme(svc.Config)),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       noIdleTimeout,
	}
	err = httpserver.Serve(ctx, srv, ln, grace)
	slog.Info("stopped")
	return err
}

// listenAddr is 0.0.0.0 at port, or at defaultPort when port is "".
func listenAddr(port string) (string, error) {
	if port == "" {
		port = defaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("FC_CUSTOM_LISTEN_PORT=%q: want a port number from 1 to 65535", port)
	}
	return net.JoinHostPort("0.0.0.0", port), nil
}

// handler serves p's track requests as Function Compute delivers them.
func handler(p *processor.Processor, sinkScheme string) http.Handler {
	return roleCredentials{httpserver.Handler{
		Processor:         p,
		TrustForwardedFor: true,
		RequestIDHeader:   "X-Fc-Request-Id",
		Sink:              sinkScheme,
	}}
}

// The headers in which Function Compute passes the role's credentials.
const (
	headerAccessKeyID     = "X-Fc-Access-Key-Id"
	headerAccessKeySecret = "X-Fc-Access-Key-Secret"
	headerSecurityToken   = "X-Fc-Security-Token"
)

// roleCredentials hands the role credentials that come with each request to
// the OSS sink, and removes them from the request so that nothing after it
// can log or store them.
type roleCredentials struct{ next http.Handler }

func (h roleCredentials) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	osssink.UseCredentials(r.Header.Get(headerAccessKeyID), r.Header.Get(headerAccessKeySecret), r.Header.Get(headerSecurityToken))
	for _, k := range []string{headerAccessKeyID, headerAccessKeySecret, headerSecurityToken} {
		r.Header.Del(k)
	}
	h.next.ServeHTTP(w, r)
}
