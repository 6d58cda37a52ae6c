// Package ststoken mints and checks the short-lived credentials that a
// site's backend hands the browser SDK's STS mode: an access key id, an
// access key secret and a security token, in the shape of Alibaba Cloud
// STS's AssumeRole answer. They need no STS service and no storage: both
// sides hold the same secret (WEBTRACK_TOKEN_SECRETS), and everything else
// is computed from it with HMAC-SHA256, each use under its own label.
//
//	payload         = JSON {"exp": unix seconds, "projects": [patterns], "logstores": [patterns]}
//	body            = "wt1." + base64url(payload)
//	SecurityToken   = body + "." + base64url(HMAC(secret, "webtrack-sts-token\n" + body))
//	AccessKeySecret = base64url(HMAC(secret, "webtrack-sts-access-key-secret\n" + SecurityToken))
//	AccessKeyId     = "STS.wt1." + base64url(first 12 bytes of HMAC(secret, "webtrack-sts-key-id"))
//
// base64url is RFC 4648's URL alphabet without padding. The token carries
// its expiry and scope, authenticated; the access key secret is recomputed
// for each request; the access key id names the secret, so that a token
// minted with a secret no longer listed is told apart from a forged one.
package ststoken

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/webtrack/webtrack/shared/names"
)

// The labels that keep each use of a secret apart.
const (
	tokenLabel  = "webtrack-sts-token\n"
	secretLabel = "webtrack-sts-access-key-secret\n"
	keyIDLabel  = "webtrack-sts-key-id"
	tokenPrefix = "wt1."
	keyIDPrefix = "STS.wt1."
)

// MinSecretBytes is the shortest secret accepted: 32 bytes, as
// `openssl rand -base64 32` writes 44.
const MinSecretBytes = 32

// MaxTokenBytes bounds a security token, far above what any scope needs, so
// that a hostile header is refused before it is decoded.
const MaxTokenBytes = 4096

// Scope is what a token may write to: a project matching one of Projects
// and a logstore matching one of Logstores. Patterns are names, with * for
// any run of characters and ? for one.
type Scope struct {
	Projects  []string `json:"projects"`
	Logstores []string `json:"logstores"`
}

// Allows says whether the scope covers logstore of project.
func (s Scope) Allows(project, logstore string) bool {
	return matchAny(s.Projects, project) && matchAny(s.Logstores, logstore)
}

func matchAny(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		ok, _ := path.Match(p, name)
		return ok
	})
}

// Check refuses a scope that names nothing, or a pattern that is not a
// project (a-z, 0-9, -) or logstore (also _) name with * and ?.
func (s Scope) Check() error {
	for _, f := range []struct {
		what     string
		patterns []string
		extra    string
		valid    func(string) bool
	}{{"project", s.Projects, "-", names.ProjectPattern}, {"logstore", s.Logstores, "-_", names.LogstorePattern}} {
		if len(f.patterns) == 0 {
			return fmt.Errorf("the scope names no %s", f.what)
		}
		for _, p := range f.patterns {
			if !f.valid(p) {
				return fmt.Errorf("%s pattern %q: want a name of a-z, 0-9 and %q, with * and ?", f.what, p, f.extra)
			}
		}
	}
	return nil
}

// Credentials are what STS's AssumeRole answers under "Credentials", and
// what the SDK's STS plugin takes.
type Credentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	// Expiration is in UTC, to the second: 2026-11-25T21:45:00Z.
	Expiration string `json:"Expiration"`
}

// Response is AssumeRole's answer: {"Credentials": {...}}.
type Response struct {
	Credentials Credentials `json:"Credentials"`
}

// claims is a token's payload.
type claims struct {
	Exp int64 `json:"exp"`
	Scope
}

// Mint returns credentials for scope, valid until expires (to the second),
// made with secret.
func Mint(secret string, scope Scope, expires time.Time) (Credentials, error) {
	if len(secret) < MinSecretBytes {
		return Credentials{}, fmt.Errorf("the secret is %d bytes; at least %d are needed", len(secret), MinSecretBytes)
	}
	if err := scope.Check(); err != nil {
		return Credentials{}, err
	}
	payload, err := json.Marshal(claims{Exp: expires.Unix(), Scope: scope})
	if err != nil {
		return Credentials{}, err
	}
	body := tokenPrefix + b64(payload)
	token := body + "." + b64(sum(secret, tokenLabel, body))
	return Credentials{
		AccessKeyID:     keyID(secret),
		AccessKeySecret: accessKeySecret(secret, token),
		SecurityToken:   token,
		Expiration:      time.Unix(expires.Unix(), 0).UTC().Format(time.RFC3339),
	}, nil
}

