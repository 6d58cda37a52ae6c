package processor_test

import (
	"log/slog"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// TestOriginPatterns checks which origins WEBTRACK_ALLOWED_ORIGINS lets
// through: exact origins, and subdomains at any depth for https://*.domain.
func TestOriginPatterns(t *testing.T) {
	allowed := []string{"https://*.example.com", "http://localhost:3000", "https://*.example.org:8443"}
	for origin, want := range map[string]bool{
		"https://a.example.com":         true,
		"https://a.b.example.com":       true,
		"https://A.Example.COM":         true,
		"http://localhost:3000":         true,
		"https://a.example.org:8443":    true,
		"https://example.com":           false, // the domain itself is not a subdomain
		"http://a.example.com":          false, // another scheme
		"https://a.example.com:8443":    false, // another port
		"https://a.example.org":         false,
		"https://.example.com":          false,
		"https://aexample.com":          false,
		"https://a.example.com.evil":    false,
		"https://example.com.a.com":     false,
		"http://localhost:3001":         false,
		"https://*.example.com":         true, // the pattern itself, as any client may send it
		"https://evil.com/.example.com": false,
	} {
		cfg := processortest.Config()
		cfg.AllowedOrigins = allowed
		p := processor.New(cfg, nil, slog.New(slog.DiscardHandler))
		req := processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0", "Origin", origin)
		req.Method = "OPTIONS" // a preflight: the origin is checked, nothing is stored
		resp := p.Handle(t.Context(), &req)
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != want {
			t.Errorf("origin %q: allowed %v, want %v", origin, got, want)
		}
	}
}
