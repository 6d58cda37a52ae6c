package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/webtrack/webtrack/functions/internal/localserver"
	"github.com/webtrack/webtrack/functions/internal/rie"
	"github.com/webtrack/webtrack/handler/queueevent/queueeventtest"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
	"github.com/webtrack/webtrack/shared/sink/sqssink/sqstest"
)

// binDir holds the binaries built for the package's tests.
var binDir string

// localSQS is the local-aws-sqs server that TestMain starts.
var localSQS sqstest.Shared

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" { // TestInvocationChild: its parent set everything
		os.Exit(m.Run())
	}
	sqstest.UseTestEnvironment()
	dir, err := os.MkdirTemp("", "webtrack-compactor")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := localSQS.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildBootstrap = sync.OnceValues(func() (string, error) {
		out := filepath.Join(binDir, "bootstrap")
		return out, rie.Build(".", out)
	})
	buildServer = sync.OnceValues(func() (string, error) {
		out := filepath.Join(binDir, "webtrack-local")
		if b, err := exec.Command("go", "build", "-o", out, "../local").CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ../local: %w\n%s", err, b)
		}
		return out, nil
	})
)

func built(t testing.TB, build func() (string, error)) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startCompactor runs the built compactor under the emulator, storing into
// srv's bucket under prefix, with the template's timeout and memory.
func startCompactor(t testing.TB, srv *s3test.Server, prefix string) *rie.Function {
	t.Helper()
	return rie.Start(t, built(t, buildBootstrap),
		"WEBTRACK_SINK=s3://"+srv.Bucket+"/"+prefix+"?region=us-east-1&endpoint="+url.QueryEscape(srv.Endpoint),
		"AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512")
}

