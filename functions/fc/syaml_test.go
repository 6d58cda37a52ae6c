package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/webtrack/webtrack/shared/config"
	"github.com/webtrack/webtrack/shared/processor"
)

// schemaPath is the fc3 component's own props schema, copied into testdata
// with its licence (see testdata/fc3/README.md).
const schemaPath = "testdata/fc3/props.schema.json"

// domainSchemaPath is the fc3-domain component's props schema, likewise
// (see testdata/fc3-domain/README.md).
const domainSchemaPath = "testdata/fc3-domain/schema.json"

// sYAML is the part of a Serverless Devs file the test reads beyond props.
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

// deployFile is a Serverless Devs file in the repository's root and the
// front door it must deploy.
type deployFile struct {
	name   string
	pkg    string // the main package its action builds
	custom bool   // a custom runtime, which serves HTTP and takes many requests per instance
}

// deployFiles are what the README tells an operator to deploy: s deploy
// (the custom runtime) and s deploy -t s.go1.yaml (the go1 runtime).
var deployFiles = []deployFile{
	{name: "s.yaml", pkg: "functions/fcweb", custom: true},
	{name: "s.go1.yaml", pkg: "functions/fc"},
}

func (f deployFile) read(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../..", f.name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Function Compute's limits, as its documentation gives them.
const (
	// defaultPort is where a custom runtime's server must listen unless
	// customRuntimeConfig.port says otherwise, and what Function Compute
	// puts in FC_CUSTOM_LISTEN_PORT
	// (https://www.alibabacloud.com/help/en/functioncompute/fc/principles-1).
	defaultPort = 9000
	// maxFunctionInstances is the most instances one function's cap may
	// hold on a new account: 90% of the region's default 100
	// (https://www.alibabacloud.com/help/en/functioncompute/fc/user-guide/overview-of-configuring-the-maximum-number-of-on-demand-instances).
	// The caps of all functions in a region together are held to the same.
	maxFunctionInstances = 90
)

// TestSYAML validates every resource of both deploy files against its
// component's schema, after resolving the variables as s does, and checks
// what Function Compute 3.0 needs of them: the runtime with its build, the
// concurrency and the memory that holds it, a cap that a new account can
// deploy, its logs kept, and a trigger for the protocol's methods. It
// checks each file as it is, and with its commented-out custom domain
// resource uncommented, as the README tells an operator to do; and that
// the two are different functions whose caps fit in one region together.
func TestSYAML(t *testing.T) {
	caps, names := 0, map[string]bool{}
	for _, f := range deployFiles {
		raw := f.read(t)
		t.Run(f.name+"/AsIs", func(t *testing.T) {
			c := checkSYAML(t, f, raw)
			for _, p := range c.problems {
				t.Error(p)
			}
			if c.domains != 0 {
				t.Errorf("%d custom domains deployed by default; the resource is for production, and commented out", c.domains)
			}
			caps += c.instanceCap
			names[c.function] = true
		})
		t.Run(f.name+"/WithCustomDomain", func(t *testing.T) {
			c := checkSYAML(t, f, uncommentCustomDomain(t, raw))
			for _, p := range c.problems {
				t.Error(p)
			}
			if c.domains != 1 {
				t.Errorf("%d custom domain resources once uncommented, want 1", c.domains)
			}
		})
	}
	if len(names) != len(deployFiles) {
		t.Errorf("function names %v: want one per file, so that both can be deployed side by side", names)
	}
	if caps > maxFunctionInstances {
		t.Errorf("the functions' caps come to %d instances: a new account's region allows all functions %d together", caps, maxFunctionInstances)
	}
}

// TestSYAMLRefuses checks that the checks catch what Function Compute 3.0
// would refuse or run badly: each change to a deploy file must be named.
func TestSYAMLRefuses(t *testing.T) {
	custom, go1 := deployFiles[0], deployFiles[1]
	for _, tc := range []struct {
		name   string
		file   deployFile
		change func(props map[string]any)
		want   string
	}{
		{"ConcurrencyOnGo1", go1, func(p map[string]any) { p["instanceConcurrency"] = 20; p["memorySize"] = 2048; p["cpu"] = 1 },
			"instanceConcurrency 20 on runtime go1"},
		{"OneRequestPerCustomInstance", custom, func(p map[string]any) { p["instanceConcurrency"] = 1 },
			"want at least 2 requests at once"},
		{"MemoryTooSmall", custom, func(p map[string]any) { p["memorySize"] = 512 },
			"does not hold 20 of the largest requests"},
		{"LargerBodiesWithoutMemory", custom, func(p map[string]any) {
			p["environmentVariables"].(map[string]any)["WEBTRACK_MAX_BODY_BYTES"] = "10485760"
		}, "does not hold 20 of the largest requests"},
		{"TooFewVCPU", custom, func(p map[string]any) { p["cpu"] = 0.2 }, "1 to 4 GB per vCPU"},
		{"CapPastTheRegion", custom, func(p map[string]any) { p["concurrencyConfig"] = map[string]any{"reservedConcurrency": 200} },
			"reservedConcurrency 200"},
		{"NoCap", go1, func(p map[string]any) { delete(p, "concurrencyConfig") }, "reservedConcurrency 0"},
		{"AnotherCommand", custom, func(p map[string]any) {
			p["customRuntimeConfig"] = map[string]any{"command": []any{"/code/main"}, "port": 9000}
		}, "customRuntimeConfig.command [/code/main]"},
		{"AnotherPort", custom, func(p map[string]any) {
			p["customRuntimeConfig"] = map[string]any{"command": []any{"/code/bootstrap"}, "port": 8080}
		}, "customRuntimeConfig.port 8080"},
		{"BuiltRuntimeOnCustom", custom, func(p map[string]any) {
			p["runtime"], p["handler"] = "go1", "bootstrap"
			delete(p, "instanceConcurrency")
		}, "runtime \"go1\": want a custom runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := yaml.Unmarshal(tc.file.read(t), &doc); err != nil {
				t.Fatal(err)
			}
			props := doc["resources"].(map[string]any)["webtrack"].(map[string]any)["props"].(map[string]any)
			tc.change(props)
			raw, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			problems := checkSYAML(t, tc.file, raw).problems
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("want a problem with %q, got %q", tc.want, problems)
			}
		})
	}
}

