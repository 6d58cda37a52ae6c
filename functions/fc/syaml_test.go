package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/webtrack/webtrack/shared/config"
)

// schemaPath is the fc3 component's own props schema, copied into testdata
// with its licence (see testdata/fc3/README.md).
const schemaPath = "testdata/fc3/props.schema.json"

// domainSchemaPath is the fc3-domain component's props schema, likewise
// (see testdata/fc3-domain/README.md).
const domainSchemaPath = "testdata/fc3-domain/schema.json"

// sYAML is the part of s.yaml the test reads beyond props.
type sYAML struct {
	Edition   string            `yaml:"edition"`
	Vars      map[string]string `yaml:"vars"`
	Resources map[string]struct {
		Component string `yaml:"component"`
		Actions   map[string][]struct {
			Run  string `yaml:"run"`
			Path string `yaml:"path"`
		} `yaml:"actions"`
		Props map[string]any `yaml:"props"`
	} `yaml:"resources"`
}

// TestSYAML validates every fc3 resource's props in s.yaml against the fc3
// component's schema, after resolving the variables as s does, and checks
// that what it deploys is this package, built by its action, with a valid
// configuration, its logs kept, and a trigger for the protocol's methods.
// It checks s.yaml as it is, and with its commented-out custom domain
// resource uncommented, as the README tells an operator to do.
func TestSYAML(t *testing.T) {
	raw, err := os.ReadFile("../../s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("AsIs", func(t *testing.T) {
		if n := checkSYAML(t, raw); n != 0 {
			t.Errorf("%d custom domains deployed by default; the resource is for production, and commented out", n)
		}
	})
	t.Run("WithCustomDomain", func(t *testing.T) {
		if n := checkSYAML(t, uncommentCustomDomain(t, raw)); n != 1 {
			t.Errorf("%d custom domain resources once uncommented, want 1", n)
		}
	})
}

// uncommentCustomDomain removes the comment marks from the commented-out
// customDomain resource: the lines from "  # customDomain:" on that start
// with "  #".
func uncommentCustomDomain(t *testing.T, raw []byte) []byte {
	t.Helper()
	lines := strings.SplitAfter(string(raw), "\n")
	start := slices.Index(lines, "  # customDomain:\n")
	if start < 0 {
		t.Fatal("s.yaml has no commented-out customDomain resource")
	}
	for i := start; i < len(lines) && strings.HasPrefix(lines[i], "  #"); i++ {
		lines[i] = "  " + strings.TrimPrefix(strings.TrimPrefix(lines[i], "  #"), " ")
	}
	return []byte(strings.Join(lines, ""))
}

