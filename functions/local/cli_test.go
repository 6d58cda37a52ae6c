//go:build unix

package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/loopback"
	"github.com/webtrack/webtrack/shared/ststoken"
)

// runBin runs the built command with args and a clean WEBTRACK_*
// configuration plus env, and returns its stdout, stderr and exit status.
func runBin(t *testing.T, binary string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEBTRACK_") && !strings.HasPrefix(kv, "PORT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s %v still runs after 20s\n%s", binary, args, &errb)
	}
	return out.String(), errb.String(), code
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, errs, code := runBin(t, bin, nil, args...)
		if code != 0 || errs != "" || !strings.Contains(out, "Commands:\n  serve") || !strings.Contains(out, "--version") {
			t.Errorf("%v: exit %d, stderr %q, help:\n%s", args, code, errs, out)
		}
		for _, s := range config.Settings() {
			if !strings.Contains(out, "\n  "+s.Name+" ") {
				t.Errorf("%v: the help does not list %s", args, s.Name)
			}
		}
	}
	for _, args := range [][]string{{"serve", "--help"}, {"help", "serve"}} {
		out, _, code := runBin(t, bin, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "Usage: webtrack serve\n") {
			t.Errorf("%v: exit %d:\n%s", args, code, out)
		}
	}
}

// TestVersion builds the command with VCS stamping, as go build does in a
// checkout by default, and checks that --version gives the revision.
func TestVersion(t *testing.T) {
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	stamped := filepath.Join(t.TempDir(), "webtrack")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, errs, code := runBin(t, stamped, nil, "--version")
	if code != 0 || errs != "" || !strings.HasPrefix(out, "webtrack v") || !strings.Contains(out, "revision "+strings.TrimSpace(string(rev))) {
		t.Errorf("--version: exit %d, stderr %q, stdout %q; want the module version and revision %s", code, errs, out, rev)
	}
}

// TestCommandLineMistakes checks that a wrong command line stops at once
// with status 2, saying what was wrong, instead of starting a server.
func TestCommandLineMistakes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--port=9000"}, "flag provided but not defined: -port"},
		{[]string{"-x"}, "flag provided but not defined: -x"},
		{[]string{"serve", "--verbose"}, "webtrack serve: flag provided but not defined: -verbose"},
		{[]string{"serve", "data"}, `webtrack serve: unexpected argument "data"`},
		{[]string{"start"}, `webtrack: unknown command "start"`},
		{[]string{"./data"}, `webtrack: unknown command "./data"`},
		{[]string{"--version", "serve"}, `webtrack: --version takes no argument, not "serve"`},
		{[]string{"help", "start"}, `webtrack: unknown command "start"`},
		{[]string{"help", "serve", "now"}, `webtrack help: unexpected argument "now"`},
	} {
		out, errs, code := runBin(t, bin, []string{"WEBTRACK_ADDR=127.0.0.1:0"}, c.args...)
		if code != 2 || out != "" || !strings.Contains(errs, c.want) || !strings.Contains(errs, "webtrack --help") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, code, out, errs, c.want)
		}
	}
}

