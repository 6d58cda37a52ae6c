// Package sqstest runs local-aws-sqs, the SQS server that the tests of the
// SQS sink and of the queue path run against.
package sqstest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Start runs .ci/node-sqs/serve.mjs (or $WEBTRACK_LOCAL_SQS) under node on a
// loopback port ("0": a free one) and waits until it listens. The launcher
// is found above the test's directory, at the repository's root; `bash
// .ci/test` installs local-aws-sqs beside it.
func Start(port string) (endpoint string, stop func(), err error) {
	launcher := os.Getenv("WEBTRACK_LOCAL_SQS")
	if launcher == "" {
		if launcher, err = findLauncher(); err != nil {
			return "", nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(launcher), "node_modules", "local-aws-sqs")); err != nil {
		return "", nil, fmt.Errorf("local-aws-sqs is not installed next to %s: run `bash .ci/test`, which installs it (%w)", launcher, err)
	}
	cmd := exec.Command("node", launcher, port)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting local-aws-sqs (is node installed?): %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	listening := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		listening <- strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	}()
	select {
	case p := <-listening:
		if p == "" {
			stop()
			return "", nil, errors.New("local-aws-sqs exited before listening")
		}
		return "http://127.0.0.1:" + p, stop, nil
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, errors.New("local-aws-sqs did not listen within 20s")
	}
}

// UseTestEnvironment sets, for the whole test process, what the tests' AWS
// clients read: test credentials and region, and no look-up beyond the
// loopback (no shared files or profile, no instance metadata, no endpoint
// or session token from the developer's shell). A TestMain calls it first.
func UseTestEnvironment() {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE", "AWS_SESSION_TOKEN"} {
		os.Unsetenv(k)
	}
}

// findLauncher looks for .ci/node-sqs/serve.mjs in the working directory and
// above it.
func findLauncher() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		launcher := filepath.Join(dir, ".ci", "node-sqs", "serve.mjs")
		if _, err := os.Stat(launcher); err == nil {
			return launcher, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no .ci/node-sqs/serve.mjs above the working directory: set WEBTRACK_LOCAL_SQS or run `bash .ci/test`")
		}
		dir = parent
	}
}
