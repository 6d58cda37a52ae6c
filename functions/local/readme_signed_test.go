//go:build unix

package main_test

import (
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/ststoken"
)

// TestReadmeSigned runs the README's Node code that mints credentials for
// signed writes, at a fixed clock, and checks that it makes exactly what
// ststoken.Mint (the token command) makes, and that they verify.
func TestReadmeSigned(t *testing.T) {
	requireTools(t, "node")
	block := readmeBlock(t, "## Signed writes", "js", "function mintWebtrackCredentials")
	const secret = "readme-secret-0123456789abcdefghijklmn"
	script := "Date.now = () => 1795642200123\n" + block +
		"process.stdout.write(JSON.stringify(mintWebtrackCredentials(process.argv[1], ['default', 'shop-*'], ['orders', 'web'], 900)))\n"
	out, err := exec.Command("node", "-e", script, secret).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got ststoken.Response
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the README's code printed %q: %v", out, err)
	}
	scope := ststoken.Scope{Projects: []string{"default", "shop-*"}, Logstores: []string{"orders", "web"}}
	want, err := ststoken.Mint(secret, scope, time.Unix(1795642200+900, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got.Credentials != want {
		t.Errorf("the README's Node code minted\n%+v\nthe token command\n%+v", got.Credentials, want)
	}
	k, err := ststoken.NewKeyring([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := k.Verify(got.Credentials.AccessKeyID, got.Credentials.SecurityToken, time.Unix(1795642200, 0)); err != nil || v.AccessKeySecret != got.Credentials.AccessKeySecret {
		t.Errorf("the README's credentials do not verify: %+v, %v", v, err)
	}
}