// checkSYAML checks the resources of an s.yaml and returns how many custom
// domains it deploys.
func checkSYAML(t *testing.T, raw []byte) (domains int) {
	schemas := map[string]*jsonschema.Schema{}
	for component, path := range map[string]string{"fc3": schemaPath, "fc3-domain": domainSchemaPath} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("the %s props schema must be at %s: %v", component, path, err)
		}
		schema, err := jsonschema.NewCompiler().Compile(path)
		if err != nil {
			t.Fatal(err)
		}
		schemas[component] = schema
	}
	var s sYAML
	if err := yaml.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.Edition != "3.0.0" || len(s.Resources) == 0 {
		t.Fatalf("edition %q with %d resources, want 3.0.0 and at least one", s.Edition, len(s.Resources))
	}
	for name, r := range s.Resources {
		schema, ok := schemas[r.Component]
		if !ok {
			t.Errorf("%s: component %q, want fc3 or fc3-domain", name, r.Component)
			continue
		}
		props := resolve(t, r.Props, s.Vars)
		doc, err := json.Marshal(props)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(doc)))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Errorf("%s: props do not match the %s schema: %v", name, r.Component, err)
		}
		if r.Component == "fc3-domain" {
			domains++
			checkDomain(t, name, doc, s.Vars["functionName"])
			continue
		}

		var p struct {
			Runtime, Handler, Code string
			InstanceConcurrency    int
			ConcurrencyConfig      struct{ ReservedConcurrency int }
			LogConfig              any
			MemorySize             int
			Env                    map[string]string `json:"environmentVariables"`
			Triggers               []struct {
				TriggerType   string
				TriggerConfig struct {
					AuthType string
					Methods  []string
				}
			}
		}
		if err := json.Unmarshal(doc, &p); err != nil {
			t.Fatal(err)
		}
		if p.Runtime != "go1" || p.Handler != "main" {
			t.Errorf("%s: runtime %q, handler %q: want go1 and main", name, p.Runtime, p.Handler)
		}
		if p.LogConfig == nil {
			t.Errorf("%s: no logConfig: start-up failures and request lines would be lost, and s logs would show nothing", name)
		}
		built := false
		for _, steps := range r.Actions {
			for _, step := range steps {
				out := regexp.MustCompile(`-o (\S+) (\S+)$`).FindStringSubmatch(step.Run)
				if out != nil && filepath.Clean(filepath.Join(step.Path, out[1])) == filepath.Join(filepath.Clean(p.Code), p.Handler) &&
					filepath.Clean(out[2]) == "functions/fc" && strings.Contains(step.Run, "GOOS=linux GOARCH=amd64") {
					built = true
				}
			}
		}
		if !built {
			t.Errorf("%s: no action builds ./functions/fc for linux/amd64 into %s/%s", name, p.Code, p.Handler)
		}
		env := func(k string) string {
			if k == "FC_FUNCTION_MEMORY_SIZE" { // as FC sets it from memorySize
				return strconv.Itoa(p.MemorySize)
			}
			return p.Env[k]
		}
		cfg, err := config.Load(env)
		if err != nil {
			t.Errorf("%s: environmentVariables: %v", name, err)
		}
		// Guards: a concurrency cap of at least one instance's worth, and
		// the log level a busy site can lower.
		if c := p.ConcurrencyConfig.ReservedConcurrency; c < p.InstanceConcurrency {
			t.Errorf("%s: concurrencyConfig.reservedConcurrency %d: want a cap of at least one instance (%d requests)", name, c, p.InstanceConcurrency)
		}
		if p.Env["WEBTRACK_LOG_LEVEL"] == "" {
			t.Errorf("%s: WEBTRACK_LOG_LEVEL is not set", name)
		}
		// Concurrent requests share objects only if an instance takes many
		// at once; its memory must hold that many of the largest batches
		// (about four times the raw limit each, in flight).
		if need := int64(p.InstanceConcurrency) * 4 * int64(cfg.Processor.MaxBodyBytes); p.InstanceConcurrency < 2 || cfg.Processor.MaxInflightBytes < need {
			t.Errorf("%s: instanceConcurrency %d with a budget of %d bytes from memorySize %d: want at least 2 requests at once, and room for each (%d)",
				name, p.InstanceConcurrency, cfg.Processor.MaxInflightBytes, p.MemorySize, need)
		}
		http := false
		for _, tr := range p.Triggers {
			m := tr.TriggerConfig.Methods
			if tr.TriggerType == "http" && tr.TriggerConfig.AuthType == "anonymous" &&
				slices.Contains(m, "GET") && slices.Contains(m, "POST") && slices.Contains(m, "OPTIONS") {
				http = true
			}
		}
		if !http {
			t.Errorf("%s: no anonymous http trigger for GET, POST and OPTIONS", name)
		}
	}
	return domains
}

