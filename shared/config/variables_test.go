package config_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/shared/config"
)

// TestSettingsAreWhatLoadReads checks the list of settings against Load
// (each one changes the configuration or is refused when bad) and against
// README.md's Configuration table, and that each has its line of help.
func TestSettingsAreWhatLoadReads(t *testing.T) {
	settings := config.Settings()
	var names []string
	for _, s := range settings {
		names = append(names, s.Name)
		if s.Help == "" {
			t.Errorf("%s has no help", s.Name)
		}
	}
	for _, want := range []string{"WEBTRACK_SINK", "WEBTRACK_LOGSTORES", "WEBTRACK_GROUP_LINGER", "WEBTRACK_LOG_LEVEL", "WEBTRACK_ADDR", "PORT", config.AllowLocalFileSink} {
		if !slices.Contains(names, want) {
			t.Errorf("settings %v lack %s", names, want)
		}
	}
	if slices.Contains(names, "FC_FUNCTION_NAME") {
		t.Errorf("settings %v list a platform variable", names)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:WEBTRACK_[A-Z_]+)|PORT)` \\|").FindAllSubmatch(readme, -1) {
		documented = append(documented, string(m[1]))
	}
	slices.Sort(documented)
	sorted := slices.Sorted(slices.Values(names))
	if !slices.Equal(documented, sorted) {
		t.Errorf("README.md's Configuration table lists\n%v\nbut Load reads\n%v", documented, sorted)
	}
}

func TestUnknownVariables(t *testing.T) {
	warnings := config.Unknown([]string{
		"WEBTRACK_LOGSTORE=web",           // one letter short
		"WEBTRACK_SINK=file://./data",     // known
		"webtrack_sink=file://./data",     // the wrong case
		"WEBTRACK_ORIGINS=https://x.com",  // part of a name
		"WEBTRACK_MAXBODYBYTES=10",        // underscores left out
		"WEBTRACK_SOMETHING_ELSE=1",       // nothing like a setting
		"PATH=/usr/bin",                   // not ours
		"WEBTRACK_TRUST_FORWARDED_FOR=no", // known
	})
	want := []string{
		"WEBTRACK_LOGSTORE is not a setting; did you mean WEBTRACK_LOGSTORES?",
		"webtrack_sink is not a setting; did you mean WEBTRACK_SINK?",
		"WEBTRACK_ORIGINS is not a setting; did you mean WEBTRACK_ALLOWED_ORIGINS?",
		"WEBTRACK_MAXBODYBYTES is not a setting; did you mean WEBTRACK_MAX_BODY_BYTES?",
		"WEBTRACK_SOMETHING_ELSE is not a setting and is ignored (webtrack --help lists them)",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
}

// TestMistakesSeenInUse checks values that users did set, which used to
// start a server that stored in the wrong place or answered every request
// with an error.
func TestMistakesSeenInUse(t *testing.T) {
	for _, c := range []struct {
		name, value, want string
	}{
		{"WEBTRACK_SINK", "file://~/data", "file:///home/me/data"},
		{"WEBTRACK_SINK", "file://~", "file:///home/me"},
		{"WEBTRACK_LOGSTORES", "web app", "comma-separated: write web,app"},
		{"WEBTRACK_PROJECTS", "shop, shop-eu other", "comma-separated: write shop,shop-eu,other"},
		{"WEBTRACK_ALLOWED_ORIGINS", "https://a.example.com https://b.example.com", "comma-separated"},
		{"WEBTRACK_ALLOWED_ORIGINS", "https://shop.*.com", "https://*.example.com"},
		{"WEBTRACK_ALLOWED_ORIGINS", "https://*.*.example.com", "https://*.example.com"},
		{"WEBTRACK_ALLOWED_ORIGINS", "https://*.", "https://*.example.com"},
		{"WEBTRACK_ALLOWED_ORIGINS", "https://*", "https://*.example.com"},
		{"WEBTRACK_ADDR", "8081", "want host:port"},
	} {
		_, err := config.Load(env(map[string]string{c.name: c.value, "HOME": "/home/me"}))
		if err == nil || !strings.Contains(err.Error(), c.name+"=") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: error %v, want one naming %s that says %q", c.name, c.value, err, c.name, c.want)
		}
	}
	cfg, err := config.Load(env(map[string]string{"WEBTRACK_ALLOWED_ORIGINS": "https://*.example.com, http://localhost:3000, https://*.example.org:8443", "WEBTRACK_SINK": "file:///home/me/~data"}))
	if err != nil || !slices.Equal(cfg.Processor.AllowedOrigins, []string{"https://*.example.com", "http://localhost:3000", "https://*.example.org:8443"}) {
		t.Errorf("a subdomain wildcard and a path with ~ inside: %v, %v", cfg.Processor.AllowedOrigins, err)
	}
}
