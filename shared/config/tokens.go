package config

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/ststoken"
)

// TokenSecrets is the variable that holds the secrets of signed writes'
// credentials: the first mints, every one verifies.
const TokenSecrets = "WEBTRACK_TOKEN_SECRETS"

// tokens reads TokenSecrets into the processor's keyring. The secrets are
// never echoed in an error; a logstore that takes only signed writes needs
// them.
func (r *reader) tokens(p *processor.Config) {
	k, err := Keyring(r.getenv)
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	p.Tokens = k
	if k == nil && len(p.SignedLogstores) > 0 {
		r.fail("WEBTRACK_SIGNED_LOGSTORES", strings.Join(p.SignedLogstores, ","), "signed writes need "+TokenSecrets+", or nothing could write to these logstores")
	}
}

// Keyring reads TokenSecrets through getenv: nil when it is unset.
func Keyring(getenv func(string) string) (*ststoken.Keyring, error) {
	v := getenv(TokenSecrets)
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var secrets []string
	for i, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsFunc(s, unicode.IsSpace) {
			return nil, fmt.Errorf("%s: secret %d is empty or holds a space: the list is comma-separated", TokenSecrets, i+1)
		}
		secrets = append(secrets, s)
	}
	k, err := ststoken.NewKeyring(secrets)
	if err != nil {
		return nil, fmt.Errorf("%s: %v (make one with: openssl rand -base64 32)", TokenSecrets, err)
	}
	return k, nil
}
