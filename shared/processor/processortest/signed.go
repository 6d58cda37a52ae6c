package processortest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/signing"
	"github.com/webtrack/webtrack/shared/ststoken"
)

// The table's token secrets: NewSecret mints, OldSecret still verifies
// (listed second, as during a rotation), RetiredSecret no longer does.
const (
	NewSecret     = "table-new-secret-0123456789abcdefghij"
	OldSecret     = "table-old-secret-0123456789abcdefghij"
	RetiredSecret = "table-retired-secret-0123456789abcdef"
)

// SignedLogstore takes only signed writes in the table's configuration.
const SignedLogstore = "signed"

// Mint returns credentials for logstores of the default project made with
// secret, expiring ttl after ReceivedAt.
func Mint(secret string, ttl time.Duration, logstores ...string) ststoken.Credentials {
	c, err := ststoken.Mint(secret, ststoken.Scope{Projects: []string{"default"}, Logstores: logstores}, ReceivedAt.Add(ttl))
	if err != nil {
		panic(err)
	}
	return c
}

// Signed is a POST of body to /logstores/{logstore} with the headers that
// the browser SDK's STS plugin sends, signed with c at date; then more
// headers (pairs of name and value) are set, after signing.
func Signed(logstore, body string, c ststoken.Credentials, date time.Time, after ...string) processor.Request {
	r := Post(logstore, []byte(body),
		"Content-Type", "application/json",
		"Content-MD5", signing.ContentMD5([]byte(body)),
		// The plugin's length: UTF-16 code units, not bytes.
		"x-log-bodyrawsize", strconv.Itoa(len(utf16.Encode([]rune(body)))),
		"x-log-apiversion", "0.6.0",
		"x-log-signaturemethod", "hmac-sha1",
		"Origin", "https://shop.example.com",
	)
	r.Path = "/logstores/" + logstore
	if c.SecurityToken != "" {
		r.Header.Set("x-acs-security-token", c.SecurityToken)
	}
	d := date.UTC().Format(signing.DateFormat)
	toSign := signing.StringToSign(http.MethodPost, r.Header.Get("Content-MD5"), r.Header.Get("Content-Type"), d, r.Header, r.Path, nil)
	r.Header.Set("Authorization", "LOG "+c.AccessKeyID+":"+signing.Sign(c.AccessKeySecret, toSign))
	r.Header.Set("x-log-date", d)
	for i := 0; i+1 < len(after); i += 2 {
		r.Header.Set(after[i], after[i+1])
	}
	return r
}

// signedBatch is what the STS plugin sends: every entry with a numeric
// __time__, here an hour before the receive time.
var signedBatch = fmt.Sprintf(`{"__topic__":"sts ✓","__source__":"shop","__tags__":{"t":"v"},"__logs__":[`+
	`{"msg":"日本語 🚀 \"q\"","n":"42","o":"{\"k\":[1]}","__time__":%d},{"msg":"two","__time__":%d}]}`,
	ReceivedAt.Unix()-3600, ReceivedAt.Unix()-60)

