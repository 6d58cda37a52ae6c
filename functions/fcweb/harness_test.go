//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/functions/internal/localserver"
	"github.com/webtrack/webtrack/shared/loopback"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// The harness starts the built bootstrap as Function Compute starts a custom
// runtime: its environment (the port to listen on, the function's name and
// memory, the role's credentials) and, on each request, its x-fc-* headers.

// function is a running bootstrap with a file sink.
type function struct {
	*localserver.Server
	url string // http://127.0.0.1:port, the port it listens on
	dir string // the file sink's root
}

// startFunction starts the bootstrap with Function Compute's environment, a
// file sink in a temporary directory (allowed, as for a mounted NAS path),
// and env added. It must listen on 0.0.0.0 at FC_CUSTOM_LISTEN_PORT.
func startFunction(t *testing.T, env ...string) *function {
	t.Helper()
	port := strconv.Itoa(loopback.FreePort(t))
	f := &function{url: "http://127.0.0.1:" + port, dir: t.TempDir()}
	f.Server = localserver.Start(t, bootstrap, nil, append([]string{
		"FC_CUSTOM_LISTEN_PORT=" + port,
		"FC_FUNCTION_NAME=webtrack",
		"FC_FUNCTION_MEMORY_SIZE=512",
		"FC_REGION=cn-hangzhou",
		"FC_INSTANCE_ID=c-6744a3f2-test",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=STS.env",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET=env-secret",
		"ALIBABA_CLOUD_SECURITY_TOKEN=env-token",
		"WEBTRACK_ALLOW_LOCAL_FILE_SINK=true",
		"WEBTRACK_SINK=file://" + f.dir,
		"WEBTRACK_LOG_LEVEL=info",
	}, env...)...)
	host, p, _ := net.SplitHostPort(strings.TrimPrefix(f.URL, "http://"))
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() || p != port {
		t.Fatalf("the function listens at %s, want every address (0.0.0.0 or [::]) at port %s: Function Compute cannot reach 127.0.0.1", f.URL, port)
	}
	return f
}

// browserBatch is what @aliyun-sls/web-track-browser sends: the version in
// the query, a text/plain body of {"__logs__":[...]}, here n entries that
// name their request and place.
func browserBatch(url, request string, n int) *http.Request {
	entries := make([]string, n)
	for i := range entries {
		entries[i] = fmt.Sprintf(`{"req":%q,"n":"%d","msg":"click"}`, request, i)
	}
	body := `{"__logs__":[` + strings.Join(entries, ",") + `]}`
	r, err := http.NewRequest(http.MethodPost, url+"/logstores/web/track?APIVersion=0.6.0", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	r.Header.Set("Origin", "https://shop.example.com")
	return r
}

// send posts a browser batch of n entries as Function Compute passes it on,
// with request id id and client address ip, and returns the status (0 when
// the request failed) and the answered request id.
func send(client *http.Client, url, id, ip string, n int) (int, string) {
	r := browserBatch(url, id, n)
	fcHeaders(r.Header, id, ip)
	resp, err := client.Do(r)
	if err != nil {
		return 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Log-Requestid")
}

// storedEntries reads the sink: how many times each entry (request id and
// place) was stored, and the client address stored with each request.
func storedEntries(t *testing.T, dir string) (objects int, times map[string]int, clientIP map[string]string) {
	t.Helper()
	stored := processortest.ReadObjects(t, dir)
	times, clientIP = map[string]int{}, map[string]string{}
	for _, l := range processortest.Lines(stored) {
		id := processortest.Field(t, l, "__tag__:__request_id__")
		if req := processortest.Field(t, l, "req"); req != id {
			t.Errorf("entry of request %s stored under request id %s", req, id)
		}
		times[id+"#"+processortest.Field(t, l, "n")]++
		clientIP[id] = processortest.Field(t, l, "__tag__:__client_ip__")
	}
	return len(stored), times, clientIP
}

// TestConcurrentBrowserBatchesShareObjects sends 16 browser-SDK batches at
// once, each with its own x-fc-request-id, as Function Compute hands one
// instance concurrent requests: every one is answered 200 with its id, its
// entries are stored once each under that id with the address FC appended,
// and group commit stores them all in at most 4 objects.
func TestConcurrentBrowserBatchesShareObjects(t *testing.T) {
	f := startFunction(t)
	const requests, entries = 16, 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			id := fmt.Sprintf("1-6744a3f2-%024d", i)
			<-start
			status, answered := send(http.DefaultClient, f.url, id, fmt.Sprintf("203.0.113.%d", i), entries)
			if status != http.StatusOK || answered != id {
				t.Errorf("request %s: status %d, x-log-requestid %q", id, status, answered)
			}
		})
	}
	close(start)
	wg.Wait()
	objects, times, clientIP := storedEntries(t, f.dir)
	for i := range requests {
		id := fmt.Sprintf("1-6744a3f2-%024d", i)
		for n := range entries {
			if c := times[fmt.Sprintf("%s#%d", id, n)]; c != 1 {
				t.Errorf("entry %d of request %s stored %d times, want once", n, id, c)
			}
		}
		if ip := clientIP[id]; ip != fmt.Sprintf("203.0.113.%d", i) {
			t.Errorf("request %s stored client address %q, want the one Function Compute appended", id, ip)
		}
	}
	if len(times) != requests*entries {
		t.Errorf("%d distinct entries stored, want %d", len(times), requests*entries)
	}
	if objects > requests/4 {
		t.Errorf("%d concurrent requests made %d objects, want at most %d", requests, objects, requests/4)
	}
	t.Logf("%d concurrent browser batches of %d entries: %d objects", requests, entries, objects)
}