// TestSYAMLBuild runs each deploy file's build action as s deploy runs it,
// with only its output moved into a temporary directory, and checks that
// it makes what Function Compute starts: a static linux/amd64 executable
// at the path the function names (customRuntimeConfig.command under
// /code, or the go1 handler).
func TestSYAMLBuild(t *testing.T) {
	for _, f := range deployFiles {
		t.Run(f.name, func(t *testing.T) {
			tmp := t.TempDir()
			c := checkSYAML(t, f, f.read(t))
			if c.build.run == "" {
				t.Fatalf("no build action: %q", c.problems)
			}
			run := strings.Replace(c.build.run, " -o "+c.build.out+" ", " -o "+filepath.Join(tmp, c.build.out)+" ", 1)
			cmd := exec.Command("sh", "-c", run)
			cmd.Dir = filepath.Join("../..", c.build.dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", run, err, out)
			}
			started := filepath.Join(tmp, c.build.dir, c.started)
			bin, err := elf.Open(started)
			if err != nil {
				t.Fatalf("what Function Compute starts, %s: %v", c.started, err)
			}
			defer bin.Close()
			if bin.Machine != elf.EM_X86_64 || bin.Type != elf.ET_EXEC {
				t.Errorf("%s: %v %v, want an x86-64 executable", c.started, bin.Machine, bin.Type)
			}
			for _, p := range bin.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s is dynamically linked: the runtime's image need not have its libraries", c.started)
				}
			}
			if st, err := os.Stat(started); err != nil || st.Mode()&0o111 == 0 {
				t.Errorf("%s is not executable: %v", c.started, err)
			}
		})
	}
}

// uncommentCustomDomain removes the comment marks from the commented-out
// customDomain resource: the lines from "  # customDomain:" on that start
// with "  #".
func uncommentCustomDomain(t *testing.T, raw []byte) []byte {
	t.Helper()
	lines := strings.SplitAfter(string(raw), "\n")
	start := slices.Index(lines, "  # customDomain:\n")
	if start < 0 {
		t.Fatal("no commented-out customDomain resource")
	}
	for i := start; i < len(lines) && strings.HasPrefix(lines[i], "  #"); i++ {
		lines[i] = "  " + strings.TrimPrefix(strings.TrimPrefix(lines[i], "  #"), " ")
	}
	return []byte(strings.Join(lines, ""))
}