func signedCases() []Case {
	valid := Mint(NewSecret, 15*time.Minute, SignedLogstore, "web")
	now := ReceivedAt
	ok := func(name string, req processor.Request, entries int) Case {
		return Case{Name: name, Request: req, Status: 200, Entries: entries}
	}
	mutate := func(r processor.Request, f func(*processor.Request)) processor.Request {
		r.Header = r.Header.Clone()
		f(&r)
		return r
	}
	batch := batchOf(`{"a":"b","__time__":` + strconv.FormatInt(now.Unix(), 10) + `}`)
	lz4Body := string(LZ4([]byte(signedBatch)))
	return []Case{
		{Name: "signed write", Request: Signed(SignedLogstore, signedBatch, valid, now), Status: 200, Entries: 2,
			Check: func(t *testing.T, resp *processor.Response, stored []Object) {
				lines := Lines(stored)
				if len(lines) != 2 {
					return
				}
				hasPrefix(t, "key", stored[0].Key, "project=default/logstore=signed/")
				wantEqual(t, "allow origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://shop.example.com")
				l := lines[0]
				// The client's __time__ is kept, as the service keeps a signed write's.
				wantEqual(t, "__time__", Field(t, l, "__time__"), strconv.FormatInt(now.Unix()-3600, 10))
				wantEqual(t, "__time__", Field(t, lines[1], "__time__"), strconv.FormatInt(now.Unix()-60, 10))
				wantEqual(t, "msg", Field(t, l, "msg"), `日本語 🚀 "q"`)
				wantEqual(t, "o", Field(t, l, "o"), `{"k":[1]}`)
				wantEqual(t, "__topic__", Field(t, l, "__topic__"), "sts ✓")
				wantEqual(t, "__source__", Field(t, l, "__source__"), "shop")
				wantEqual(t, "tag", Field(t, l, "__tag__:t"), "v")
				wantEqual(t, "client ip", Field(t, l, "__tag__:__client_ip__"), "203.0.113.7")
				wantEqual(t, "receive time", Field(t, l, "__tag__:__receive_time__"), strconv.FormatInt(now.Unix(), 10))
				wantEqual(t, "request id", Field(t, l, "__tag__:__request_id__"), resp.Header.Get("X-Log-Requestid"))
				if len(l) != 10 {
					t.Errorf("stored line has %d fields, want 10: %v", len(l), l)
				}
			}},
		ok("signed write to a logstore open to web tracking", Signed("web", batch, valid, now), 1),
		ok("signed write with a token of the old secret, listed second", Signed(SignedLogstore, batch, Mint(OldSecret, time.Minute, SignedLogstore), now), 1),
		ok("signed write 14 minutes behind", Signed(SignedLogstore, batch, valid, now.Add(-14*time.Minute)), 1),
		ok("signed write 14 minutes ahead", Signed(SignedLogstore, batch, valid, now.Add(14*time.Minute)), 1),
		ok("signed write from a base URL ending in '/'", mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) { r.Path = "//logstores/" + SignedLogstore }), 1),
		ok("signed lz4 write", resign(Signed(SignedLogstore, lz4Body, valid, now,
			"x-log-compresstype", "lz4", "x-log-bodyrawsize", strconv.Itoa(len(signedBatch)), "Content-Type", "application/octet-stream"), valid), 2),
		{Name: "signed write with a client __time__ out of range", Request: Signed(SignedLogstore, batchOf(fmt.Sprintf(`{"__time__":%d}`, now.Unix()-8*24*3600)), valid, now), Status: 499, Code: "PostBodyInvalid"},
		{Name: "signed write without tokens configured", Config: func(c *processor.Config) { c.Tokens = nil }, Request: Signed("web", batch, valid, now), Status: 401, Code: "InvalidAccessKeyId"},

		fail("signed write without Authorization", 401, "Unauthorized", mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) { r.Header.Del("Authorization") })),
		fail("signed write with a malformed Authorization", 401, "Unauthorized", Signed(SignedLogstore, batch, valid, now, "Authorization", "LOG "+valid.AccessKeyID)),
		fail("signed write with a bearer token", 401, "Unauthorized", Signed(SignedLogstore, batch, valid, now, "Authorization", "Bearer "+valid.SecurityToken)),
		fail("signed write with an unknown key id", 401, "InvalidAccessKeyId", Signed(SignedLogstore, batch, Mint(RetiredSecret, time.Minute, SignedLogstore), now)),
		fail("signed write without a security token", 401, "InvalidAccessKeyId", mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) { r.Header.Del("x-acs-security-token") })),
		fail("signed write with a forged token", 401, "InvalidAccessKeyId", func() processor.Request {
			forged := valid
			forged.SecurityToken = Mint(RetiredSecret, time.Hour, "*").SecurityToken
			return Signed(SignedLogstore, batch, forged, now)
		}()),
		fail("signed write with an expired token", 401, "InvalidAccessKeyId", Signed(SignedLogstore, batch, Mint(NewSecret, -time.Second, SignedLogstore), now.Add(-2*time.Second))),
		fail("signed write with the wrong secret", 401, "SignatureNotMatch", func() processor.Request {
			wrong := valid
			wrong.AccessKeySecret = Mint(NewSecret, time.Hour, "other").AccessKeySecret
			return Signed(SignedLogstore, batch, wrong, now)
		}()),
		fail("signed write with its body altered after signing", 401, "SignatureNotMatch", mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) {
			r.Body = []byte(strings.Replace(string(r.Body), `"b"`, `"c"`, 1))
		})),
		fail("signed write with a signed header altered", 401, "SignatureNotMatch", Signed(SignedLogstore, batch, valid, now, "x-log-bodyrawsize", "1")),
		fail("signed write with a header added after signing", 401, "SignatureNotMatch", Signed(SignedLogstore, batch, valid, now, "x-log-topic", "x")),
		fail("signed write with a wrong Content-MD5, signed", 401, "SignatureNotMatch", resign(Signed(SignedLogstore, batch, valid, now, "Content-MD5", strings.Repeat("A", 32)), valid)),
		fail("signed write without Content-MD5, signed", 401, "SignatureNotMatch", resign(mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) { r.Header.Del("Content-MD5") }), valid)),
		fail("signed write 20 minutes behind", 400, "RequestTimeTooSkewed", Signed(SignedLogstore, batch, valid, now.Add(-20*time.Minute))),
		fail("signed write 20 minutes ahead", 400, "RequestTimeTooSkewed", Signed(SignedLogstore, batch, valid, now.Add(20*time.Minute))),
		fail("signed write without a date", 401, "Unauthorized", mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) { r.Header.Del("x-log-date") })),
		fail("signed write to a logstore out of the token's scope", 401, "Unauthorized", Signed(SignedLogstore, batch, Mint(NewSecret, time.Hour, "web"), now)),
		fail("signed write to a project out of the token's scope", 401, "Unauthorized", func() processor.Request {
			r := Signed("only-here", batch, Mint(NewSecret, time.Hour, "*"), now)
			r.Host = "my-project.log.example.com"
			return r
		}()),
		fail("signed write to an unknown logstore", 404, "LogStoreNotExist", Signed("nope", batch, valid, now)),
		fail("signed write from an origin not allowed", 403, "OriginNotAllowed", Signed(SignedLogstore, batch, valid, now, "Origin", "https://evil.example.net")),
		fail("get on the signed path", 405, "MethodNotAllowed", mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) { r.Method = http.MethodGet })),
		fail("no logstore on the signed path", 404, "RequestPathNotFound", mutate(Signed(SignedLogstore, batch, valid, now), func(r *processor.Request) { r.Path = "/logstores/" })),

		// A logstore that takes only signed writes refuses anonymous ones.
		fail("anonymous post to a signed logstore", 401, "Unauthorized", browser(SignedLogstore, batch)),
		fail("anonymous beacon to a signed logstore", 401, "Unauthorized", Get(SignedLogstore, "track", "APIVersion=0.6.0&a=1")),
		fail("anonymous gif to a signed logstore", 401, "Unauthorized", Get(SignedLogstore, "track.gif", "APIVersion=0.6.0&a=1")),

		{Name: "cors preflight of a signed write", Request: func() processor.Request {
			r := Post(SignedLogstore, nil, "Origin", "https://shop.example.com", "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "authorization,content-md5,content-type,x-acs-security-token,x-log-apiversion,x-log-bodyrawsize,x-log-date,x-log-signaturemethod")
			r.Path, r.Method = "/logstores/"+SignedLogstore, http.MethodOptions
			return r
		}(), Status: 200, Check: func(t *testing.T, resp *processor.Response, _ []Object) {
			wantEqual(t, "allow origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://shop.example.com")
			if h := resp.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "authorization") || !strings.Contains(h, "x-acs-security-token") {
				t.Errorf("allow headers %q", h)
			}
		}},
		{Name: "cors preflight naming no headers", Request: func() processor.Request {
			r := Post(SignedLogstore, nil, "Origin", "https://shop.example.com", "Access-Control-Request-Method", "POST")
			r.Path, r.Method = "/logstores/"+SignedLogstore, http.MethodOptions
			return r
		}(), Status: 200, Check: func(t *testing.T, resp *processor.Response, _ []Object) {
			h := resp.Header.Get("Access-Control-Allow-Headers")
			for _, name := range []string{"authorization", "content-md5", "x-log-date", "x-log-signaturemethod", "x-acs-security-token", "x-log-bodyrawsize"} {
				if !strings.Contains(h, name) {
					t.Errorf("allow headers %q lack %s", h, name)
				}
			}
		}},
	}
}

// resign signs r again with c, keeping its headers and date: what a client
// that computed them so would send.
func resign(r processor.Request, c ststoken.Credentials) processor.Request {
	r.Header = r.Header.Clone()
	d := r.Header.Get("x-log-date")
	r.Header.Del("Authorization")
	toSign := signing.StringToSign(http.MethodPost, r.Header.Get("Content-MD5"), r.Header.Get("Content-Type"), d, r.Header, "/logstores/"+strings.TrimPrefix(r.Path, "/logstores/"), nil)
	r.Header.Set("Authorization", "LOG "+c.AccessKeyID+":"+signing.Sign(c.AccessKeySecret, toSign))
	return r
}
