// Package signing checks the Log Service's request signature, as the
// official SDKs compute it (the browser SDK's STS plugin among them):
//
//	Authorization: LOG {accessKeyId}:{base64 HMAC-SHA1(accessKeySecret, stringToSign)}
//
// where stringToSign is the method, Content-MD5, Content-Type and date, each
// followed by a newline; then every x-log-* and x-acs-* header but x-log-date,
// by name, as name:value and a newline; then the path, and the query sorted
// by name after a '?' when there is one. A browser cannot set Date, so the
// date is x-log-date, which the SDK adds after signing, or else Date.
package signing

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Scheme starts the Authorization header of a signed request.
const Scheme = "LOG "

// Authorization is a parsed Authorization header.
type Authorization struct {
	AccessKeyID string
	// Signature is the decoded HMAC-SHA1, 20 bytes.
	Signature []byte
}

// ParseAuthorization parses "LOG {accessKeyId}:{signature}", the signature
// being 20 bytes in standard base64.
func ParseAuthorization(h string) (Authorization, error) {
	rest, ok := strings.CutPrefix(h, Scheme)
	if !ok {
		return Authorization{}, errors.New(`the Authorization header is not "LOG {accessKeyId}:{signature}"`)
	}
	id, sig, ok := strings.Cut(rest, ":")
	if !ok || id == "" || strings.ContainsFunc(id, invalidIDRune) {
		return Authorization{}, errors.New(`the Authorization header has no access key id: want "LOG {accessKeyId}:{signature}"`)
	}
	// The decoder skips '\r' and '\n' even in strict mode: a signature that
	// holds them is not the one the client computed, and is refused.
	raw, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || len(raw) != sha1.Size || strings.ContainsAny(sig, "\r\n") {
		return Authorization{}, errors.New("the Authorization header's signature is not a base64 HMAC-SHA1")
	}
	return Authorization{AccessKeyID: id, Signature: raw}, nil
}

// invalidIDRune is anything but the printable ASCII an access key id is
// made of, so that ids are shown and compared as the client sent them.
func invalidIDRune(r rune) bool { return r <= ' ' || r > '~' || r == ':' }

// StringToSign is what a request's signature covers. date is the date as
// sent (see Date); header's x-log-* and x-acs-* headers are taken, but
// x-log-date; path is the request path without its query.
func StringToSign(method, contentMD5, contentType, date string, header http.Header, path string, query url.Values) string {
	var b strings.Builder
	for _, s := range []string{method, contentMD5, contentType, date} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	var names []string
	for name := range header {
		lower := strings.ToLower(name)
		if (strings.HasPrefix(lower, "x-log-") || strings.HasPrefix(lower, "x-acs-")) && lower != "x-log-date" {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, name := range names {
		b.WriteString(strings.ToLower(name))
		b.WriteByte(':')
		b.WriteString(strings.Join(header[name], ","))
		b.WriteByte('\n')
	}
	b.WriteString(path)
	if len(query) > 0 {
		b.WriteByte('?')
		for i, k := range slices.Sorted(maps.Keys(query)) {
			for j, v := range query[k] {
				if i > 0 || j > 0 {
					b.WriteByte('&')
				}
				b.WriteString(k + "=" + v)
			}
		}
	}
	return b.String()
}

// Sign returns the signature of stringToSign with the access key secret,
// in standard base64, as the Authorization header carries it.
func Sign(accessKeySecret, stringToSign string) string {
	return base64.StdEncoding.EncodeToString(mac(accessKeySecret, stringToSign))
}

// Verify says whether sig is the signature of stringToSign with the access
// key secret, comparing in constant time.
func Verify(accessKeySecret, stringToSign string, sig []byte) bool {
	return hmac.Equal(mac(accessKeySecret, stringToSign), sig)
}

func mac(key, msg string) []byte {
	h := hmac.New(sha1.New, []byte(key))
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// ContentMD5 is the Content-MD5 of body as the Log Service writes it:
// upper-case hex.
func ContentMD5(body []byte) string {
	sum := md5.Sum(body)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// MatchContentMD5 says whether header, a Content-MD5 in hex of either case,
// is the MD5 of body, comparing in constant time.
func MatchContentMD5(header string, body []byte) bool {
	sent, err := hex.DecodeString(header)
	sum := md5.Sum(body)
	return err == nil && hmac.Equal(sent, sum[:])
}

// Date returns the date a request was signed with, as sent: x-log-date,
// else Date.
func Date(header http.Header) string {
	if d := header.Get("X-Log-Date"); d != "" {
		return d
	}
	return header.Get("Date")
}

// DateFormat is an RFC 1123 date in GMT, as JavaScript's toUTCString and
// HTTP write it: "Wed, 25 Nov 2026 21:30:00 GMT".
const DateFormat = http.TimeFormat

// ParseDate parses a date in DateFormat.
func ParseDate(s string) (time.Time, error) {
	return time.Parse(DateFormat, s)
}
