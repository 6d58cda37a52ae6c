// Package names holds the protocol's rules for the names that become parts
// of object keys: projects, logstores and request ids. (Hand-written rather
// than regexps: compiling one at init costs a cold start about a third of a
// millisecond.)
package names

import "strings"

// The longest names and request ids, which sinks size their limits by.
const (
	MaxNameLen      = 63 // a project or logstore
	MaxRequestIDLen = 64
)

// What project and logstore names may hold besides lowercase letters and
// digits.
const (
	projectExtra  = "-"
	logstoreExtra = "_-"
)

// Project says whether s is a valid project name: 3 to 63 lowercase
// letters, digits and '-', starting and ending with a letter or digit.
func Project(s string) bool { return valid(s, projectExtra) }

// Logstore says whether s is a valid logstore name: as a project name, with
// '_' allowed too.
func Logstore(s string) bool { return valid(s, logstoreExtra) }

// ProjectPattern says whether s is a path.Match pattern of project names:
// 1 to 63 of the characters a project name takes, and '*' and '?'.
func ProjectPattern(s string) bool { return pattern(s, projectExtra) }

// LogstorePattern is ProjectPattern for logstore names.
func LogstorePattern(s string) bool { return pattern(s, logstoreExtra) }

// RequestID says whether s may serve as a request id, which goes into object
// keys: 1 to 64 letters, digits and '-'.
func RequestID(s string) bool {
	if len(s) == 0 || len(s) > MaxRequestIDLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !lowerAlnum(c) && !(c >= 'A' && c <= 'Z') && c != '-' {
			return false
		}
	}
	return true
}

func valid(s, extra string) bool {
	if len(s) < 3 || len(s) > MaxNameLen || !lowerAlnum(s[0]) || !lowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := range len(s) {
		if !lowerAlnum(s[i]) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

func pattern(s, extra string) bool {
	return s != "" && len(s) <= MaxNameLen &&
		!strings.ContainsFunc(s, func(r rune) bool { return r > 0x7f || !lowerAlnum(byte(r)) && !strings.ContainsRune(extra+"*?", r) })
}

func lowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