// checkDomain checks a custom domain's props: HTTPS (pages served over
// HTTPS can send nowhere else) with a certificate, and every path routed to
// the function for the protocol's methods.
func checkDomain(t *testing.T, name string, doc []byte, function string) {
	var d struct {
		DomainName, Protocol string
		CertConfig           map[string]string
		RouteConfig          struct {
			Routes []struct {
				FunctionName, Path string
				Methods            []string
			}
		}
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if d.DomainName == "" || d.DomainName == "auto" || !strings.Contains(d.Protocol, "HTTPS") || len(d.CertConfig) == 0 {
		t.Errorf("%s: domain %q over %q with certificate %v: want a domain of one's own over HTTPS, with its certificate", name, d.DomainName, d.Protocol, d.CertConfig)
	}
	routed := false
	for _, r := range d.RouteConfig.Routes {
		m := r.Methods
		if r.FunctionName == function && r.Path == "/*" && slices.Contains(m, "GET") && slices.Contains(m, "POST") && slices.Contains(m, "OPTIONS") {
			routed = true
		}
	}
	if !routed {
		t.Errorf("%s: no route of /* to %s for GET, POST and OPTIONS: %+v", name, function, d.RouteConfig)
	}
}

var variable = regexp.MustCompile(`\$\{([^}]*)\}`)

// envDefault is ${env('NAME', 'default')}, which s takes from the deploying
// shell's environment, or the default.
var envDefault = regexp.MustCompile(`^env\('([A-Z_]+)', '([^']*)'\)$`)

// resolve replaces s's variables in every string of v: ${vars.name},
// ${config('AccountID')}, which s takes from the credentials, and
// ${env('NAME', 'default')}, as if NAME were unset. Any other variable
// fails the test.
func resolve(t *testing.T, v any, vars map[string]string) any {
	t.Helper()
	switch v := v.(type) {
	case string:
		return variable.ReplaceAllStringFunc(v, func(ref string) string {
			expr := variable.FindStringSubmatch(ref)[1]
			if name, ok := strings.CutPrefix(expr, "vars."); ok {
				if val, ok := vars[name]; ok {
					return resolve(t, val, vars).(string)
				}
			}
			if expr == "config('AccountID')" {
				return "1234567890123456"
			}
			if m := envDefault.FindStringSubmatch(expr); m != nil {
				return m[2]
			}
			t.Errorf("unresolved variable %s", ref)
			return ref
		})
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = resolve(t, e, vars)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolve(t, e, vars)
		}
		return out
	}
	return v
}

// TestSYAMLTokenSecrets checks that the token secrets of signed writes come
// from the deploying shell, never from the file, and reach the function as
// WEBTRACK_TOKEN_SECRETS beside WEBTRACK_SIGNED_LOGSTORES.
func TestSYAMLTokenSecrets(t *testing.T) {
	raw, err := os.ReadFile("../../s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var s sYAML
	if err := yaml.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if v := s.Vars["tokenSecrets"]; v != "${env('WEBTRACK_TOKEN_SECRETS', '')}" {
		t.Errorf("vars.tokenSecrets = %q, want ${env('WEBTRACK_TOKEN_SECRETS', '')}: secrets stay out of the file", v)
	}
	fn := s.Resources["webtrack"].Props
	env, _ := fn["environmentVariables"].(map[string]any)
	if env["WEBTRACK_TOKEN_SECRETS"] != "${vars.tokenSecrets}" {
		t.Errorf("WEBTRACK_TOKEN_SECRETS = %v, want ${vars.tokenSecrets}", env["WEBTRACK_TOKEN_SECRETS"])
	}
	if _, ok := env["WEBTRACK_SIGNED_LOGSTORES"]; !ok {
		t.Error("no WEBTRACK_SIGNED_LOGSTORES in environmentVariables")
	}
	// The file's environment as s deploys it from a shell that exports a
	// secret, with a signed logstore.
	deployed := map[string]string{"FC_FUNCTION_NAME": "webtrack"}
	for k, v := range resolve(t, env, s.Vars).(map[string]any) {
		deployed[k] = fmt.Sprint(v)
	}
	deployed["WEBTRACK_TOKEN_SECRETS"], deployed["WEBTRACK_SIGNED_LOGSTORES"] = "0123456789abcdefghijklmnopqrstuvwxyz+/=", "orders"
	cfg, err := config.Load(func(k string) string { return deployed[k] })
	if err != nil || cfg.Processor.Tokens == nil {
		t.Errorf("the environment with a secret exported: %v", err)
	}
}
