//go:build unix

package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// largeBatch is a batch at the service's limits: 4,096 entries, 2.8 MB raw,
// about 1.1 MB as a raw LZ4 block.
func largeBatch() (raw, lz4 []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString(`{"__topic__":"load","__tags__":{"app":"shop"},"__logs__":[`)
	for i := range 4096 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"i":"%d","page":"/products/%d?ref=campaign-%d","ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36","trace":"`, i, rng.IntN(5000), rng.IntN(40))
		for range 280 {
			b.WriteByte("0123456789abcdef"[rng.IntN(16)])
		}
		b.WriteString(`","msg":"` + strings.Repeat("checkout step completed; ", 9) + `"}`)
	}
	b.WriteString(`]}`)
	return b.Bytes(), processortest.LZ4(b.Bytes())
}

// browserBatch is what the browser SDK sends: 10 entries, about 2 KB.
func browserBatch(i int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"__logs__":[`)
	for e := range 10 {
		if e > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"req":"%d","e":"%d","page":"/products/%d","event":"view","ts":"%d","ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0","ref":"https://shop.example.com/"}`, i, e, i%97, 1795642200+i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// load is the outcome of sending requests.
type load struct {
	statuses  map[int]int
	latencies []time.Duration
	elapsed   time.Duration
}

// p99 is the 99th percentile latency.
func (l load) p99() time.Duration {
	s := slices.Clone(l.latencies)
	slices.Sort(s)
	return s[len(s)*99/100]
}

// rate is requests answered per second.
func (l load) rate() float64 { return float64(len(l.latencies)) / l.elapsed.Seconds() }

// drive sends n requests made by newRequest from clients concurrent
// keep-alive connections.
func drive(t testing.TB, n, clients int, newRequest func(i int) *http.Request) load {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	var mu sync.Mutex
	out := load{statuses: map[int]int{}}
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := range work {
				t0 := time.Now()
				resp, err := client.Do(newRequest(i))
				status := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				d := time.Since(t0)
				mu.Lock()
				out.statuses[status]++
				out.latencies = append(out.latencies, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	return out
}

// peakRSS is a process's peak resident set (VmHWM), in bytes.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// storedPerRequest counts the stored lines of each request (its
// __tag__:__request_id__) in every object under a file sink's root, and
// returns the counts and the number of objects.
func storedPerRequest(t testing.TB, dir string) (map[string]int, int) {
	t.Helper()
	objects, err := sinktest.ReadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, o := range objects {
		if err := countLines(o.Key, o.NDJSON, counts); err != nil {
			t.Fatal(err)
		}
	}
	return counts, len(objects)
}

// countLines adds to counts the lines of each request in an object's NDJSON.
func countLines(key string, nd []byte, counts map[string]int) error {
	const tag = `"__tag__:__request_id__":"`
	for line := range bytes.Lines(nd) {
		_, rest, ok := bytes.Cut(line, []byte(tag))
		id, _, ok2 := bytes.Cut(rest, []byte(`"`))
		if !ok || !ok2 {
			return fmt.Errorf("%s: a line without its request id: %.200s", key, line)
		}
		counts[string(id)]++
	}
	return nil
}

// TestMemoryStaysBoundedUnderLoad sends 128 batches at the service's limits
// from 32 concurrent clients to the built server with its default memory
// budget: every one must be answered 200 (waiting is fine) and stored, and
// the server's peak RSS must stay within 256 MB.
func TestMemoryStaysBoundedUnderLoad(t *testing.T) {
	raw, body := largeBatch()
	s := startTrackServer(t, bin, "WEBTRACK_SINK_TIMEOUT=60s")
	res := drive(t, 128, 32, func(int) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, s.URL+"/logstores/web/track", bytes.NewReader(body))
		r.Header.Set("x-log-apiversion", "0.6.0")
		r.Header.Set("x-log-compresstype", "lz4")
		r.Header.Set("x-log-bodyrawsize", strconv.Itoa(len(raw)))
		return r
	})
	rss := peakRSS(t, s.Pid())
	if res.statuses[200] != 128 {
		t.Errorf("statuses %v, want 128 x 200", res.statuses)
	}
	counts, objects := storedPerRequest(t, s.dir)
	stored := 0
	for _, n := range counts {
		if n != 4096 {
			t.Errorf("a request stored %d entries, want 4096", n)
		}
		stored += n
	}
	if len(counts) != 128 || stored != 128*4096 {
		t.Errorf("%d requests, %d entries stored; want 128 and %d", len(counts), stored, 128*4096)
	}
	if rss > 256<<20 {
		t.Errorf("peak RSS %d MB, want at most 256 MB", rss>>20)
	}
	t.Logf("128 batches of %d bytes (%d raw), 32 clients: %.1f requests/s, p99 %v, peak RSS %d MB, %d objects",
		len(body), len(raw), res.rate(), res.p99(), rss>>20, objects)
}

// browserLoad sends n browser batches from clients concurrent clients to
// the server at url and checks that each is answered 200.
func browserLoad(t testing.TB, url string, n, clients int) load {
	t.Helper()
	res := drive(t, n, clients, func(i int) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, url+"/logstores/web/track?APIVersion=0.6.0", bytes.NewReader(browserBatch(i)))
		r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		return r
	})
	if res.statuses[200] != n {
		t.Errorf("statuses %v, want %d x 200", res.statuses, n)
	}
	return res
}

