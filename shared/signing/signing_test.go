package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/signing"
)

// vector is a request that the real @aliyun-sls/web-sts-plugin 0.3.9 signed
// (testdata/sdk-vectors.cjs wrote testdata/sdk-vectors.json).
type vector struct {
	Payload         string
	AccessKeySecret string
	Headers         map[string]string
}

func vectors(t *testing.T) []vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/sdk-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("testdata/sdk-vectors.json: %v", err)
	}
	return vs
}

func (v vector) header() http.Header {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h
}

// stringToSign is what the server builds for the vector's request.
func (v vector) stringToSign(h http.Header) string {
	return signing.StringToSign(http.MethodPost, h.Get("Content-MD5"), h.Get("Content-Type"), signing.Date(h), h, "/logstores/web", nil)
}

func TestSDKVectors(t *testing.T) {
	for i, v := range vectors(t) {
		h := v.header()
		auth, err := signing.ParseAuthorization(h.Get("Authorization"))
		if err != nil || auth.AccessKeyID != "STS.example" {
			t.Fatalf("vector %d: %+v, %v", i, auth, err)
		}
		if !signing.Verify(v.AccessKeySecret, v.stringToSign(h), auth.Signature) {
			t.Errorf("vector %d: the SDK's signature does not verify over\n%q", i, v.stringToSign(h))
		}
		if got := "LOG STS.example:" + signing.Sign(v.AccessKeySecret, v.stringToSign(h)); got != h.Get("Authorization") {
			t.Errorf("vector %d: Sign gives %q, the SDK %q", i, got, h.Get("Authorization"))
		}
		if !signing.MatchContentMD5(h.Get("Content-MD5"), []byte(v.Payload)) || signing.ContentMD5([]byte(v.Payload)) != h.Get("Content-MD5") {
			t.Errorf("vector %d: Content-MD5 %s is not the body's %s", i, h.Get("Content-MD5"), signing.ContentMD5([]byte(v.Payload)))
		}
		if signing.MatchContentMD5(h.Get("Content-MD5"), []byte(strings.Replace(v.Payload, "1", "2", 1))) {
			t.Errorf("vector %d: a changed body matches the Content-MD5", i)
		}
		if d, err := signing.ParseDate(signing.Date(h)); err != nil || !d.Equal(time.Date(2026, 11, 25, 21, 30, 0, 0, time.UTC)) {
			t.Errorf("vector %d: date %q parsed as %v, %v", i, signing.Date(h), d, err)
		}

		// Whatever the signature covers, changed, breaks it.
		for name, change := range map[string]func(http.Header){
			"token":        func(h http.Header) { h.Set("X-Acs-Security-Token", "wt1.other") },
			"raw size":     func(h http.Header) { h.Set("X-Log-Bodyrawsize", "1") },
			"content md5":  func(h http.Header) { h.Set("Content-MD5", strings.Repeat("0", 32)) },
			"content type": func(h http.Header) { h.Set("Content-Type", "text/plain") },
			"date":         func(h http.Header) { h.Set("X-Log-Date", "Wed, 25 Nov 2026 21:30:01 GMT") },
			"added header": func(h http.Header) { h.Set("X-Log-Compresstype", "lz4") },
		} {
			changed := v.header()
			change(changed)
			if signing.Verify(v.AccessKeySecret, v.stringToSign(changed), auth.Signature) {
				t.Errorf("vector %d: the signature still verifies with the %s changed", i, name)
			}
		}
		if signing.Verify(v.AccessKeySecret+"x", v.stringToSign(h), auth.Signature) {
			t.Errorf("vector %d: verifies with another secret", i)
		}
		// Headers that the signature does not cover may come and go.
		extra := v.header()
		extra.Set("Origin", "https://shop.example.com")
		extra.Set("X-Forwarded-For", "203.0.113.7")
		if !signing.Verify(v.AccessKeySecret, v.stringToSign(extra), auth.Signature) {
			t.Errorf("vector %d: headers outside the signature break it", i)
		}
	}
}

func TestStringToSign(t *testing.T) {
	h := http.Header{}
	h.Set("X-Log-Bodyrawsize", "10")
	h.Set("x-acs-security-token", "tok")
	h.Set("X-Log-Apiversion", "0.6.0")
	h.Set("X-Log-Date", "Wed, 25 Nov 2026 21:30:00 GMT")
	h.Set("Authorization", "LOG a:b")
	got := signing.StringToSign("POST", "MD5", "application/json", "Wed, 25 Nov 2026 21:30:00 GMT", h, "/logstores/web", url.Values{"b": {"2"}, "a": {"1", "0"}})
	want := "POST\nMD5\napplication/json\nWed, 25 Nov 2026 21:30:00 GMT\n" +
		"x-acs-security-token:tok\nx-log-apiversion:0.6.0\nx-log-bodyrawsize:10\n" +
		"/logstores/web?a=1&a=0&b=2"
	if got != want {
		t.Errorf("string to sign\n%q\nwant\n%q", got, want)
	}
	h.Del("X-Log-Date")
	h.Set("Date", "Thu, 26 Nov 2026 00:00:00 GMT")
	if d := signing.Date(h); d != "Thu, 26 Nov 2026 00:00:00 GMT" {
		t.Errorf("without x-log-date the date is %q, want Date's", d)
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := "7jYhS6c0NZ0y8xIjcHO8qUB/3vg="
	for h, ok := range map[string]bool{
		"LOG STS.example:" + sig:              true,
		"LOG id:" + sig:                       true,
		"":                                    false,
		"Bearer x":                            false,
		"LOG STS.example" + sig:               false, // no colon
		"LOG :" + sig:                         false,
		"LOG a b:" + sig:                      false,
		"LOG STS.example:" + sig[:len(sig)-1]: false,
		"LOG STS.example:AAAA":                false, // not 20 bytes
		"log STS.example:" + sig:              false,
		"LOG STS.example:" + sig + " ":        false,
		"LOG id:extra:" + sig:                 false,
	} {
		a, err := signing.ParseAuthorization(h)
		if (err == nil) != ok {
			t.Errorf("%q: %+v, %v; want ok %v", h, a, err, ok)
		}
	}
}

func TestParseDate(t *testing.T) {
	for s, ok := range map[string]bool{
		"Wed, 25 Nov 2026 21:30:00 GMT": true,
		"Wed, 25 Nov 2026 21:30:00 UTC": false,
		"2026-11-25T21:30:00Z":          false,
		"":                              false,
	} {
		if _, err := signing.ParseDate(s); (err == nil) != ok {
			t.Errorf("%q: %v, want ok %v", s, err, ok)
		}
	}
}

// FuzzParseAuthorization checks that any header either parses into an id
// and a 20-byte signature that print back as it, or is refused.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("LOG STS.example:7jYhS6c0NZ0y8xIjcHO8qUB/3vg=")
	f.Add("LOG a:b")
	f.Add("LOG :")
	f.Add("LOG \x00:AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("LOG 0:00000000\r0000000000000000000=") // base64 skips '\r' and '\n'; the signature may not
	f.Fuzz(func(t *testing.T, h string) {
		a, err := signing.ParseAuthorization(h)
		if err != nil {
			return
		}
		if len(a.Signature) != 20 || a.AccessKeyID == "" || strings.ContainsAny(a.AccessKeyID, ": \t") {
			t.Fatalf("%q parsed as %+v", h, a)
		}
		if again := "LOG " + a.AccessKeyID + ":" + base64.StdEncoding.EncodeToString(a.Signature); again != h {
			t.Fatalf("%q parsed as %+v, which is %q", h, a, again)
		}
	})
}