func keyID(secret string) string { return keyIDPrefix + b64(sum(secret, keyIDLabel, "")[:12]) }

func accessKeySecret(secret, token string) string { return b64(sum(secret, secretLabel, token)) }

func sum(secret, label, msg string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(label))
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Keyring holds the secrets that tokens are checked with; the first mints.
type Keyring struct {
	secrets []string
	ids     []string
}

// NewKeyring returns a keyring of secrets, the first of which mints. Each
// is at least MinSecretBytes long.
func NewKeyring(secrets []string) (*Keyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no secret")
	}
	k := &Keyring{}
	for i, s := range secrets {
		if len(s) < MinSecretBytes {
			return nil, fmt.Errorf("secret %d of %d is %d bytes; at least %d are needed", i+1, len(secrets), len(s), MinSecretBytes)
		}
		id := keyID(s)
		if slices.Contains(k.ids, id) {
			return nil, fmt.Errorf("secret %d of %d is listed twice", i+1, len(secrets))
		}
		k.secrets, k.ids = append(k.secrets, s), append(k.ids, id)
	}
	return k, nil
}

// KeyIDs are the access key ids of the secrets, in their order: public
// names of the secrets, for logs. A nil keyring, which no secrets make, has
// none.
func (k *Keyring) KeyIDs() []string {
	if k == nil {
		return nil
	}
	return slices.Clone(k.ids)
}

// Mint returns credentials made with the first secret.
func (k *Keyring) Mint(scope Scope, expires time.Time) (Credentials, error) {
	return Mint(k.secrets[0], scope, expires)
}

// Why a token is refused.
var (
	// ErrUnknownKey: the access key id names none of the secrets.
	ErrUnknownKey = errors.New("unknown access key id")
	// ErrInvalidToken: the token is malformed, or not made with the secret
	// that the access key id names.
	ErrInvalidToken = errors.New("invalid security token")
	// ErrExpired: the token's expiry has passed.
	ErrExpired = errors.New("expired security token")
)

// Verified is what a checked token grants.
type Verified struct {
	// AccessKeySecret is the secret the request must be signed with.
	AccessKeySecret string
	Scope           Scope
	Expires         time.Time
}

// Verify checks a token presented with accessKeyID at now, and returns the
// access key secret the request must be signed with and the token's scope.
// Secrets are compared in constant time; an error wraps ErrUnknownKey,
// ErrInvalidToken or ErrExpired.
func (k *Keyring) Verify(accessKeyID, token string, now time.Time) (Verified, error) {
	secret := ""
	for i, id := range k.ids {
		if hmac.Equal([]byte(id), []byte(accessKeyID)) {
			secret = k.secrets[i]
		}
	}
	if secret == "" {
		return Verified{}, ErrUnknownKey
	}
	c, err := parse(secret, token)
	if err != nil {
		return Verified{}, err
	}
	expires := time.Unix(c.Exp, 0)
	if !now.Before(expires) {
		return Verified{}, fmt.Errorf("%w: it expired at %s", ErrExpired, expires.UTC().Format(time.RFC3339))
	}
	return Verified{AccessKeySecret: accessKeySecret(secret, token), Scope: c.Scope, Expires: expires}, nil
}

// parse authenticates a token with secret, then decodes its payload.
func parse(secret, token string) (claims, error) {
	if token == "" {
		return claims{}, fmt.Errorf("%w: the request has no x-acs-security-token", ErrInvalidToken)
	}
	if len(token) > MaxTokenBytes {
		return claims{}, fmt.Errorf("%w: it is over %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 || !strings.HasPrefix(token, tokenPrefix) {
		return claims{}, fmt.Errorf("%w: it is not wt1.{payload}.{mac}", ErrInvalidToken)
	}
	body := token[:i]
	mac, err := base64.RawURLEncoding.Strict().DecodeString(token[i+1:])
	if err != nil || !hmac.Equal(mac, sum(secret, tokenLabel, body)) {
		return claims{}, fmt.Errorf("%w: it was not made with the secret of its access key id", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(body, tokenPrefix))
	if err != nil {
		return claims{}, fmt.Errorf("%w: its payload is not base64url: %v", ErrInvalidToken, err)
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	err = dec.Decode(&c)
	if _, end := dec.Token(); err == nil && end != io.EOF {
		err = errors.New("data after the object")
	}
	if err != nil {
		return claims{}, fmt.Errorf("%w: its payload is not {\"exp\":…,\"projects\":[…],\"logstores\":[…]}: %v", ErrInvalidToken, err)
	}
	if c.Exp <= 0 {
		return claims{}, fmt.Errorf("%w: its payload has no exp", ErrInvalidToken)
	}
	if err := c.Scope.Check(); err != nil {
		return claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return c, nil
}
