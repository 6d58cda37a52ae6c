package config_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/processor"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestDefaults(t *testing.T) {
	cfg, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := processor.DefaultConfig()
	if cfg.SinkURL != "file://./data" || cfg.Processor.MaxBodyBytes != 3<<20 || cfg.Processor.MaxEntries != 4096 ||
		!cfg.Processor.ClientMetadata || cfg.Processor.ClientTime || cfg.Processor.DefaultProject != def.DefaultProject ||
		!slices.Equal(cfg.Processor.Logstores, []string{"*"}) || cfg.LogLevel != slog.LevelInfo ||
		cfg.Addr != "127.0.0.1:8080" || cfg.TrustForwardedFor {
		t.Errorf("defaults differ from the protocol's: %+v", cfg)
	}
}

func TestEveryVariable(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{
		"WEBTRACK_SINK":                "s3://bucket/raw",
		"WEBTRACK_DEFAULT_PROJECT":     "shop",
		"WEBTRACK_ENDPOINTS":           "log.example.com, track.example.com",
		"WEBTRACK_PROJECTS":            "shop,shop-*",
		"WEBTRACK_LOGSTORES":           "web, shop/app",
		"WEBTRACK_DISABLED_LOGSTORES":  "old-*",
		"WEBTRACK_ALLOWED_ORIGINS":     "https://shop.example.com,http://localhost:3000",
		"WEBTRACK_MAX_BODY_BYTES":      "10485760",
		"WEBTRACK_MAX_ENTRIES":         "100",
		"WEBTRACK_CLIENT_METADATA":     "false",
		"WEBTRACK_CLIENT_TIME":         "true",
		"WEBTRACK_SINK_TIMEOUT":        "2500ms",
		"WEBTRACK_LOG_LEVEL":           "debug",
		"WEBTRACK_ADDR":                "[::1]:9000",
		"WEBTRACK_TRUST_FORWARDED_FOR": "true",
		"WEBTRACK_SIGNED_LOGSTORES":    "signed-*, shop/orders",
		"WEBTRACK_TOKEN_SECRETS":       "new-secret-0123456789abcdefghijklmnop, old-secret-0123456789abcdefghijklmnop",
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Processor
	if cfg.SinkURL != "s3://bucket/raw" || p.DefaultProject != "shop" || !slices.Equal(p.Endpoints, []string{"log.example.com", "track.example.com"}) ||
		!slices.Equal(p.Projects, []string{"shop", "shop-*"}) || !slices.Equal(p.Logstores, []string{"web", "shop/app"}) ||
		!slices.Equal(p.DisabledLogstores, []string{"old-*"}) || len(p.AllowedOrigins) != 2 || p.MaxBodyBytes != 10<<20 ||
		p.MaxEntries != 100 || p.ClientMetadata || !p.ClientTime || p.SinkTimeout != 2500*time.Millisecond || cfg.LogLevel != slog.LevelDebug ||
		cfg.Addr != "[::1]:9000" || !cfg.TrustForwardedFor || !slices.Equal(p.SignedLogstores, []string{"signed-*", "shop/orders"}) ||
		p.Tokens == nil || len(p.Tokens.KeyIDs()) != 2 {
		t.Errorf("not every variable was read: %+v", cfg)
	}
}

func TestBadValuesNameTheirVariable(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"WEBTRACK_MAX_BODY_BYTES":  "3MB",
		"WEBTRACK_MAX_ENTRIES":     "0",
		"WEBTRACK_CLIENT_METADATA": "maybe",
		"WEBTRACK_SINK_TIMEOUT":    "-1s",
		"WEBTRACK_LOGSTORES":       "[bad",
		"WEBTRACK_ALLOWED_ORIGINS": "shop.example.com",
		"WEBTRACK_LOG_LEVEL":       "loud",
	}))
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, name := range []string{"WEBTRACK_MAX_BODY_BYTES", "WEBTRACK_MAX_ENTRIES", "WEBTRACK_CLIENT_METADATA", "WEBTRACK_SINK_TIMEOUT", "WEBTRACK_LOGSTORES", "WEBTRACK_ALLOWED_ORIGINS", "WEBTRACK_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// TestValuesThatBreakEveryRequest checks that a value under which every
// request would fail, or which could never match, stops the start.
func TestValuesThatBreakEveryRequest(t *testing.T) {
	for name, values := range map[string][]string{
		"WEBTRACK_DEFAULT_PROJECT":    {"My_Project", "ab", "-shop", "shop-", strings.Repeat("a", 64)},
		"WEBTRACK_PROJECTS":           {"Shop", "shop,Shop-*"},
		"WEBTRACK_LOGSTORES":          {"Web", "shop/Web"},
		"WEBTRACK_DISABLED_LOGSTORES": {"Old-*"},
		"WEBTRACK_ENDPOINTS":          {"https://x.example.com/", "x.example.com:443", "x.example.com/track", ".example.com", "x..example.com"},
		"WEBTRACK_ADDR":               {"8081", "localhost", "127.0.0.1:http", ":65536"},
		"PORT":                        {"http", "-1"},
	} {
		for _, v := range values {
			_, err := config.Load(env(map[string]string{name: v}))
			if err == nil || !strings.Contains(err.Error(), name+"=") {
				t.Errorf("%s=%q: error %v, want one that names %s", name, v, err, name)
			}
		}
	}
	cfg, err := config.Load(env(map[string]string{"WEBTRACK_DEFAULT_PROJECT": "my-project-1", "WEBTRACK_ENDPOINTS": "Track.Example.com", "PORT": "8081"}))
	if err != nil || cfg.Addr != ":8081" {
		t.Errorf("valid values: %+v, %v", cfg, err)
	}
}

func TestFileSinkOnFunctionPlatform(t *testing.T) {
	for _, platform := range []string{"AWS_LAMBDA_FUNCTION_NAME", "FC_FUNCTION_NAME"} {
		for sinkURL, refused := range map[string]bool{
			"":                     true, // the default, file://./data
			"file:///mnt/efs/data": true,
			"s3://bucket/raw":      false,
			"sqs://queue":          false,
		} {
			_, err := config.Load(env(map[string]string{platform: "webtrack", "WEBTRACK_SINK": sinkURL}))
			if refused != (err != nil) || refused && !strings.Contains(err.Error(), "WEBTRACK_SINK=") {
				t.Errorf("%s set, WEBTRACK_SINK=%q: error %v, want refused %v", platform, sinkURL, err, refused)
			}
		}
		_, err := config.Load(env(map[string]string{platform: "webtrack", "WEBTRACK_SINK": "file:///mnt/efs/data", config.AllowLocalFileSink: "true"}))
		if err != nil {
			t.Errorf("%s set with %s=true: %v", platform, config.AllowLocalFileSink, err)
		}
	}
	if _, err := config.Load(env(map[string]string{config.AllowLocalFileSink: "yes please"})); err == nil || !strings.Contains(err.Error(), config.AllowLocalFileSink) {
		t.Errorf("a bad %s: %v", config.AllowLocalFileSink, err)
	}
}

// TestTokenSecrets checks that the secrets are read as a list, that a bad
// one stops the start without being echoed, and that signed logstores need
// them.
func TestTokenSecrets(t *testing.T) {
	const secret = "a-secret-that-must-never-be-printed-0123"
	for value, want := range map[string]string{
		"short":                 "secret 1 of 1 is 5 bytes; at least 32",
		secret + ",tiny":        "secret 2 of 2 is 4 bytes",
		secret + ", " + secret:  "listed twice",
		secret + ",," + secret:  "secret 2 is empty",
		secret + " " + secret:   "comma-separated",
		secret + ",x " + secret: "comma-separated",
	} {
		_, err := config.Load(env(map[string]string{"WEBTRACK_TOKEN_SECRETS": value}))
		if err == nil || !strings.Contains(err.Error(), "WEBTRACK_TOKEN_SECRETS") || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), secret[:20]) {
			t.Errorf("WEBTRACK_TOKEN_SECRETS=%q: error %v, want one that names the variable, says %q and hides the secret", value, err, want)
		}
	}
	_, err := config.Load(env(map[string]string{"WEBTRACK_SIGNED_LOGSTORES": "orders"}))
	if err == nil || !strings.Contains(err.Error(), "WEBTRACK_SIGNED_LOGSTORES=") || !strings.Contains(err.Error(), "WEBTRACK_TOKEN_SECRETS") {
		t.Errorf("signed logstores without secrets: %v", err)
	}
	cfg, err := config.Load(env(map[string]string{"WEBTRACK_SIGNED_LOGSTORES": "orders", "WEBTRACK_TOKEN_SECRETS": " " + secret + " "}))
	if err != nil || cfg.Processor.Tokens == nil {
		t.Errorf("one secret with spaces around it: %v", err)
	}
	if cfg, err := config.Load(env(nil)); err != nil || cfg.Processor.Tokens != nil || cfg.Processor.SignedLogstores != nil {
		t.Errorf("no secrets: %+v, %v", cfg.Processor, err)
	}
}
