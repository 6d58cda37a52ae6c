package ststoken_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/ststoken"
)

const (
	oldSecret = "old-secret-0123456789abcdefghijklmnop"
	newSecret = "new-secret-0123456789abcdefghijklmnop"
)

var (
	now   = time.Date(2026, 11, 25, 21, 30, 0, 0, time.UTC)
	scope = ststoken.Scope{Projects: []string{"default"}, Logstores: []string{"web", "app-*"}}
)

func keyring(t testing.TB, secrets ...string) *ststoken.Keyring {
	t.Helper()
	k, err := ststoken.NewKeyring(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKnownAnswer pins the construction that README.md describes, so that
// backends in other languages and this package cannot drift apart.
func TestKnownAnswer(t *testing.T) {
	c, err := ststoken.Mint(oldSecret, scope, now.Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// The construction, written out again from the README.
	b64 := base64.RawURLEncoding.EncodeToString
	mac := func(msg string) []byte {
		h := hmac.New(sha256.New, []byte(oldSecret))
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	body := "wt1." + b64([]byte(`{"exp":1795643100,"projects":["default"],"logstores":["web","app-*"]}`))
	token := body + "." + b64(mac("webtrack-sts-token\n"+body))
	want := ststoken.Credentials{
		AccessKeyID:     "STS.wt1." + b64(mac("webtrack-sts-key-id")[:12]),
		AccessKeySecret: b64(mac("webtrack-sts-access-key-secret\n" + token)),
		SecurityToken:   token,
		Expiration:      "2026-11-25T21:45:00Z",
	}
	if c != want {
		t.Errorf("minted\n%+v\nwant\n%+v", c, want)
	}
	out, _ := json.Marshal(ststoken.Response{Credentials: c})
	if !strings.HasPrefix(string(out), `{"Credentials":{"AccessKeyId":"STS.wt1.`) || !strings.HasSuffix(string(out), `"Expiration":"2026-11-25T21:45:00Z"}}`) {
		t.Errorf("AssumeRole's shape: %s", out)
	}
}

func TestVerify(t *testing.T) {
	k := keyring(t, oldSecret)
	c, err := k.Mint(scope, now.Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Verify(c.AccessKeyID, c.SecurityToken, now)
	if err != nil || v.AccessKeySecret != c.AccessKeySecret || !v.Expires.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	for _, ok := range []struct {
		project, logstore string
		want              bool
	}{{"default", "web", true}, {"default", "app-logs", true}, {"default", "webx", false}, {"other", "web", false}} {
		if v.Scope.Allows(ok.project, ok.logstore) != ok.want {
			t.Errorf("scope %+v allows %s/%s: %v", v.Scope, ok.project, ok.logstore, !ok.want)
		}
	}

	payload := func(s string) string { return "wt1." + base64.RawURLEncoding.EncodeToString([]byte(s)) }
	body, mac, _ := strings.Cut(strings.TrimPrefix(c.SecurityToken, "wt1."), ".")
	for name, tc := range map[string]struct {
		id, token string
		at        time.Time
		want      error
	}{
		"unknown key id":           {"STS.wt1.AAAAAAAAAAAAAAAA", c.SecurityToken, now, ststoken.ErrUnknownKey},
		"no key id":                {"", c.SecurityToken, now, ststoken.ErrUnknownKey},
		"expired":                  {c.AccessKeyID, c.SecurityToken, now.Add(15 * time.Minute), ststoken.ErrExpired},
		"no token":                 {c.AccessKeyID, "", now, ststoken.ErrInvalidToken},
		"widened scope":            {c.AccessKeyID, payload(`{"exp":1795643100,"projects":["*"],"logstores":["*"]}`) + "." + mac, now, ststoken.ErrInvalidToken},
		"later expiry":             {c.AccessKeyID, payload(`{"exp":1895643100,"projects":["default"],"logstores":["web","app-*"]}`) + "." + mac, now, ststoken.ErrInvalidToken},
		"mac cut short":            {c.AccessKeyID, "wt1." + body + "." + mac[:10], now, ststoken.ErrInvalidToken},
		"no mac":                   {c.AccessKeyID, "wt1." + body, now, ststoken.ErrInvalidToken},
		"other version":            {c.AccessKeyID, "wt2." + body + "." + mac, now, ststoken.ErrInvalidToken},
		"too long":                 {c.AccessKeyID, c.SecurityToken + strings.Repeat("A", ststoken.MaxTokenBytes), now, ststoken.ErrInvalidToken},
		"made with another secret": {c.AccessKeyID, mustMint(t, newSecret).SecurityToken, now, ststoken.ErrInvalidToken},
	} {
		if _, err := k.Verify(tc.id, tc.token, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func mustMint(t *testing.T, secret string) ststoken.Credentials {
	t.Helper()
	c, err := ststoken.Mint(secret, scope, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRotation: a token minted with the old secret verifies while that
// secret is listed second, and names an unknown key once it is gone; the
// keyring mints with the first.
func TestRotation(t *testing.T) {
	old := mustMint(t, oldSecret)
	rotated := keyring(t, newSecret, oldSecret)
	if _, err := rotated.Verify(old.AccessKeyID, old.SecurityToken, now); err != nil {
		t.Errorf("a token of the old secret, listed second: %v", err)
	}
	fresh, err := rotated.Mint(scope, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessKeyID != rotated.KeyIDs()[0] || fresh.AccessKeyID == old.AccessKeyID {
		t.Errorf("the keyring minted with key %s, want the first, %s", fresh.AccessKeyID, rotated.KeyIDs()[0])
	}
	if _, err := rotated.Verify(fresh.AccessKeyID, fresh.SecurityToken, now); err != nil {
		t.Errorf("a token of the new secret: %v", err)
	}
	if _, err := keyring(t, newSecret).Verify(old.AccessKeyID, old.SecurityToken, now); !errors.Is(err, ststoken.ErrUnknownKey) {
		t.Errorf("the old secret removed: %v, want %v", err, ststoken.ErrUnknownKey)
	}
}

func TestBadSecretsAndScopes(t *testing.T) {
	for name, secrets := range map[string][]string{
		"none":      nil,
		"short":     {"too-short"},
		"twice":     {oldSecret, newSecret, oldSecret},
		"one short": {oldSecret, "x"},
	} {
		if _, err := ststoken.NewKeyring(secrets); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, s := range []ststoken.Scope{
		{Projects: []string{"default"}},
		{Logstores: []string{"web"}},
		{Projects: []string{"Default"}, Logstores: []string{"web"}},
		{Projects: []string{"default"}, Logstores: []string{"web/x"}},
		{Projects: []string{"default"}, Logstores: []string{"[a-z]*"}},
		{Projects: []string{"my_project"}, Logstores: []string{"web"}},
		{Projects: []string{""}, Logstores: []string{"web"}},
	} {
		if _, err := ststoken.Mint(oldSecret, s, now); err == nil {
			t.Errorf("scope %+v: minted", s)
		}
	}
	if _, err := ststoken.Mint("short", scope, now); err == nil {
		t.Error("a short secret minted")
	}
}

// FuzzVerify feeds the token parser any payload behind a valid MAC, and any
// token at all: it never panics, and what it accepts is a checked scope that
// has not expired.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"exp":1795643100,"projects":["default"],"logstores":["web"]}`), "wt1.e30.AAAA")
	f.Add([]byte(`{"exp":1795643100,"projects":["*"],"logstores":["*"],"x":1}`), "")
	f.Add([]byte(`{"exp":-1,"projects":[],"logstores":null} {}`), "wt1..")
	k := keyring(f, oldSecret)
	id := k.KeyIDs()[0]
	f.Fuzz(func(t *testing.T, payload []byte, raw string) {
		body := "wt1." + base64.RawURLEncoding.EncodeToString(payload)
		h := hmac.New(sha256.New, []byte(oldSecret))
		h.Write([]byte("webtrack-sts-token\n" + body))
		signed := body + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
		for _, token := range []string{signed, raw} {
			v, err := k.Verify(id, token, now)
			if err != nil {
				if !errors.Is(err, ststoken.ErrInvalidToken) && !errors.Is(err, ststoken.ErrExpired) {
					t.Fatalf("%q: %v", token, err)
				}
				continue
			}
			if token == raw && raw != signed {
				t.Fatalf("an unsigned token %q was accepted", raw)
			}
			if err := v.Scope.Check(); err != nil || !now.Before(v.Expires) || v.AccessKeySecret == "" {
				t.Fatalf("%q accepted as %+v (%v)", token, v, err)
			}
		}
	})
}
