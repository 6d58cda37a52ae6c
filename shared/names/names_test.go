package names_test

import (
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/names"
)

func TestNames(t *testing.T) {
	for _, c := range []struct {
		name              string
		project, logstore bool
	}{
		{"web", true, true}, {"a_b-c9", false, true}, {"my-project", true, true}, {strings.Repeat("a", 63), true, true},
		{"ab", false, false}, {strings.Repeat("a", 64), false, false}, {"_web", false, false}, {"web-", false, false},
		{"Web", false, false}, {"we.b", false, false}, {"wéb", false, false}, {"", false, false},
	} {
		if got := names.Project(c.name); got != c.project {
			t.Errorf("Project(%q) = %v", c.name, got)
		}
		if got := names.Logstore(c.name); got != c.logstore {
			t.Errorf("Logstore(%q) = %v", c.name, got)
		}
	}
	for id, ok := range map[string]bool{
		"5F3A7F3E2C1D9B8A00C0FFEE": true, "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234": true, strings.Repeat("A", 64): true,
		"": false, strings.Repeat("A", 65): false, "a/b": false, "has space": false, "x=y": false,
	} {
		if got := names.RequestID(id); got != ok {
			t.Errorf("RequestID(%q) = %v, want %v", id, got, ok)
		}
	}
}

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern           string
		project, logstore bool
	}{
		{"*", true, true}, {"web", true, true}, {"app-?", true, true}, {"a_*", false, true}, {"_", false, true},
		{strings.Repeat("a", 63), true, true}, {strings.Repeat("a", 64), false, false},
		{"", false, false}, {"Web*", false, false}, {"we.b", false, false}, {"wéb*", false, false}, {"[a]", false, false},
	} {
		if got := names.ProjectPattern(c.pattern); got != c.project {
			t.Errorf("ProjectPattern(%q) = %v", c.pattern, got)
		}
		if got := names.LogstorePattern(c.pattern); got != c.logstore {
			t.Errorf("LogstorePattern(%q) = %v", c.pattern, got)
		}
	}
}
