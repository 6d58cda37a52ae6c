package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/shared/config"
)

const templatePath = "../../template.yaml"

// TestTemplateLint runs cfn-lint, which also expands the SAM transform.
func TestTemplateLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint is not on PATH: run `bash .ci/test`, whose setup (.ci/setup.d/31-cfn-lint.sh) checks for it")
	}
	if out, err := exec.Command(lint, templatePath).CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint %s: %v\n%s", templatePath, err, out)
	}
}

// samTemplate is the part of template.yaml that must agree with the code.
// The YAML decoder drops CloudFormation's short-form tags, so !Ref Name
// reads as Name.
type samTemplate struct {
	Parameters map[string]struct {
		Default        any    `yaml:"Default"`
		AllowedPattern string `yaml:"AllowedPattern"`
	} `yaml:"Parameters"`
	Resources map[string]struct {
		Type     string `yaml:"Type"`
		Metadata struct {
			BuildMethod string `yaml:"BuildMethod"`
		} `yaml:"Metadata"`
		Properties struct {
			CodeUri     string `yaml:"CodeUri"`
			Handler     string `yaml:"Handler"`
			Runtime     string `yaml:"Runtime"`
			Environment struct {
				Variables map[string]string `yaml:"Variables"`
			} `yaml:"Environment"`
			Events map[string]struct {
				Type       string `yaml:"Type"`
				Properties struct {
					Path   string `yaml:"Path"`
					Method string `yaml:"Method"`
				} `yaml:"Properties"`
			} `yaml:"Events"`
		} `yaml:"Properties"`
	} `yaml:"Resources"`
}

// TestTemplateMatchesCode checks that the function SAM builds is this
// package, that its environment is a valid configuration with the
// parameters' defaults, and that every HTTP API sample event's route is one
// the template declares.
func TestTemplateMatchesCode(t *testing.T) {
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var tpl samTemplate
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	fn, ok := tpl.Resources["WebtrackFunction"]
	if !ok || fn.Type != "AWS::Serverless::Function" {
		t.Fatal("no AWS::Serverless::Function WebtrackFunction")
	}
	p := fn.Properties
	if p.Handler != "bootstrap" || p.Runtime != "provided.al2023" || fn.Metadata.BuildMethod != "go1.x" {
		t.Errorf("Handler %q, Runtime %q, BuildMethod %q: want bootstrap, provided.al2023, go1.x", p.Handler, p.Runtime, fn.Metadata.BuildMethod)
	}
	here, _ := filepath.Abs(".")
	if built, _ := filepath.Abs(filepath.Join("../..", p.CodeUri)); built != here {
		t.Errorf("CodeUri %q builds %s, not this package (%s)", p.CodeUri, built, here)
	}

	env := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "webtrack"} // as Lambda sets it
	for name, param := range p.Environment.Variables {
		def := tpl.Parameters[param].Default
		if def == nil {
			def = "s3://example-bucket/webtrack/?region=eu-west-1" // SinkUrl has no default
		}
		env[name] = fmt.Sprint(def)
	}
	if _, err := config.Load(func(k string) string { return env[k] }); err != nil {
		t.Errorf("the template's environment with the parameters' defaults: %v", err)
	}

	// SinkUrl admits only the sinks this binary links and that outlive the
	// instance: anything else fails every cold start or loses every batch.
	pattern := regexp.MustCompile(tpl.Parameters["SinkUrl"].AllowedPattern)
	for sinkURL, ok := range map[string]bool{
		"s3://bucket/webtrack?region=eu-west-1":                               true,
		"sqs://queue?region=eu-west-1":                                        true,
		"sqs://?queue_url=https://sqs.eu-west-1.amazonaws.com/123456789012/q": true,
		"oss://bucket/webtrack":                                               false,
		"kafka://broker:9092/topic":                                           false,
		"file:///tmp/data":                                                    false,
	} {
		if pattern.MatchString(sinkURL) != ok {
			t.Errorf("SinkUrl pattern %q admits %s: %v, want %v", pattern, sinkURL, !ok, ok)
		}
	}

	routes := map[string]bool{}
	for _, ev := range p.Events {
		if ev.Type == "HttpApi" {
			routes[strings.ToUpper(ev.Properties.Method)+" "+ev.Properties.Path] = true
		}
	}
	samples, err := events.Samples("lambda-httpapi-")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		var ev struct{ RouteKey string }
		if err := json.Unmarshal(s.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if !routes[ev.RouteKey] {
			t.Errorf("%s: route %q is not in the template (%v)", s.Name, ev.RouteKey, routes)
		}
	}
}
