package processor

import (
	"errors"
	"strings"
	"time"

	"github.com/webtrack/webtrack/shared/apierror"
	"github.com/webtrack/webtrack/shared/signing"
	"github.com/webtrack/webtrack/shared/ststoken"
)

// MaxClockSkew is how far a signed request's date may be from the receive
// time, as the service allows.
const MaxClockSkew = 15 * time.Minute

// signedHeaders are the request headers of a signed write, beyond those of
// web tracking, that a CORS preflight is answered with when it names none.
const signedHeaders = "authorization, content-md5, x-log-date, x-log-signaturemethod, x-acs-security-token"

// authenticate checks a signed write's Authorization, credentials, date
// and scope, all but its Content-MD5, which is checked once the body is
// read. It is answered as the service answers: 401 Unauthorized for no or
// a malformed signature, or a logstore out of the token's scope; 401
// InvalidAccessKeyId for an unknown key or a bad or expired token; 401
// SignatureNotMatch; 400 RequestTimeTooSkewed.
func (p *Processor) authenticate(req *Request, project, logstore string, now time.Time) *apierror.Error {
	auth, err := signing.ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		return apierror.New(apierror.Unauthorized, "%v: POST /logstores/{logstore} takes signed writes only (the SDK's STS mode); anonymous web tracking is POST /logstores/{logstore}/track", err)
	}
	if p.cfg.Tokens == nil {
		return apierror.New(apierror.InvalidAccessKeyID, "access key id %q is not known: this server has no WEBTRACK_TOKEN_SECRETS, so it takes no signed writes", auth.AccessKeyID)
	}
	v, err := p.cfg.Tokens.Verify(auth.AccessKeyID, req.Header.Get("X-Acs-Security-Token"), now)
	if err != nil {
		if errors.Is(err, ststoken.ErrUnknownKey) {
			return apierror.New(apierror.InvalidAccessKeyID, "access key id %q is not one of this server's (WEBTRACK_TOKEN_SECRETS)", auth.AccessKeyID)
		}
		return apierror.New(apierror.InvalidAccessKeyID, "%v", err)
	}
	date := signing.Date(req.Header)
	signedAt, err := signing.ParseDate(date)
	if err != nil {
		return apierror.New(apierror.Unauthorized, "the request's x-log-date (or Date) %q is not an RFC 1123 date such as %q", date, now.UTC().Format(signing.DateFormat))
	}
	toSign := signing.StringToSign(req.Method, req.Header.Get("Content-MD5"), req.Header.Get("Content-Type"), date, req.Header, "/logstores/"+logstore, req.Query)
	if !signing.Verify(v.AccessKeySecret, toSign, auth.Signature) {
		// The string to sign tells a client what it got wrong; the token,
		// a credential, goes into the log line only cut short.
		token := req.Header.Get("X-Acs-Security-Token")
		shown := strings.Replace(toSign, token, token[:min(len(token), 16)]+"…", 1)
		return apierror.New(apierror.SignatureNotMatch, "the signature is not that of the request with the credentials' access key secret; the string to sign is %q", shown)
	}
	if skew := now.Sub(signedAt); skew > MaxClockSkew || skew < -MaxClockSkew {
		return apierror.New(apierror.RequestTimeTooSkewed, "the request was signed at %s, %s from the server's time %s; at most %s is allowed",
			date, skew.Abs().Round(time.Second), now.UTC().Format(signing.DateFormat), MaxClockSkew)
	}
	if !v.Scope.Allows(project, logstore) {
		return apierror.New(apierror.Unauthorized, "the security token may write to projects %q and logstores %q, not logstore %q of project %q",
			v.Scope.Projects, v.Scope.Logstores, logstore, project)
	}
	return nil
}