// checkExactlyOnce checks that n requests stored 10 entries each, and
// nothing else.
func checkExactlyOnce(t testing.TB, counts map[string]int, n int) {
	t.Helper()
	for id, c := range counts {
		if c != 10 {
			t.Errorf("request %s stored %d entries, want 10", id, c)
		}
	}
	if len(counts) != n {
		t.Errorf("%d requests stored, want %d", len(counts), n)
	}
}

// TestGroupCommitOverHTTP is the browser-SDK soak on the built server with
// the file sink: 3,000 10-entry requests from 16 concurrent keep-alive
// clients share objects (at most one per 4 requests), each stored exactly
// once; one client alone gets one object per request.
func TestGroupCommitOverHTTP(t *testing.T) {
	for _, c := range []struct{ requests, clients int }{{3000, 16}, {500, 1}} {
		t.Run(fmt.Sprintf("%d clients", c.clients), func(t *testing.T) {
			s := startTrackServer(t, bin)
			res := browserLoad(t, s.URL, c.requests, c.clients)
			counts, objects := storedPerRequest(t, s.dir)
			checkExactlyOnce(t, counts, c.requests)
			if c.clients == 1 && objects != c.requests {
				t.Errorf("one client: %d objects for %d requests, want one each", objects, c.requests)
			}
			if c.clients > 1 && objects > c.requests/4 {
				t.Errorf("%d clients: %d objects for %d requests, want at most %d", c.clients, objects, c.requests, c.requests/4)
			}
			t.Logf("%d requests, %d clients: %d objects, %.0f requests/s, p99 %v", c.requests, c.clients, objects, res.rate(), res.p99())
		})
	}
}

// TestGroupCommitOverHTTPToS3 is the same soak at 16 clients with the S3
// sink on versitygw.
func TestGroupCommitOverHTTPToS3(t *testing.T) {
	srv := s3test.Versitygw(t, "webtrack-load")
	s := startTrackServer(t, bin,
		"WEBTRACK_SINK=s3://webtrack-load/soak?region=us-east-1&endpoint="+srv.Endpoint,
		"AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey, "AWS_REGION=us-east-1")
	const requests = 3000
	res := browserLoad(t, s.URL, requests, 16)
	ctx := context.Background()
	keys, err := srv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, key := range keys {
		nd, err := srv.Read(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := countLines(key, nd, counts); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnce(t, counts, requests)
	if len(keys) > requests/4 {
		t.Errorf("%d objects for %d requests, want at most %d", len(keys), requests, requests/4)
	}
	t.Logf("%d requests, 16 clients, S3: %d objects, %.0f requests/s, p99 %v", requests, len(keys), res.rate(), res.p99())
}