// TestStartupLineAndHealth checks what the server says when it starts, that
// a misspelt variable is warned of, and that /healthz answers.
func TestStartupLineAndHealth(t *testing.T) {
	s := startTrackServer(t, bin, "WEBTRACK_LOGSTORES=web,app", "WEBTRACK_MAX_ENTRIES=100", "WEBTRACK_GROUP_COMMIT=false",
		"WEBTRACK_LOGSTORE=web", "WEBTRACK_ALLOWED_ORIGINS=https://*.example.com")
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"status":"ok","sink":"file"}` {
		t.Errorf("GET /healthz: %d %s", resp.StatusCode, body)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, s.Log())
	start := find(lines, "listening")
	want := map[string]any{
		"addr": strings.TrimPrefix(s.URL, "http://"), "sink": "file://" + s.dir, "logstores": []any{"web", "app"},
		"allowed_origins": []any{"https://*.example.com"}, "max_entries": 100.0, "max_body_bytes": 3145728.0,
		"group_commit": false,
	}
	for k, v := range want {
		if got, _ := json.Marshal(start[k]); string(got) != mustJSON(v) {
			t.Errorf("start-up line %q = %s, want %s", k, got, mustJSON(v))
		}
	}
	if n, _ := start["max_inflight_bytes"].(float64); n <= 0 {
		t.Errorf("start-up line max_inflight_bytes = %v", start["max_inflight_bytes"])
	}
	warning := find(lines, "WEBTRACK_LOGSTORE is not a setting; did you mean WEBTRACK_LOGSTORES?")
	if warning["level"] != "WARN" {
		t.Errorf("the misspelt variable's line %v, want a warning", warning)
	}
	if strings.Contains(s.Log(), "healthz") {
		t.Errorf("the health check was logged:\n%s", s.Log())
	}
}

// TestMistakesStopTheStart starts the server with values users did set by
// mistake: each must stop it with a message that says what to write.
func TestMistakesStopTheStart(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"WEBTRACK_SINK=/var/data", `unknown scheme "" (known: `},
		{"WEBTRACK_SINK=/var/data", "for a directory, write file:///var/data"},
		{"WEBTRACK_SINK=file://~/data", `WEBTRACK_SINK="file://~/data": ~ is not expanded`},
		{"WEBTRACK_ADDR=8081", `WEBTRACK_ADDR="8081": want host:port`},
		{"WEBTRACK_LOGSTORES=web app", `WEBTRACK_LOGSTORES="web app": the list is comma-separated: write web,app`},
		{"WEBTRACK_ALLOWED_ORIGINS=https://shop.*.com", "WEBTRACK_ALLOWED_ORIGINS"},
	} {
		_, errs, code := runBin(t, bin, []string{"WEBTRACK_ADDR=127.0.0.1:0", c.env})
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", c.env, code, errs, c.want)
		}
	}
}

// TestKafkaUnreachable starts the server with a Kafka sink whose broker is
// not there: it starts, warns, hides the password, and a request is
// answered 503 with the dial error in its log line.
func TestKafkaUnreachable(t *testing.T) {
	port := loopback.FreePort(t)
	s := startTrackServer(t, bin, "WEBTRACK_SINK=kafka://user:s3cret@127.0.0.1:"+strconv.Itoa(port)+"/web?sasl_mechanism=PLAIN",
		"WEBTRACK_SINK_TIMEOUT=1s")
	resp, err := http.Post(s.URL+"/logstores/web/track?APIVersion=0.6.0", "text/plain", strings.NewReader(`{"__logs__":[{"a":"1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	log := s.Log()
	lines := logLines(t, log)
	if start := find(lines, "listening"); start["sink"] != "kafka://user:xxxxx@127.0.0.1:"+strconv.Itoa(port)+"/web?sasl_mechanism=PLAIN" {
		t.Errorf("start-up line's sink %v, want the URL without its password", start["sink"])
	}
	if w := find(lines, "kafka brokers unreachable: requests will answer 503 until one can be reached"); w["level"] != "WARN" || !strings.Contains(w["error"].(string), "connection refused") {
		t.Errorf("the warning %v does not give the dial error", w)
	}
	if r := find(lines, "track request"); !strings.Contains(r["sink_error"].(string), "connection refused") {
		t.Errorf("the request's sink_error %q does not give the dial error", r["sink_error"])
	}
	if strings.Contains(log, "s3cret") {
		t.Errorf("the log shows the password:\n%s", log)
	}
}

// logLines parses the server's JSON log lines.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// find returns the first log line whose msg is msg, or an empty one.
func find(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	return map[string]any{"error": "", "sink_error": ""}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTokenCommand mints credentials with the token command and checks them
// with the secrets, then the mistakes it stops at; a server holding the
// secret names its key, never the secret.
func TestTokenCommand(t *testing.T) {
	const secret, old = "cli-test-secret-0123456789abcdefghijk", "cli-test-old-secret-0123456789abcdef"
	before := time.Now()
	out, errs, code := runBin(t, bin, []string{"WEBTRACK_TOKEN_SECRETS=" + secret + "," + old}, "token", "--project", "default", "--logstore", "web,app-*", "--ttl", "20m")
	if code != 0 || errs != "" {
		t.Fatalf("token: exit %d, stderr %q", code, errs)
	}
	var resp struct {
		Credentials map[string]string
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil || len(resp.Credentials) != 4 {
		t.Fatalf("output %q is not AssumeRole's {\"Credentials\":{…}}: %v", out, err)
	}
	c := resp.Credentials
	exp, err := time.Parse("2006-01-02T15:04:05Z", c["Expiration"])
	if err != nil || exp.Before(before.Add(20*time.Minute).Truncate(time.Second)) || exp.After(time.Now().Add(20*time.Minute)) {
		t.Errorf("Expiration %q (%v), want 20 minutes from now in UTC", c["Expiration"], err)
	}
	k, err := ststoken.NewKeyring([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Verify(c["AccessKeyId"], c["SecurityToken"], time.Now())
	if err != nil || v.AccessKeySecret != c["AccessKeySecret"] || !v.Scope.Allows("default", "app-logs") || v.Scope.Allows("default", "other") {
		t.Errorf("the minted credentials %v do not verify with the first secret: %+v, %v", c, v, err)
	}

	for _, m := range []struct {
		env  string
		args []string
		code int
		want string
	}{
		{"", []string{"--project", "default", "--logstore", "web"}, 1, "WEBTRACK_TOKEN_SECRETS is not set"},
		{"WEBTRACK_TOKEN_SECRETS=short-secret", []string{"--project", "default", "--logstore", "web"}, 1, "at least 32"},
		{"WEBTRACK_TOKEN_SECRETS=" + secret, []string{"--logstore", "web"}, 2, "webtrack token: --project is required"},
		{"WEBTRACK_TOKEN_SECRETS=" + secret, []string{"--project", "default"}, 2, "webtrack token: --logstore is required"},
		{"WEBTRACK_TOKEN_SECRETS=" + secret, []string{"--project", "default", "--logstore", "web", "--ttl", "13h"}, 2, "--ttl 13h0m0s: want a duration from 1s to 12h"},
		{"WEBTRACK_TOKEN_SECRETS=" + secret, []string{"--project", "default", "--logstore", "Web"}, 2, `logstore pattern "Web"`},
		{"WEBTRACK_TOKEN_SECRETS=" + secret, []string{"--project", "default", "--logstore", "web", "extra"}, 2, `unexpected argument "extra"`},
	} {
		out, errs, code := runBin(t, bin, []string{m.env}, append([]string{"token"}, m.args...)...)
		if code != m.code || out != "" || !strings.Contains(errs, m.want) || strings.Contains(errs, "short-secret") {
			t.Errorf("%s token %v: exit %d, stdout %q, stderr %q; want %d and %q", m.env, m.args, code, out, errs, m.code, m.want)
		}
	}

	s := startTrackServer(t, bin, "WEBTRACK_TOKEN_SECRETS="+secret+","+old, "WEBTRACK_SIGNED_LOGSTORES=orders")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	start := find(logLines(t, s.Log()), "listening")
	if got := mustJSON(start["token_keys"]); got != mustJSON([]string{c["AccessKeyId"], keyID(t, old)}) || mustJSON(start["signed_logstores"]) != `["orders"]` {
		t.Errorf("start-up line: token_keys %s, signed_logstores %v", got, start["signed_logstores"])
	}
	if strings.Contains(s.Log(), secret) || strings.Contains(s.Log(), old) {
		t.Errorf("the log shows a secret:\n%s", s.Log())
	}
}

// keyID is the access key id of secret.
func keyID(t *testing.T, secret string) string {
	t.Helper()
	k, err := ststoken.NewKeyring([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	return k.KeyIDs()[0]
}