// failures returns the message ids in a compactor's answer.
func failures(t testing.TB, answer []byte) []string {
	t.Helper()
	ids, err := queueeventtest.Failures(answer)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// startTrackServer runs the local server with env and returns its URL; it
// stops at cleanup.
func startTrackServer(t testing.TB, env ...string) string {
	t.Helper()
	return localserver.Start(t, built(t, buildServer), nil, env...).URL
}

// request is one acknowledged request: its id, logstore and entries.
type request struct {
	id, logstore string
	entries      []map[string]string
}

// sdkBatch is request r as the browser SDK sends it: ten page events.
func sdkBatch(r int) (body []byte, entries []map[string]string) {
	for j := range 10 {
		entries = append(entries, map[string]string{
			"page": "/products/" + strconv.Itoa(r%97), "event": "view", "seq": fmt.Sprintf("%d-%d", r, j),
			"title": "Blue mug é", "referrer": "https://search.example.org/?q=mug",
		})
	}
	body, _ = json.Marshal(map[string]any{"__topic__": "web", "__source__": "browser", "__logs__": entries,
		"__tags__": map[string]string{"app": "shop"}})
	return body, entries
}

// postAll sends n SDK batches from clients clients at once, the i-th to
// logstore(i), and returns the acknowledged requests in order.
func postAll(t testing.TB, server string, n, clients int, logstore func(i int) string) []request {
	t.Helper()
	out := make([]request, n)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range clients {
		wg.Go(func() {
			for i := range next {
				body, entries := sdkBatch(i)
				ls := logstore(i)
				resp, err := http.Post(server+"/logstores/"+ls+"/track?APIVersion=0.6.0", "text/plain;charset=UTF-8", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("request %d: status %d: %s", i, resp.StatusCode, answer)
					return
				}
				out[i] = request{id: resp.Header.Get("X-Log-Requestid"), logstore: ls, entries: entries}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// newQueue makes an empty queue on the local SQS server, and a client to
// read it.
func newQueue(t testing.TB) (*sqs.Client, string) {
	t.Helper()
	c := sqstest.Client(t, localSQS.Endpoint(t))
	_, queueURL := sqstest.NewQueue(t, c, "")
	return c, queueURL
}

// sqsSink is the local server's sink URL for the queue.
func sqsSink(t testing.TB, queueURL string) string {
	return "WEBTRACK_SINK=sqs://?queue_url=" + url.QueryEscape(queueURL) + "&endpoint=" + url.QueryEscape(localSQS.Endpoint(t))
}

// receiveAll receives every message in the queue, as the event source
// mapping's pollers do, and hides them for five minutes.
func receiveAll(t testing.TB, c *sqs.Client, queueURL string) []types.Message {
	t.Helper()
	var msgs []types.Message
	for {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 300,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return msgs
		}
		msgs = append(msgs, out.Messages...)
	}
}

// bucket reads back every object under prefix: the keys, and the lines by
// their __tag__:__request_id__, each line a map of its fields.
func bucket(t testing.TB, srv *s3test.Server, prefix string) (keys []string, byRequest map[string][]map[string]string) {
	t.Helper()
	ctx := context.Background()
	all, err := srv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byRequest = map[string][]map[string]string{}
	for _, key := range all {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		keys = append(keys, key)
		nd, err := srv.Read(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(nd) {
			fields := map[string]string{}
			var raw map[string]any
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&raw); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			for k, v := range raw {
				fields[k] = fmt.Sprint(v)
			}
			id := fields["__tag__:__request_id__"]
			byRequest[id] = append(byRequest[id], fields)
		}
	}
	return keys, byRequest
}

// checkExactlyOnce checks that every entry of the requests is stored once,
// field for field, in order within its request, and nothing else is.
func checkExactlyOnce(t testing.TB, reqs []request, byRequest map[string][]map[string]string) {
	t.Helper()
	var errs []error
	for _, r := range reqs {
		got := byRequest[r.id]
		if len(got) != len(r.entries) {
			errs = append(errs, fmt.Errorf("request %s: %d lines stored, want %d", r.id, len(got), len(r.entries)))
			continue
		}
		for i, want := range r.entries {
			line := got[i]
			for _, k := range []string{"__time__", "__tag__:__receive_time__", "__tag__:__client_ip__"} {
				if line[k] == "" {
					errs = append(errs, fmt.Errorf("request %s line %d: no %s", r.id, i, k))
				}
			}
			fields := map[string]string{"__topic__": "web", "__source__": "browser", "__tag__:app": "shop", "__tag__:__request_id__": r.id,
				"__time__": line["__time__"], "__tag__:__receive_time__": line["__tag__:__receive_time__"], "__tag__:__client_ip__": line["__tag__:__client_ip__"]}
			for k, v := range want {
				fields[k] = v
			}
			if !maps.Equal(line, fields) {
				errs = append(errs, fmt.Errorf("request %s line %d: stored %v, want %v", r.id, i, line, fields))
			}
		}
	}
	ids := map[string]bool{}
	for _, r := range reqs {
		ids[r.id] = true
	}
	for id, lines := range byRequest {
		if !ids[id] {
			errs = append(errs, fmt.Errorf("%d lines of request %q, which was not sent", len(lines), id))
		}
	}
	if len(errs) > 0 {
		t.Fatalf("%d problems, the first ones:\n%v", len(errs), errors.Join(errs[:min(len(errs), 5)]...))
	}
}

// checkTwoLogstores reads back what srv holds under webtrack/ and checks
// that every request in reqs, spread over two logstores, is stored exactly
// once, in one object per logstore and hour. It returns the object keys.
func checkTwoLogstores(t testing.TB, srv *s3test.Server, reqs []request) []string {
	t.Helper()
	keys, stored := bucket(t, srv, "webtrack/")
	checkExactlyOnce(t, reqs, stored)
	if want := 2 * hours(stored); len(keys) != want {
		t.Errorf("%d objects, want one per logstore and hour (%d): %q", len(keys), want, keys)
	}
	return keys
}

// hours counts the distinct UTC hours of the stored lines' receive times:
// the objects one partition of a logstore must make.
func hours(byRequest map[string][]map[string]string) int {
	var hs []string
	for _, lines := range byRequest {
		for _, l := range lines {
			s, _ := strconv.ParseInt(l["__tag__:__receive_time__"], 10, 64)
			hs = append(hs, time.Unix(s, 0).UTC().Format("2006-01-02T15"))
		}
	}
	slices.Sort(hs)
	return len(slices.Compact(hs))
}
