package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/ststoken"
)

// maxTTL is the longest a minted token may live, as STS's AssumeRole allows.
const maxTTL = 12 * time.Hour

// tokenCommand declares the token command's flags and returns what mints
// credentials and prints them to stdout, as STS's AssumeRole answers.
func tokenCommand(fs *flag.FlagSet, stdout io.Writer) func() error {
	project := fs.String("project", "", "the projects the credentials may write to: comma-separated names or patterns (* and ?); required")
	logstore := fs.String("logstore", "", "the logstores the credentials may write to, likewise; required")
	ttl := fs.Duration("ttl", 15*time.Minute, "how long the credentials are valid, from 1s to 12h (default 15m)")
	return func() error {
		switch {
		case *project == "":
			return usageError{errors.New("--project is required")}
		case *logstore == "":
			return usageError{errors.New("--logstore is required")}
		case *ttl < time.Second || *ttl > maxTTL:
			return usageError{fmt.Errorf("--ttl %s: want a duration from 1s to %s", *ttl, maxTTL)}
		}
		scope := ststoken.Scope{Projects: strings.Split(*project, ","), Logstores: strings.Split(*logstore, ",")}
		if err := scope.Check(); err != nil {
			return usageError{err}
		}
		k, err := config.Keyring(os.Getenv)
		if err != nil {
			return err
		}
		if k == nil {
			return errors.New(config.TokenSecrets + " is not set: the credentials are made with its first secret, which the server must hold too")
		}
		c, err := k.Mint(scope, time.Now().Add(*ttl))
		if err != nil {
			return err
		}
		out, err := json.MarshalIndent(ststoken.Response{Credentials: c}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	}
}