// TestSIGTERMUnderLoad stops the function with SIGTERM while clients post
// batches and while some requests are still sending their bodies: those
// are answered 200, the process exits cleanly, and exactly the entries of
// the requests answered 200 are stored, each once.
func TestSIGTERMUnderLoad(t *testing.T) {
	f := startFunction(t)
	const loopers, halfSent, entries = 8, 4, 5
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		seq   int
	)
	nextID := func() string {
		mu.Lock()
		defer mu.Unlock()
		seq++
		return fmt.Sprintf("1-6744a3f2-%024d", seq)
	}
	ack := func(id string) {
		mu.Lock()
		acked[id] = true
		mu.Unlock()
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}

	// Requests whose bodies are half sent when SIGTERM arrives.
	type partial struct {
		id   string
		conn net.Conn
		rest string
	}
	var partials []partial
	for range halfSent {
		id := nextID()
		r := browserBatch("http://"+strings.TrimPrefix(f.url, "http://"), id, entries)
		fcHeaders(r.Header, id, "203.0.113.1")
		body, _ := io.ReadAll(r.Body)
		conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", r.URL.RequestURI(), len(body))
		r.Header.Write(conn)
		fmt.Fprintf(conn, "\r\n%s", body[:len(body)/2])
		partials = append(partials, partial{id, conn, string(body[len(body)/2:])})
	}

	// Clients that post until the function refuses them.
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for range loopers {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				id := nextID()
				status, _ := send(client, f.url, id, "203.0.113.2", entries)
				if status == http.StatusOK {
					ack(id)
				} else if status == 0 {
					return // the function is gone
				} else {
					t.Errorf("request %s answered %d", id, status)
				}
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for ackedCount() < 32 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- f.Stop() }()
	time.Sleep(200 * time.Millisecond) // SIGTERM is being handled
	for _, p := range partials {
		io.WriteString(p.conn, p.rest)
		p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(p.conn), nil)
		if err != nil {
			t.Errorf("request %s, in flight at SIGTERM: no answer: %v", p.id, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("request %s, in flight at SIGTERM: answered %d", p.id, resp.StatusCode)
			continue
		}
		ack(p.id)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, f.Log())
	}
	close(stopLoad)
	wg.Wait()

	_, times, _ := storedEntries(t, f.dir)
	for id := range acked {
		for n := range entries {
			if c := times[fmt.Sprintf("%s#%d", id, n)]; c != 1 {
				t.Errorf("entry %d of request %s, answered 200, stored %d times", n, id, c)
			}
		}
	}
	if len(times) != len(acked)*entries {
		t.Errorf("%d entries stored, want the %d of the %d requests answered 200", len(times), len(acked)*entries, len(acked))
	}
	t.Logf("%d requests answered 200 (%d of them in flight at SIGTERM), all stored", len(acked), halfSent)
}

// ossSigner stands in for OSS: it answers PutObject and records the access
// key id and security token each was signed with (no local server checks
// OSS signatures).
type ossSigner struct {
	mu   sync.Mutex
	seen []string
}

func (s *ossSigner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	id, _, _ := strings.Cut(cred, "/")
	s.mu.Lock()
	s.seen = append(s.seen, id+"/"+r.Header.Get("X-Oss-Security-Token"))
	s.mu.Unlock()
	w.Header().Set("ETag", `"x"`)
}

// TestRoleCredentialsFromRequests: the OSS sink signs with the role's keys
// from the environment until a request brings fresh ones in FC's headers,
// and with those from then on, also for a request that brings none; the
// secret is never logged.
func TestRoleCredentialsFromRequests(t *testing.T) {
	oss := &ossSigner{}
	srv := httptest.NewServer(oss)
	defer srv.Close()
	f := startFunction(t, "WEBTRACK_SINK=oss://logs/webtrack?region=cn-hangzhou&endpoint="+srv.URL)
	for i, withCredentials := range []bool{false, true, false} {
		id := fmt.Sprintf("1-6744a3f2-%024d", i)
		r := browserBatch(f.url, id, 1)
		fcHeaders(r.Header, id, "203.0.113.3")
		if !withCredentials {
			for _, k := range []string{headerAccessKeyID, headerAccessKeySecret, headerSecurityToken} {
				r.Header.Del(k)
			}
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d\n%s", i, resp.StatusCode, f.Log())
		}
	}
	oss.mu.Lock()
	seen := strings.Join(oss.seen, " ")
	oss.mu.Unlock()
	if want := "STS.env/env-token STS.fresh/fresh-token STS.fresh/fresh-token"; seen != want {
		t.Errorf("OSS puts signed as %q, want %q", seen, want)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if log := f.Log(); strings.Contains(log, "fresh-secret") || strings.Contains(log, "fresh-token") || strings.Contains(log, "env-secret") {
		t.Errorf("the function logged a credential:\n%s", log)
	}
}
