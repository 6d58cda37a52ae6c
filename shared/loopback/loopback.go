// Package loopback finds free ports on 127.0.0.1 for the servers that tests
// start and stop. A port is free when it is returned; a test that needs it to
// stay free (a server that is down) must not start anything else in between.
package loopback

import (
	"net"
	"testing"
)

// FreeAddr returns "127.0.0.1:port" for a port that nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return free(t).String()
}

// FreePort returns a loopback port that nothing listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	return free(t).Port
}

func free(t testing.TB) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr)
}
