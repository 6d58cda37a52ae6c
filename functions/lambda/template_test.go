package main

import (
	"encoding/json"
	"fmt"
	"net/url"
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
		NoEcho         bool   `yaml:"NoEcho"`
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
				Variables map[string]any `yaml:"Variables"`
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

// readTemplate reads template.yaml into a samTemplate.
func readTemplate(t *testing.T) samTemplate {
	t.Helper()
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var tpl samTemplate
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestTemplateMatchesCode checks that the function SAM builds is this
// package, that its environment is a valid configuration with the
// parameters' defaults, and that every HTTP API sample event's route is one
// the template declares.
func TestTemplateMatchesCode(t *testing.T) {
	tpl := readTemplate(t)
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
	for name, v := range p.Environment.Variables {
		param := fmt.Sprint(v)
		if alt, ok := v.([]any); ok && len(alt) == 3 { // !If [condition, then, else]: the defaults take else
			param = fmt.Sprint(alt[2])
		}
		def := tpl.Parameters[param].Default
		if def == nil {
			def = "s3://example-bucket/webtrack?region=eu-west-1" // SinkUrl has no default
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
		"s3://bucket/webtrack?region=eu-west-1":        true,
		"s3://bucket":                                  true,
		"s3://bucket/a/b?compression=zstd":             true,
		"sqs://queue?region=eu-west-1":                 true,
		"sqs://queue.fifo":                             true,
		"s3://bucket/webtrack/?region=eu-west-1":       false, // the grant would miss the keys
		"s3://Bucket/webtrack":                         false,
		"sqs://?queue_url=https://sqs.example.com/1/q": false, // no queue name to grant
		"oss://bucket/webtrack":                        false,
		"kafka://broker:9092/topic":                    false,
		"file:///tmp/data":                             false,
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

// TestTemplateQueuePath checks the opt-in queue path: a queue with a
// dead-letter queue, the function's sink pointed at it, and the compactor
// with its event source mapping and a role that may do only its job.
func TestTemplateQueuePath(t *testing.T) {
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	at := func(path string) any {
		var v any = tpl
		for _, k := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	want := func(path string, w any) {
		t.Helper()
		if got := at(path); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
	want("Parameters.QueuePath.Default", "false")
	want("Parameters.MaximumBatchingWindowInSeconds.Default", 300)
	want("Parameters.MaximumBatchingWindowInSeconds.MaxValue", 300)
	// A BatchSize over 10 needs a window of at least 1 s, or the event
	// source mapping (and the stack) fails:
	// https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
	if low, _ := at("Parameters.MaximumBatchingWindowInSeconds.MinValue").(int); low < 1 {
		t.Errorf("MaximumBatchingWindowInSeconds admits %d: with BatchSize 10000 the mapping needs at least 1", low)
	}
	want("Conditions.WithQueuePath", "[QueuePath true]")
	for _, name := range []string{"WebtrackQueue", "WebtrackDeadLetterQueue", "CompactorFunction", "CompactorRole"} {
		want("Resources."+name+".Condition", "WithQueuePath")
	}

	want("Resources.WebtrackQueue.Properties.RedrivePolicy.deadLetterTargetArn", "WebtrackDeadLetterQueue.Arn")
	if n, _ := at("Resources.WebtrackQueue.Properties.RedrivePolicy.maxReceiveCount").(int); n < 2 || n > 10 {
		t.Errorf("maxReceiveCount %d: want a few receives (2 to 10) before the dead-letter queue", n)
	}
	// AWS's rule for an SQS event source: a visibility timeout of at least
	// six times the function's timeout plus the batching window
	// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html),
	// here the longest window the parameter admits.
	visibility, _ := at("Resources.WebtrackQueue.Properties.VisibilityTimeout").(int)
	timeout, _ := at("Resources.CompactorFunction.Properties.Timeout").(int)
	window, _ := at("Parameters.MaximumBatchingWindowInSeconds.MaxValue").(int)
	if timeout == 0 || window == 0 || visibility < 6*timeout+window {
		t.Errorf("queue visibility timeout %d s, compactor timeout %d s, batching window up to %d s: want at least 6 x %d + %d = %d s",
			visibility, timeout, window, timeout, window, 6*timeout+window)
	}

	fn := "Resources.CompactorFunction."
	want(fn+"Metadata.BuildMethod", "go1.x")
	want(fn+"Properties.Handler", "bootstrap")
	want(fn+"Properties.Runtime", "provided.al2023")
	want(fn+"Properties.Environment.Variables.WEBTRACK_SINK", "SinkUrl")
	want(fn+"Properties.Role", "CompactorRole.Arn")
	want(fn+"Properties.Policies", nil)
	if src, err := os.ReadFile(filepath.Join("../..", fmt.Sprint(at(fn+"Properties.CodeUri")), "main.go")); err != nil || !strings.Contains(string(src), "compact.FromEnv") {
		t.Errorf("CodeUri %v does not build the compactor (%v)", at(fn+"Properties.CodeUri"), err)
	}
	evs, _ := at(fn + "Properties.Events").(map[string]any)
	if len(evs) != 1 {
		t.Fatalf("the compactor has events %v, want one SQS event", evs)
	}
	for name := range evs {
		ev := fn + "Properties.Events." + name + "."
		want(ev+"Type", "SQS")
		want(ev+"Properties.Queue", "WebtrackQueue.Arn")
		want(ev+"Properties.BatchSize", 10000)
		want(ev+"Properties.MaximumBatchingWindowInSeconds", "MaximumBatchingWindowInSeconds")
		want(ev+"Properties.FunctionResponseTypes", "[ReportBatchItemFailures]")
		// A cap on the compactor instances the queue runs at once, in the
		// 2 to 1000 that ScalingConfig takes
		// (https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html).
		want(ev+"Properties.ScalingConfig.MaximumConcurrency", "CompactorMaximumConcurrency")
	}
	low, _ := at("Parameters.CompactorMaximumConcurrency.MinValue").(int)
	high, _ := at("Parameters.CompactorMaximumConcurrency.MaxValue").(int)
	def, _ := at("Parameters.CompactorMaximumConcurrency.Default").(int)
	if low < 2 || high > 1000 || def < low || def > high {
		t.Errorf("CompactorMaximumConcurrency admits %d to %d, default %d: want within 2 to 1000", low, high, def)
	}

	// The compactor's role: receive and delete on the queue, PutObject
	// under the prefix, its logs; nothing else.
	want("Resources.CompactorRole.Properties.ManagedPolicyArns", "[arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]")
	want("Resources.CompactorRole.Properties.AssumeRolePolicyDocument.Statement", "[map[Action:sts:AssumeRole Effect:Allow Principal:map[Service:lambda.amazonaws.com]]]")
	policies, _ := at("Resources.CompactorRole.Properties.Policies").([]any)
	var grants []string
	for _, p := range policies {
		doc, _ := p.(map[string]any)["PolicyDocument"].(map[string]any)
		stmts, _ := doc["Statement"].([]any)
		for _, st := range stmts {
			st, _ := st.(map[string]any)
			grants = append(grants, fmt.Sprint(st["Effect"], " ", st["Action"], " on ", st["Resource"]))
		}
	}
	wantGrants := []string{
		"Allow [sqs:ReceiveMessage sqs:DeleteMessage sqs:GetQueueAttributes] on WebtrackQueue.Arn",
		"Allow s3:PutObject on [arn:${AWS::Partition}:s3:::${Location}/* map[Location:[0 [? [1 [:// SinkUrl]]]]]]",
	}
	if fmt.Sprint(grants) != fmt.Sprint(wantGrants) {
		t.Errorf("the compactor's grants are\n%s\nwant\n%s", strings.Join(grants, "\n"), strings.Join(wantGrants, "\n"))
	}

	// The function sends to the queue, may do only that there, and writes
	// no objects itself.
	want("Resources.WebtrackFunction.Properties.Environment.Variables.WEBTRACK_SINK", "[WithQueuePath sqs://?queue_url=${WebtrackQueue} SinkUrl]")
	queueSink := strings.ReplaceAll("sqs://?queue_url=${WebtrackQueue}", "${WebtrackQueue}", "https://sqs.eu-west-1.amazonaws.com/123456789012/webtrack-WebtrackQueue-AbC123")
	env := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "webtrack", "WEBTRACK_SINK": queueSink}
	if _, err := config.Load(func(k string) string { return env[k] }); err != nil {
		t.Errorf("the function's queue-path sink: %v", err)
	}
	if u, err := url.Parse(queueSink); err != nil || u.Scheme != "sqs" || u.Query().Get("queue_url") == "" {
		t.Errorf("the function's queue-path sink %s does not name the queue (%v)", queueSink, err)
	}
	policies, _ = at("Resources.WebtrackFunction.Properties.Policies").([]any)
	var queueGrant string
	for _, p := range policies {
		if alt, _ := p.([]any); len(alt) == 3 && alt[0] == "WithQueuePath" {
			queueGrant = fmt.Sprint(alt[1])
		} else if len(alt) == 3 && alt[0] == "SinkIsS3" {
			t.Error("the function's S3 grant holds on the queue path too: want it only when the function writes S3")
		}
	}
	if want := "map[Statement:[map[Action:sqs:SendMessage Effect:Allow Resource:WebtrackQueue.Arn]] Version:2012-10-17]"; queueGrant != want {
		t.Errorf("the function's queue-path grant is %s, want %s", queueGrant, want)
	}
}

// TestTemplateSignedWrites checks what signed writes need: the token
// secrets as a parameter that is never shown (NoEcho), admitting what
// WEBTRACK_TOKEN_SECRETS admits, wired with the signed logstores into the
// function's environment, and the HTTP API routes of the signed path.
func TestTemplateSignedWrites(t *testing.T) {
	tpl := readTemplate(t)
	secrets := tpl.Parameters["TokenSecrets"]
	if !secrets.NoEcho || secrets.Default != "" {
		t.Errorf("TokenSecrets: NoEcho %v, Default %q; want true and empty", secrets.NoEcho, secrets.Default)
	}
	pattern := regexp.MustCompile(secrets.AllowedPattern)
	const secret, other = "0123456789abcdefghijklmnopqrstuvwxyz+/=", "9876543210abcdefghijklmnopqrstuvwxyz+/="
	for value, ok := range map[string]bool{
		"":                    true,
		secret:                true,
		secret + "," + other:  true,
		"short":               false,
		secret + ",short":     false,
		secret + ", " + other: false,
		secret + ",":          false,
	} {
		if pattern.MatchString(value) != ok {
			t.Errorf("TokenSecrets pattern admits %q: %v, want %v", value, !ok, ok)
		}
		if !ok {
			continue
		}
		env := map[string]string{"WEBTRACK_TOKEN_SECRETS": value, "WEBTRACK_SIGNED_LOGSTORES": "orders"}
		_, err := config.Load(func(k string) string { return env[k] })
		if value != "" && err != nil {
			t.Errorf("TokenSecrets %q, which the template admits: %v", value, err)
		}
	}
	fn := tpl.Resources["WebtrackFunction"].Properties
	vars := fn.Environment.Variables
	if vars["WEBTRACK_TOKEN_SECRETS"] != "TokenSecrets" || vars["WEBTRACK_SIGNED_LOGSTORES"] != "SignedLogstores" {
		t.Errorf("the function's environment: WEBTRACK_TOKEN_SECRETS %v, WEBTRACK_SIGNED_LOGSTORES %v; want the parameters TokenSecrets and SignedLogstores",
			vars["WEBTRACK_TOKEN_SECRETS"], vars["WEBTRACK_SIGNED_LOGSTORES"])
	}
	routes := map[string]bool{}
	for _, ev := range fn.Events {
		if ev.Type == "HttpApi" {
			routes[ev.Properties.Method+" "+ev.Properties.Path] = true
		}
	}
	for _, want := range []string{"POST /logstores/{logstore}", "OPTIONS /logstores/{logstore}"} {
		if !routes[want] {
			t.Errorf("the HTTP API has no route %s (%v)", want, routes)
		}
	}
}
