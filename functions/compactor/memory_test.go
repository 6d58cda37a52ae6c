package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.yaml.in/yaml/v3"

	"github.com/webtrack/webtrack/handler/queueevent"
	"github.com/webtrack/webtrack/handler/queueevent/queueeventtest"
	"github.com/webtrack/webtrack/shared/compact"
	"github.com/webtrack/webtrack/shared/sink/s3sink/s3test"
)

// childEnv names the event file that TestInvocationChild compacts, in the
// child process TestCompact10000Messages starts.
const childEnv = "WEBTRACK_COMPACTOR_CHILD_EVENT"

// invocation is what the child reports.
type invocation struct {
	Failures             int
	Millis               float64
	PeakRSS, BaselineRSS int64 // bytes
	Allocated            uint64
}

// TestCompact10000Messages compacts an SQS event of 10,000 messages (about
// 20 MB of NDJSON; more than the 6 MB that Lambda hands a function, so a
// margin of three) into S3 on versitygw in a process of its own, with the
// Go memory limit that the template's memory size sets, and checks that
// the process's peak RSS stays within that memory size.
func TestCompact10000Messages(t *testing.T) {
	const messages, linesPer = 10000, 6
	memoryMB := compactorMemoryMB(t)
	srv := s3test.Versitygw(t, "webtrack")

	now := time.Now().Unix()
	msgs := make([]types.Message, messages)
	ndjson := 0
	for i := range msgs {
		id := fmt.Sprintf("%016X%08X", uint64(i)*0x9E3779B97F4A7C15, i)
		var body strings.Builder
		for j := range linesPer {
			fmt.Fprintf(&body, `{"__time__":%d,"__topic__":"web","__source__":"browser","__tag__:app":"shop","__tag__:__request_id__":"%s","__tag__:__client_ip__":"203.0.113.7","__tag__:__receive_time__":"%d","page":"/products/%d","event":"view","seq":"%d-%d","title":"Blue mug é","referrer":"https://search.example.org/?q=mug"}`+"\n",
				now, id, now, i%97, i, j)
		}
		ndjson += body.Len()
		msgs[i] = queueeventtest.SinkMessage(fmt.Sprintf("m-%05d", i), id, 1, 1, "default", "web", body.String())
	}
	payload, err := json.Marshal(queueeventtest.SQSEvent(msgs, time.Unix(now, 0)))
	if err != nil {
		t.Fatal(err)
	}
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, payload, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestInvocationChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+event,
		"WEBTRACK_SINK=s3://"+srv.Bucket+"/webtrack?region=us-east-1&endpoint="+url.QueryEscape(srv.Endpoint),
		"AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(memoryMB), "GOMEMLIMIT=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var got invocation
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "INVOCATION "); ok {
			if err := json.Unmarshal([]byte(rest), &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got.PeakRSS == 0 || got.Failures != 0 {
		t.Fatalf("the invocation reported %+v\n%s", got, out)
	}
	keys, stored := bucket(t, srv, "webtrack/")
	lines := 0
	for _, ls := range stored {
		lines += len(ls)
	}
	if lines != messages*linesPer || len(keys) != hours(stored) {
		t.Errorf("%d lines in %d objects, want %d in one per hour", lines, len(keys), messages*linesPer)
	}
	t.Logf("%d messages, %.1f MB of NDJSON, an event of %.1f MB, into %d object(s): %.0f ms, peak RSS %.0f MB (%.0f MB before the event was read), %.0f MB allocated; the compactor has %d MB",
		messages, float64(ndjson)/1e6, float64(len(payload))/1e6, len(keys), got.Millis,
		float64(got.PeakRSS)/(1<<20), float64(got.BaselineRSS)/(1<<20), float64(got.Allocated)/(1<<20), memoryMB)
	if limit := int64(memoryMB) << 20; got.PeakRSS > limit {
		t.Errorf("peak RSS %d MB, more than the compactor's %d MB", got.PeakRSS>>20, memoryMB)
	}
}

// TestInvocationChild is the child process of TestCompact10000Messages: it
// starts the compactor from the environment, as main does, reads the event
// and invokes the handler once. Outside that child it does nothing.
func TestInvocationChild(t *testing.T) {
	event := os.Getenv(childEnv)
	if event == "" {
		return
	}
	baseline := peakRSS(t)
	payload, err := os.ReadFile(event)
	if err != nil {
		t.Fatal(err)
	}
	c, err := compact.FromEnv(context.Background(), objectDrivers())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // the template's timeout
	defer cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	answer, err := queueevent.Handler{C: c}.Invoke(ctx, payload)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	inv := invocation{Millis: float64(took.Microseconds()) / 1000, PeakRSS: peakRSS(t), BaselineRSS: baseline,
		Allocated: after.TotalAlloc - before.TotalAlloc, Failures: len(failures(t, answer))}
	b, _ := json.Marshal(inv)
	fmt.Printf("INVOCATION %s\n", b)
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// compactorMemoryMB is the compactor's MemorySize in template.yaml.
func compactorMemoryMB(t *testing.T) int {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources struct {
			CompactorFunction struct {
				Properties struct {
					MemorySize int `yaml:"MemorySize"`
				} `yaml:"Properties"`
			} `yaml:"CompactorFunction"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	if mb := tpl.Resources.CompactorFunction.Properties.MemorySize; mb > 0 {
		return mb
	}
	t.Fatal("template.yaml gives the CompactorFunction no MemorySize")
	return 0
}
