package osssink

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// signer records the key id and security token of each request it is sent,
// as OSS reads them (no local server checks OSS signatures), and answers
// PutObject with 200.
type signer struct {
	mu   sync.Mutex
	seen []string // "key id/token"
}

func (s *signer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	_, cred, _ := strings.Cut(auth, "Credential=")
	id, _, _ := strings.Cut(cred, "/")
	s.mu.Lock()
	s.seen = append(s.seen, id+"/"+r.Header.Get("X-Oss-Security-Token"))
	s.mu.Unlock()
	w.Header().Set("ETag", `"x"`)
}

func (s *signer) last(t *testing.T) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("no request reached the server")
	}
	return s.seen[len(s.seen)-1]
}

// forgetCredentials undoes UseCredentials when the test ends.
func forgetCredentials(t *testing.T) {
	fresh.Store(nil)
	t.Cleanup(func() { fresh.Store(nil) })
}

// TestUseCredentialsSignsLaterRequests: a sink opened with the environment's
// keys signs with them until UseCredentials gives it new ones, and then with
// those, without being opened again; an incomplete set changes nothing.
func TestUseCredentialsSignsLaterRequests(t *testing.T) {
	forgetCredentials(t)
	t.Setenv(envAccessKeyID, "STS.env")
	t.Setenv(envAccessKeySecret, "env-secret")
	t.Setenv(envSecurityToken, "env-token")
	rec := &signer{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	u, _ := url.Parse("oss://logs/p?region=cn-hangzhou&endpoint=" + srv.URL)
	s, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	put := func(want string) {
		t.Helper()
		if err := s.Put(context.Background(), sinktest.BatchOf("req", `{"a":"b"}`)); err != nil {
			t.Fatalf("put: %v", err)
		}
		if got := rec.last(t); got != want {
			t.Errorf("signed as %q, want %q", got, want)
		}
	}
	put("STS.env/env-token")
	UseCredentials("STS.fresh", "fresh-secret", "fresh-token")
	put("STS.fresh/fresh-token")
	UseCredentials("STS.partial", "partial-secret", "") // as from a runtime that sends no token
	put("STS.fresh/fresh-token")
	c, err := currentCredentials(context.Background())
	if err != nil || c.AccessKeySecret != "fresh-secret" {
		t.Errorf("current credentials: secret %q, %v; want fresh-secret", c.AccessKeySecret, err)
	}
}

// TestUseCredentialsConcurrently updates and reads the credentials from many
// goroutines at once (run with -race): every read is one whole set, never
// the key of one with the secret or token of another.
func TestUseCredentialsConcurrently(t *testing.T) {
	forgetCredentials(t)
	t.Setenv(envAccessKeyID, "STS.0")
	t.Setenv(envAccessKeySecret, "secret-0")
	t.Setenv(envSecurityToken, "token-0")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				n := g*1000 + i
				UseCredentials(fmt.Sprint("STS.", n), fmt.Sprint("secret-", n), fmt.Sprint("token-", n))
				c, err := currentCredentials(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				k := strings.TrimPrefix(c.AccessKeyID, "STS.")
				if c.AccessKeySecret != "secret-"+k || c.SecurityToken != "token-"+k {
					t.Errorf("torn credentials: %q %q %q", c.AccessKeyID, c.AccessKeySecret, c.SecurityToken)
					return
				}
			}
		})
	}
	wg.Wait()
}
