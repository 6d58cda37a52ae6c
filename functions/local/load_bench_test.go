//go:build unix

package main_test

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkHTTP drives the built server over HTTP as its load tests do, beside
// a baseline server that only reads each body and answers 200, measured in
// the same run: large is 3 MiB lz4 batches from one client, browser is
// 10-entry batches from 16 keep-alive clients. Each reports requests/s, p99
// latency, and for webtrack objects stored per request; one op is one
// request. WEBTRACK_BENCH_SERVER names another server binary to measure
// instead of this one (an older build, for a before-and-after figure).
func BenchmarkHTTP(b *testing.B) {
	raw, lz4 := largeBatch()
	shapes := []struct {
		name    string
		clients int
		request func(url string, i int) *http.Request
	}{
		{"large", 1, func(url string, _ int) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url+"/logstores/web/track", bytes.NewReader(lz4))
			r.Header.Set("x-log-apiversion", "0.6.0")
			r.Header.Set("x-log-compresstype", "lz4")
			r.Header.Set("x-log-bodyrawsize", strconv.Itoa(len(raw)))
			return r
		}},
		{"browser", 16, func(url string, i int) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url+"/logstores/web/track?APIVersion=0.6.0", bytes.NewReader(browserBatch(i)))
			r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
			return r
		}},
	}
	server := bin
	if s := os.Getenv("WEBTRACK_BENCH_SERVER"); s != "" {
		server = s
	}
	for _, shape := range shapes {
		b.Run(shape.name+"/baseline", func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
			}))
			defer srv.Close()
			res := drive(b, b.N, shape.clients, func(i int) *http.Request { return shape.request(srv.URL, i) })
			report(b, res)
		})
		b.Run(shape.name+"/webtrack", func(b *testing.B) {
			s := startTrackServer(b, server)
			res := drive(b, b.N, shape.clients, func(i int) *http.Request { return shape.request(s.URL, i) })
			report(b, res)
			b.ReportMetric(float64(countObjects(b, s.dir))/float64(b.N), "objects/op")
		})
	}
}

func report(b *testing.B, res load) {
	if res.statuses[200] != len(res.latencies) {
		b.Errorf("statuses %v", res.statuses)
	}
	b.ReportMetric(res.rate(), "req/s")
	b.ReportMetric(float64(res.p99().Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// countObjects counts the files under a file sink's root.
func countObjects(b *testing.B, dir string) int {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