// checked is what checkSYAML found in a deploy file.
type checked struct {
	problems    []string
	domains     int    // custom domain resources
	function    string // the function's name
	instanceCap int    // the function's concurrencyConfig.reservedConcurrency
	// build is the action that builds the function: its command, the
	// directory it runs in and the output path it names.
	build struct{ run, dir, out string }
	// started is the path, relative to build.dir, of the file Function
	// Compute starts.
	started string
}

// checkSYAML checks the resources of a deploy file. A file that cannot be
// read as one fails the test; what Function Compute would refuse or run
// badly is returned as problems.
func checkSYAML(t *testing.T, f deployFile, raw []byte) (c checked) {
	t.Helper()
	problem := func(format string, args ...any) { c.problems = append(c.problems, fmt.Sprintf(format, args...)) }
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
		t.Fatalf("%s: edition %q with %d resources, want 3.0.0 and at least one", f.name, s.Edition, len(s.Resources))
	}
	functions := 0
	for name, r := range s.Resources {
		schema, ok := schemas[r.Component]
		if !ok {
			problem("%s: component %q, want fc3 or fc3-domain", name, r.Component)
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
			problem("%s: props do not match the %s schema: %v", name, r.Component, err)
		}
		if r.Component == "fc3-domain" {
			c.domains++
			c.problems = append(c.problems, checkDomain(name, doc, s.Vars["functionName"])...)
			continue
		}
		functions++

		var p struct {
			FunctionName           string
			Runtime, Handler, Code string
			InstanceConcurrency    int
			CustomRuntimeConfig    struct {
				Command, Args []string
				Port          int
			}
			ConcurrencyConfig struct{ ReservedConcurrency int }
			LogConfig         any
			MemorySize        int
			CPU               float64
			Env               map[string]string `json:"environmentVariables"`
			Triggers          []struct {
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
		c.function = p.FunctionName
		if p.LogConfig == nil {
			problem("%s: no logConfig: start-up failures and request lines would be lost, and s logs would show nothing", name)
		}

		// The runtime. Function Compute 3.0 gives instance concurrency to
		// custom runtimes only ("Comparison and compatibility between
		// Function Compute 3.0 and Function Compute 2.0"; the fc3 component
		// defaults it only for custom* runtimes and drops it from the rest).
		custom := strings.HasPrefix(p.Runtime, "custom")
		concurrency := max(p.InstanceConcurrency, 1)
		if !custom && p.InstanceConcurrency > 1 {
			problem("%s: instanceConcurrency %d on runtime %s: Function Compute 3.0 runs one request per instance in built-in runtimes", name, p.InstanceConcurrency, p.Runtime)
		}
		if f.custom && (!custom || p.Runtime == "custom-container") {
			problem("%s: runtime %q: want a custom runtime (custom.debian10, 11 or 12), which serves HTTP with many requests per instance", name, p.Runtime)
		} else if !f.custom && p.Runtime != "go1" {
			problem("%s: runtime %q: want go1, which runs %s", name, p.Runtime, f.pkg)
		}
		if custom && concurrency < 2 {
			problem("%s: instanceConcurrency %d: want at least 2 requests at once, so that they share stored objects", name, p.InstanceConcurrency)
		}

		// The build, and the file Function Compute starts from it: the
		// command under /code, where the code directory is, or the go1
		// handler.
		for _, steps := range r.Actions {
			for _, step := range steps {
				m := buildAction.FindStringSubmatch(step.Run)
				if m == nil || filepath.Clean(m[2]) != f.pkg {
					continue
				}
				c.build.run, c.build.dir, c.build.out = step.Run, step.Path, m[1]
			}
		}
		if c.build.run == "" {
			problem("%s: no action builds ./%s with %q", name, f.pkg, buildAction)
			continue
		}
		code := filepath.Clean(p.Code)
		built, err := filepath.Rel(code, filepath.Clean(c.build.out))
		if err != nil || strings.HasPrefix(built, "..") {
			problem("%s: the action builds %s, outside the code directory %s", name, c.build.out, p.Code)
			continue
		}
		c.started = filepath.Join(code, built)
		if custom {
			want := []string{path.Join("/code", filepath.ToSlash(built))}
			if cmd := p.CustomRuntimeConfig.Command; !slices.Equal(cmd, want) || len(p.CustomRuntimeConfig.Args) != 0 {
				problem("%s: customRuntimeConfig.command %v with args %v: want %v, the built %s", name, cmd, p.CustomRuntimeConfig.Args, want, c.build.out)
			}
			if port := p.CustomRuntimeConfig.Port; port != 0 && port != defaultPort {
				problem("%s: customRuntimeConfig.port %d: want %d, where the server listens unless FC_CUSTOM_LISTEN_PORT says otherwise", name, port, defaultPort)
			}
		} else if p.Handler != built {
			problem("%s: handler %q: want %q, the built %s", name, p.Handler, built, c.build.out)
		}

		// Memory: the in-flight budget, as configuration derives it from the
		// function's memory, must hold the most that admission lets each of
		// the instance's requests hold at once.
		env := func(k string) string {
			if k == "FC_FUNCTION_MEMORY_SIZE" { // as FC sets it from memorySize
				return strconv.Itoa(p.MemorySize)
			}
			return p.Env[k]
		}
		cfg, err := config.Load(env)
		if err != nil {
			problem("%s: environmentVariables with memorySize %d: %v", name, p.MemorySize, err)
		} else if most := processor.MaxRequestCost(cfg.Processor.MaxBodyBytes, cfg.Processor.MaxEntries); int64(concurrency)*most > cfg.Processor.MaxInflightBytes {
			problem("%s: a budget of %d bytes from memorySize %d does not hold %d of the largest requests (%d bytes each)",
				name, cfg.Processor.MaxInflightBytes, p.MemorySize, concurrency, most)
		}
		// Function Compute takes 1 to 4 GB of memory per vCPU
		// (https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/product-overview/instance-types-and-usage-modes).
		if gb := float64(p.MemorySize) / 1024; gb < p.CPU || gb > 4*p.CPU {
			problem("%s: memorySize %d MB with cpu %v: Function Compute takes 1 to 4 GB per vCPU", name, p.MemorySize, p.CPU)
		}

		// The cap, in instances, within what a new account may give one
		// function.
		c.instanceCap = p.ConcurrencyConfig.ReservedConcurrency
		if c.instanceCap < 1 || c.instanceCap > maxFunctionInstances {
			problem("%s: concurrencyConfig.reservedConcurrency %d: want a cap of 1 to %d instances, which a new account's region allows one function", name, c.instanceCap, maxFunctionInstances)
		}
		if p.Env["WEBTRACK_LOG_LEVEL"] == "" {
			problem("%s: WEBTRACK_LOG_LEVEL is not set", name)
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
			problem("%s: no anonymous http trigger for GET, POST and OPTIONS", name)
		}
	}
	if functions != 1 {
		problem("%s: %d fc3 functions, want 1", f.name, functions)
	}
	return c
}

// buildAction is the build that s deploy runs: a static linux/amd64 binary,
// as Function Compute's runtimes run it, written to its output path (1)
// from its package (2).
var buildAction = regexp.MustCompile(`^GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o (\S+) \./(\S+)$`)

// checkDomain checks a custom domain's props: HTTPS (pages served over
// HTTPS can send nowhere else) with a certificate, and every path routed to
// the function for the protocol's methods.
func checkDomain(name string, doc []byte, function string) (problems []string) {
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
		return []string{fmt.Sprintf("%s: %v", name, err)}
	}
	if d.DomainName == "" || d.DomainName == "auto" || !strings.Contains(d.Protocol, "HTTPS") || len(d.CertConfig) == 0 {
		problems = append(problems, fmt.Sprintf("%s: domain %q over %q with certificate %v: want a domain of one's own over HTTPS, with its certificate", name, d.DomainName, d.Protocol, d.CertConfig))
	}
	routed := false
	for _, r := range d.RouteConfig.Routes {
		m := r.Methods
		if r.FunctionName == function && r.Path == "/*" && slices.Contains(m, "GET") && slices.Contains(m, "POST") && slices.Contains(m, "OPTIONS") {
			routed = true
		}
	}
	if !routed {
		problems = append(problems, fmt.Sprintf("%s: no route of /* to %s for GET, POST and OPTIONS: %+v", name, function, d.RouteConfig))
	}
	return problems
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
// WEBTRACK_TOKEN_SECRETS beside WEBTRACK_SIGNED_LOGSTORES, in both deploy
// files.
func TestSYAMLTokenSecrets(t *testing.T) {
	for _, f := range deployFiles {
		t.Run(f.name, func(t *testing.T) { checkTokenSecrets(t, f.read(t)) })
	}
}

func checkTokenSecrets(t *testing.T, raw []byte) {
	t.Helper()
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
