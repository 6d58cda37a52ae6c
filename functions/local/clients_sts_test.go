//go:build unix

package main_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// stsScenario is one run of the STS-mode SDK in the test page: a tracker
// for a logstore, with the credentials of that name (none: anonymous), its
// batches, and how many XMLHttpRequests they make.
type stsScenario struct {
	Name        string              `json:"name"`
	Logstore    string              `json:"logstore"`
	Credentials string              `json:"credentials,omitempty"`
	Batches     [][]json.RawMessage `json:"batches"`
	XHRs        int                 `json:"xhrs"`
	// Tamper alters each body after the SDK signed it.
	Tamper bool `json:"tamper,omitempty"`
	// SkewMinutes sets the page's clock off by that much.
	SkewMinutes int `json:"skewMinutes,omitempty"`

	status int    // what each XMLHttpRequest must be answered
	code   string // and its errorCode
}

// stsXHR is what the page saw of one XMLHttpRequest.
type stsXHR struct {
	Method, URL, ErrorCode string
	Status                 int
	Tampered               bool
}

// testBrowserSTS runs the browser SDK in STS mode, with credentials minted
// by the token command and handed to the page as a site's backend would,
// against a server whose logstore "signed" takes only signed writes. The
// page is served from another origin, so every signed write is preflighted.
func testBrowserSTS(t *testing.T, serverBin string) {
	browser := chromiumPath(t)
	page := newPageServer(t)
	const newSecret, oldSecret = "browser-new-secret-0123456789abcdefgh", "browser-old-secret-0123456789abcdefgh"
	srv := startTrackServer(t, serverBin, "WEBTRACK_ALLOWED_ORIGINS="+page.URL,
		"WEBTRACK_TOKEN_SECRETS="+newSecret+","+oldSecret, "WEBTRACK_SIGNED_LOGSTORES=signed")

	mint := func(secrets, logstore, ttl string) []byte {
		out, errs, code := runBin(t, serverBin, []string{"WEBTRACK_TOKEN_SECRETS=" + secrets}, "token", "--project", "default", "--logstore", logstore, "--ttl", ttl)
		if code != 0 {
			t.Fatalf("token --logstore %s --ttl %s: exit %d: %s", logstore, ttl, code, errs)
		}
		return []byte(out)
	}
	creds := map[string][]byte{
		"signed":  mint(newSecret+","+oldSecret, "signed", "15m"),
		"rotated": mint(oldSecret, "signed", "15m"), // the old secret's, listed second by the server
		"other":   mint(newSecret, "other", "15m"),
		"expired": mint(newSecret, "signed", "1s"),
	}
	page.credentials.Store(&creds)
	var expired struct{ Credentials struct{ Expiration string } }
	if err := json.Unmarshal(creds["expired"], &expired); err != nil {
		t.Fatal(err)
	}
	expiry, err := time.Parse(time.RFC3339, expired.Credentials.Expiration)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(expiry.Add(100 * time.Millisecond)))

	// Signed entries carry their client __time__ (the SDK adds its clock's
	// where none is given) and values of every kind; the body is not ASCII,
	// so the SDK's x-log-bodyrawsize (UTF-16 code units) is not its size.
	now := time.Now().Unix()
	clientTimes := map[string]int64{}
	entries := map[string][]logField{}
	entry := func(seq string, clientTime int64, extra ...logField) json.RawMessage {
		fields := sdkEntry(seq, extra...)
		entries[seq] = fields
		clientTimes[seq] = clientTime
		if clientTime > 0 {
			fields = append(slices.Clone(fields), logField{"__time__", fmt.Sprint(clientTime), ""})
		}
		return entryJSON(fields)
	}
	refused := func(name, credentials string, status int, code string) stsScenario {
		return stsScenario{Name: name, Logstore: "signed", Credentials: credentials, XHRs: 1, status: status, code: code,
			Batches: [][]json.RawMessage{{entry(name+"1", now, strField("note", "tamper-me"))}}}
	}
	// More than 32768 UTF-16 units: the anonymous SDK sends it by
	// XMLHttpRequest, whose answer the page can read.
	big := strField("big", strings.Repeat("ä€ ", 11000))
	scenarios := []stsScenario{
		{Name: "signed", Logstore: "signed", Credentials: "signed", XHRs: 3, status: 200, Batches: [][]json.RawMessage{
			{entry("s1", now-2*3600), entry("s2", now-6*24*3600), entry("s3", 0)},
			{entry("s4", now+10*60)},
			{entry("s5", now-60, big)},
		}},
		{Name: "rotated", Logstore: "signed", Credentials: "rotated", XHRs: 1, status: 200, Batches: [][]json.RawMessage{{entry("r1", now-30)}}},
		func() stsScenario {
			s := refused("tampered", "signed", 401, "SignatureNotMatch")
			s.Tamper = true
			return s
		}(),
		refused("expired", "expired", 401, "InvalidAccessKeyId"),
		refused("otherlogstore", "other", 401, "Unauthorized"),
		func() stsScenario {
			s := refused("skewed", "signed", 400, "RequestTimeTooSkewed")
			s.SkewMinutes = -20
			return s
		}(),
		// Anonymous: a small batch goes by navigator.sendBeacon, a large one
		// by XMLHttpRequest.
		{Name: "anonymous", Logstore: "signed", XHRs: 1, status: 401, code: "Unauthorized", Batches: [][]json.RawMessage{
			{entry("anonymous1", 0)}, {entry("anonymous2", 0, big)},
		}},
	}
	plan, err := json.Marshal(map[string]any{"host": srv.URL, "project": "default", "scenarios": scenarios})
	if err != nil {
		t.Fatal(err)
	}
	page.plan.Store(&plan)

	from := time.Now()
	chrome := startChromium(t, browser, page.URL+"/sts.html")
	var report struct {
		SDK, Plugin string
		Errors      []string
		Scenarios   map[string][]stsXHR
	}
	select {
	case body := <-page.reports["page"]:
		if err := json.Unmarshal(body, &report); err != nil {
			t.Fatalf("page report %q: %v", body, err)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("the test page did not report within 90s; chromium:\n%s\nserver:\n%s", chrome.output(), srv.Log())
	}
	if report.SDK != "function" || report.Plugin != "function" || len(report.Errors) > 0 {
		t.Errorf("page: window.SLS_Tracker is %q, window.stsPlugin %q; errors: %q", report.SDK, report.Plugin, report.Errors)
	}
	for _, sc := range scenarios {
		xhrs := report.Scenarios[sc.Name]
		if len(xhrs) != sc.XHRs {
			t.Errorf("%s: the SDK made %d XMLHttpRequests %+v, want %d", sc.Name, len(xhrs), xhrs, sc.XHRs)
		}
		wantURL := srv.URL + "/logstores/signed"
		if sc.Credentials == "" {
			wantURL += "/track?APIVersion=0.6.0"
		}
		for _, x := range xhrs {
			if x.Method != http.MethodPost || x.URL != wantURL || x.Status != sc.status || x.ErrorCode != sc.code || x.Tampered != sc.Tamper {
				t.Errorf("%s: %+v, want POST %s answered %d %q (tampered %v)", sc.Name, x, wantURL, sc.status, sc.code, sc.Tamper)
			}
		}
	}

	// The server's view: every refusal logged with its code, the anonymous
	// beacon too, and the preflight of the signed writes answered.
	var reqs []trackLog
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		srv.mu.Lock()
		reqs = slices.Clone(srv.requests)
		srv.mu.Unlock()
		stored, anonymous := 0, 0
		for _, r := range reqs {
			if r.Logstore == "signed" && r.Status == http.StatusOK {
				stored += r.Entries
			}
			if r.Path == "/logstores/signed/track" {
				anonymous++
			}
		}
		if stored >= 6 && anonymous >= 2 || time.Now().After(deadline) {
			break
		}
	}
	to := time.Now()
	codes := map[string]int{}
	for _, r := range reqs {
		if r.Method == http.MethodPost {
			codes[fmt.Sprintf("%s %d %s", r.Path, r.Status, r.ErrorCode)]++
		}
	}
	wantCodes := map[string]int{
		"/logstores/signed 200 ":                     4,
		"/logstores/signed 401 SignatureNotMatch":    1,
		"/logstores/signed 401 InvalidAccessKeyId":   1,
		"/logstores/signed 401 Unauthorized":         1,
		"/logstores/signed 400 RequestTimeTooSkewed": 1,
		"/logstores/signed/track 401 Unauthorized":   2,
	}
	if !maps.Equal(codes, wantCodes) {
		t.Errorf("the server answered the POSTs\n%v\nwant\n%v", codes, wantCodes)
	}
	if !slices.ContainsFunc(reqs, func(r trackLog) bool {
		return r.Method == http.MethodOptions && r.Path == "/logstores/signed" && r.Status == http.StatusOK
	}) {
		t.Errorf("no CORS preflight of the signed writes was answered 200; requests: %+v", reqs)
	}

	// What was stored: the signed entries, each as sent with its client
	// __time__, and nothing of the refused requests.
	all := processortest.ReadObjects(t, srv.dir)
	seen := map[string]bool{}
	for _, o := range all {
		if !strings.HasPrefix(o.Key, "project=default/logstore=signed/") {
			t.Errorf("object %s outside logstore signed", o.Key)
		}
		for _, line := range o.Lines {
			seq, _ := line["seq"].(string)
			fields, ok := entries[seq]
			if !ok || seen[seq] || !slices.Contains([]string{"s1", "s2", "s3", "s4", "s5", "r1"}, seq) {
				t.Errorf("%s: unexpected or repeated entry %v", o.Key, line)
				continue
			}
			seen[seq] = true
			checkSignedLine(t, seq, line, mergeFields(map[string]string{"__topic__": "", "__source__": ""}, wantFields(fields)), from, to, clientTimes[seq])
		}
	}
	if len(seen) != 6 {
		t.Errorf("%d signed entries stored, want 6", len(seen))
	}
	if t.Failed() {
		t.Logf("chromium:\n%s\nserver:\n%s", chrome.output(), srv.Log())
	}
}

// checkSignedLine is checkStoredLine for a signed entry: its __time__ is
// the client's, or when zero, the SDK's clock's, within [from, to].
func checkSignedLine(t *testing.T, what string, line map[string]any, want map[string]string, from, to time.Time, clientTime int64) {
	t.Helper()
	tm, _ := line["__time__"].(json.Number)
	sec, err := tm.Int64()
	switch {
	case err != nil:
		t.Errorf("%s: __time__ = %v", what, line["__time__"])
	case clientTime > 0 && sec != clientTime:
		t.Errorf("%s: __time__ = %d, want the client's %d", what, sec, clientTime)
	case clientTime == 0 && (sec < from.Unix()-1 || sec > to.Unix()):
		t.Errorf("%s: __time__ = %d, want the SDK's clock in [%d, %d]", what, sec, from.Unix()-1, to.Unix())
	}
	receive := maps.Clone(line)
	receive["__time__"] = json.Number(fmt.Sprint(line["__tag__:__receive_time__"]))
	checkStoredLine(t, what, receive, want, from, to)
}
