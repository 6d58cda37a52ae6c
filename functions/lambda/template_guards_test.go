package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
)

// templateNode reads template.yaml as YAML nodes, which keep the
// CloudFormation short-form tags (!Ref, !Select, …) that decoding drops.
func templateNode(t *testing.T) *yaml.Node {
	t.Helper()
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// get follows a dotted path of mapping keys and sequence indexes.
func get(n *yaml.Node, path string) *yaml.Node {
	for _, k := range strings.Split(path, ".") {
		if n == nil {
			return nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
	}
	return n
}

// eval evaluates the intrinsic functions the template uses on parameter
// values (!Ref, !Select, !Split, !Sub, !Equals), as CloudFormation would.
func eval(t *testing.T, n *yaml.Node, params map[string]string) any {
	t.Helper()
	pseudo := map[string]string{"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::Region": "eu-west-1"}
	switch n.Tag {
	case "!Ref":
		if v, ok := params[n.Value]; ok {
			return v
		}
		return pseudo[n.Value]
	case "!Select":
		i, _ := strconv.Atoi(eval(t, n.Content[0], params).(string))
		list := eval(t, n.Content[1], params).([]string)
		if i >= len(list) {
			t.Fatalf("!Select %d of %q: out of range, the stack would fail", i, list)
		}
		return list[i]
	case "!Split":
		return strings.Split(eval(t, n.Content[1], params).(string), eval(t, n.Content[0], params).(string))
	case "!Equals":
		return fmt.Sprint(eval(t, n.Content[0], params) == eval(t, n.Content[1], params))
	case "!Sub":
		tmpl, vars := n, map[string]string{}
		if n.Kind == yaml.SequenceNode {
			tmpl = n.Content[0]
			m := n.Content[1]
			for i := 0; i+1 < len(m.Content); i += 2 {
				vars[m.Content[i].Value] = eval(t, m.Content[i+1], params).(string)
			}
		}
		s := tmpl.Value
		for k, v := range pseudo {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		for k, v := range vars {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		return s
	case "!!str", "!!int":
		return n.Value
	}
	t.Fatalf("eval: unsupported node %s %q", n.Tag, n.Value)
	return nil
}

// TestTemplateGrantsFollowTheSinkURL evaluates the function's grants for
// sink URLs the template admits: each must name exactly the bucket and
// prefix, or the queue, that the sink itself will write to.
func TestTemplateGrantsFollowTheSinkURL(t *testing.T) {
	tpl := templateNode(t)
	policies := get(tpl, "Resources.WebtrackFunction.Properties.Policies")
	grant := func(cond string) *yaml.Node {
		for _, p := range policies.Content {
			if p.Tag == "!If" && p.Content[0].Value == cond {
				return get(p.Content[1], "Statement.0.Resource")
			}
		}
		t.Fatalf("no grant under condition %s", cond)
		return nil
	}
	s3Grant, sqsGrant := grant("FunctionWritesS3"), grant("FunctionWritesSQS")
	isS3, isSQS := get(tpl, "Conditions.SinkIsS3"), get(tpl, "Conditions.SinkIsSQS")
	for _, sinkURL := range []string{
		"s3://logs", "s3://logs/webtrack", "s3://logs/a/b?region=eu-west-1&compression=zstd", "s3://my.logs?region=us-east-1",
		"sqs://webtrack-queue", "sqs://webtrack.fifo?region=us-east-1&max_message_bytes=1048576",
	} {
		u, err := url.Parse(sinkURL)
		if err != nil {
			t.Fatal(err)
		}
		params := map[string]string{"SinkUrl": sinkURL}
		s3, sqs := eval(t, isS3, params) == "true", eval(t, isSQS, params) == "true"
		if s3 != (u.Scheme == "s3") || sqs != (u.Scheme == "sqs") {
			t.Errorf("%s: SinkIsS3 %v, SinkIsSQS %v", sinkURL, s3, sqs)
		}
		switch u.Scheme {
		case "s3":
			layout, err := objectlayout.Parse(u.Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Keys are {prefix}project=…: the grant must cover them all.
			want := "arn:aws:s3:::" + u.Host + "/" + layout.Prefix + "*"
			if got := eval(t, s3Grant, params); got != want {
				t.Errorf("%s: the S3 grant is %v, want %s", sinkURL, got, want)
			}
		case "sqs":
			if got, want := eval(t, sqsGrant, params), "arn:aws:sqs:*:123456789012:"+u.Host; got != want {
				t.Errorf("%s: the SQS grant is %v, want %s", sinkURL, got, want)
			}
		}
	}
}

// TestTemplateGuards checks what protects the owner's bill and tells them
// what happens: throttling on every route, an optional concurrency cap, logs
// that expire at a level the owner picks, and an optional alarm on storage
// failures, from the metric the request lines carry.
func TestTemplateGuards(t *testing.T) {
	tpl := templateNode(t)
	want := func(path, w string) {
		t.Helper()
		n := get(tpl, path)
		if n == nil {
			t.Errorf("%s is missing, want %s", path, w)
			return
		}
		if got := strings.TrimSpace(n.Tag + " " + n.Value); n.Tag == "!!str" || n.Tag == "!!int" {
			if n.Value != w {
				t.Errorf("%s = %s, want %s", path, n.Value, w)
			}
		} else if got != w {
			t.Errorf("%s = %s, want %s", path, got, w)
		}
	}
	want("Resources.WebtrackHttpApi.Type", "AWS::Serverless::HttpApi")
	want("Resources.WebtrackHttpApi.Properties.DefaultRouteSettings.ThrottlingRateLimit", "!Ref ThrottlingRateLimit")
	want("Resources.WebtrackHttpApi.Properties.DefaultRouteSettings.ThrottlingBurstLimit", "!Ref ThrottlingBurstLimit")
	want("Parameters.ThrottlingRateLimit.Default", "1000")
	want("Parameters.ThrottlingBurstLimit.Default", "2000")
	events := get(tpl, "Resources.WebtrackFunction.Properties.Events")
	for i := 0; i+1 < len(events.Content); i += 2 {
		if get(events.Content[i+1], "Type").Value == "HttpApi" {
			want("Resources.WebtrackFunction.Properties.Events."+events.Content[i].Value+".Properties.ApiId", "!Ref WebtrackHttpApi")
		}
	}

	want("Parameters.ReservedConcurrency.Default", "")
	reserved := get(tpl, "Resources.WebtrackFunction.Properties.ReservedConcurrentExecutions")
	if reserved == nil || reserved.Tag != "!If" || reserved.Content[0].Value != "WithReservedConcurrency" || reserved.Content[2].Value != "AWS::NoValue" {
		t.Error("ReservedConcurrentExecutions: want !If [WithReservedConcurrency, !Ref ReservedConcurrency, !Ref AWS::NoValue]")
	}

	want("Parameters.LogRetentionInDays.Default", "14")
	want("Parameters.ApplicationLogLevel.Default", "INFO")
	for fn, group := range map[string]string{"WebtrackFunction": "WebtrackLogGroup", "CompactorFunction": "CompactorLogGroup"} {
		cfg := "Resources." + fn + ".Properties.LoggingConfig."
		want(cfg+"LogFormat", "JSON")
		want(cfg+"ApplicationLogLevel", "!Ref ApplicationLogLevel")
		want(cfg+"LogGroup", "!Ref "+group)
		want("Resources."+group+".Type", "AWS::Logs::LogGroup")
		want("Resources."+group+".Properties.RetentionInDays", "!Ref LogRetentionInDays")
	}

	want("Resources.SinkFailureAlarm.Condition", "WithAlarm")
	want("Resources.SinkFailureAlarm.Properties.Namespace", processor.EMFNamespace)
	want("Resources.SinkFailureAlarm.Properties.MetricName", "SinkFailures")
	want("Resources.SinkFailureAlarm.Properties.Statistic", "Sum")
	want("Resources.SinkFailureAlarm.Properties.AlarmActions.0", "!Ref AlarmTopicArn")
	if get(tpl, "Resources.SinkFailureAlarm.Properties.Dimensions") != nil {
		t.Error("the alarm has dimensions: the request lines count SinkFailures in total under no dimension")
	}
}
