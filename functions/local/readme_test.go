//go:build unix

package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// readmeBlock returns the first fenced block of the given language in the
// README.md section that starts with heading, whose text contains want.
func readmeBlock(t *testing.T, heading, lang, want string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for {
		_, rest, ok := strings.Cut(section, "\n```"+lang+"\n")
		block, after, ok2 := strings.Cut(rest, "\n```\n")
		if !ok || !ok2 {
			t.Fatalf("README.md's section %q has no %s block with %q", heading, lang, want)
		}
		if strings.Contains(block, want) {
			return block + "\n"
		}
		section = after
	}
}

// requireTools fails unless every program is on PATH.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("%s is not installed: %v", name, err)
		}
	}
}

// TestReadmeExamples runs README.md's Sending data examples as a user pastes
// them into bash, against the built server (their address and /tmp are
// replaced by the test's), then reads what the server stored with the
// README's DuckDB queries, through DuckDB's Node client.
func TestReadmeExamples(t *testing.T) {
	requireTools(t, "bash", "curl", "python3", "node", "npm")
	requireClients(t)
	s := startTrackServer(t, bin)
	block := readmeBlock(t, "## Sending data", "sh", "curl ")
	tmp := t.TempDir()
	script := strings.NewReplacer("127.0.0.1:8080", strings.TrimPrefix(s.URL, "http://"), "/tmp/", tmp+"/").Replace(block)
	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "npm_config_prefer_offline=true") // the lz4 package is in npm's cache after setup
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the examples failed: %v\n%s%s", err, out, &stderr)
	}
	statuses := regexp.MustCompile(`(?m)^HTTP/1\.1 (\d+)`).FindAllSubmatch(out, -1)
	if n := strings.Count(block, "\ncurl "); len(statuses) != n {
		t.Errorf("%d answers to %d curl commands:\n%s", len(statuses), n, out)
	}
	for _, st := range statuses {
		if string(st[1]) != "200" {
			t.Errorf("an example was answered %s:\n%s", st[1], out)
		}
	}
	// 2 documented + 1 browser + 2 deflate + 3 lz4 + 1 beacon + 1 pixel.
	const entries = 10
	s.waitEntries(t, "web", entries, 10*time.Second)
	if logged := s.Log(); strings.Contains(logged, "/healthz") {
		t.Errorf("the health check was logged:\n%s", logged)
	}

	queries := regexp.MustCompile(`(?s)SELECT .*?;`).FindAllString(readmeBlock(t, "### Reading the data back", "sql", "read_json_auto"), -1)
	if len(queries) != 2 {
		t.Fatalf("README.md's DuckDB block holds %d queries, want 2", len(queries))
	}
	for i, q := range queries {
		queries[i] = strings.ReplaceAll(q, "'data/", "'"+s.dir+"/")
	}
	results := duckdb(t, queries)
	rows, perPartition := results[0], results[1]

	// The partitions the sink wrote, from the objects' keys.
	keys := map[string]bool{}
	for _, o := range processortest.ReadObjects(t, s.dir) {
		keys[o.Key[:strings.LastIndexByte(o.Key, '/')+1]] = true
	}
	if len(rows) != entries {
		t.Fatalf("DuckDB read %d rows, want %d: %v", len(rows), entries, rows)
	}
	events := map[string]int{}
	for _, r := range rows {
		key := "project=" + r["project"] + "/logstore=" + r["logstore"] + "/dt=" + r["dt"] + "/hour=" + twoDigits(r["hour"]) + "/"
		if !keys[key] {
			t.Errorf("row %v: partition columns name %s, which holds no object (objects under %v)", r, key, keys)
		}
		if r["__tag__:__client_ip__"] != "127.0.0.1" || r["__tag__:__request_id__"] == "" || r["__time__"] == "" {
			t.Errorf("row %v lacks the stored metadata", r)
		}
		events[r["event"]]++
		if r["foo"] == "bar" && (r["__topic__"] != "topic" || r["__source__"] != "source" || r["__tag__:tag1"] != "value1") {
			t.Errorf("the documented batch's row %v", r)
		}
		if r["__userAgent__"] != "" && (r["__userAgent__"] != "Mozilla/5.0" || r["__referer__"] != "https://shop.example.com/") {
			t.Errorf("the pixel's row %v", r)
		}
	}
	if events["lz4"] != 3 || events["deflate"] != 2 || events["view"] != 2 {
		t.Errorf("rows per event %v, want 3 lz4, 2 deflate, 2 view", events)
	}
	total := 0
	for _, p := range perPartition {
		n, _ := json.Number(p["entries"]).Int64()
		total += int(n)
		if p["project"] != "default" || p["logstore"] != "web" {
			t.Errorf("partition %v", p)
		}
	}
	if total != entries || len(perPartition) != len(keys) {
		t.Errorf("entries per partition %v: %d in all, want %d in %d partitions", perPartition, total, entries, len(keys))
	}
}

// twoDigits pads an hour that DuckDB read as a number back to the key's form.
func twoDigits(h string) string {
	if len(h) == 1 {
		return "0" + h
	}
	return h
}

// duckdb runs queries with DuckDB's Node client and returns each one's rows,
// every value as a string ("" for NULL).
func duckdb(t *testing.T, queries []string) [][]map[string]string {
	t.Helper()
	out := runScript(t, queries, "node", "duckdb.mjs")
	var raw [][]map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("DuckDB's output %q: %v", out, err)
	}
	results := make([][]map[string]string, len(raw))
	for i, rows := range raw {
		for _, r := range rows {
			row := map[string]string{}
			for k, v := range r {
				switch v := v.(type) {
				case string:
					row[k] = v
				case nil:
				default:
					b, _ := json.Marshal(v)
					row[k] = string(b)
				}
			}
			results[i] = append(results[i], row)
		}
	}
	return results
}
