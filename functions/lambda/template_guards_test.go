package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
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

// wantNode checks the node at path: a plain scalar's value, or a tagged
// one's tag and value ("!Ref Name").
func wantNode(t *testing.T, tpl *yaml.Node, path, w string) {
	t.Helper()
	n := get(tpl, path)
	if n == nil {
		t.Errorf("%s is missing, want %s", path, w)
		return
	}
	got := n.Value
	if n.Tag != "!!str" && n.Tag != "!!int" {
		got = n.Tag + " " + n.Value
	}
	if got != w {
		t.Errorf("%s = %s, want %s", path, got, w)
	}
}

// eval evaluates the intrinsic functions the template uses on parameter
// values (!Ref, !Select, !Split, !Sub, and in conditions !Equals, !And,
// !Not, !Condition), as CloudFormation would.
func eval(t *testing.T, n *yaml.Node, params map[string]string) any {
	t.Helper()
	if n == nil {
		t.Fatal("eval: the template has no such node")
	}
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
	case "!And":
		all := true
		for _, c := range n.Content {
			all = all && eval(t, c, params) == "true"
		}
		return fmt.Sprint(all)
	case "!Not":
		return fmt.Sprint(eval(t, n.Content[0], params) != "true")
	case "!Condition":
		return eval(t, get(templateNode(t), "Conditions."+n.Value), params)
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
		wantNode(t, tpl, path, w)
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
	// Empty is no reservation; 0 would throttle every request.
	reservedPattern := regexp.MustCompile(get(tpl, "Parameters.ReservedConcurrency.AllowedPattern").Value)
	for value, ok := range map[string]bool{"": true, "1": true, "20": true, "1000": true, "0": false, "00": false, "-1": false, "5 ": false} {
		if reservedPattern.MatchString(value) != ok {
			t.Errorf("ReservedConcurrency %q admitted: %v, want %v", value, !ok, ok)
		}
	}
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

// TestTemplateSinkURLAdmitsOnlyWhatItsGrantCovers tries S3 prefixes with
// every printable ASCII character, and the shapes that decoding or trimming
// changes: each one the SinkUrl pattern admits must give a grant that
// covers, literally, the keys the sink writes (IAM reads "*", "?" and "${"
// in a resource as wildcards and variables); the known traps, where the
// grant would name other keys than the sink writes (AccessDenied on every
// request), must be refused.
func TestTemplateSinkURLAdmitsOnlyWhatItsGrantCovers(t *testing.T) {
	tpl := templateNode(t)
	pattern := regexp.MustCompile(get(tpl, "Parameters.SinkUrl.AllowedPattern").Value)
	var s3Grant *yaml.Node
	for _, p := range get(tpl, "Resources.WebtrackFunction.Properties.Policies").Content {
		if p.Tag == "!If" && p.Content[0].Value == "FunctionWritesS3" {
			s3Grant = get(p.Content[1], "Statement.0.Resource")
		}
	}
	admitted := func(sinkURL string) bool {
		t.Helper()
		if !pattern.MatchString(sinkURL) {
			return false
		}
		u, err := url.Parse(sinkURL)
		if err != nil {
			t.Errorf("SinkUrl %q is admitted but is no URL: %v", sinkURL, err)
			return true
		}
		layout, err := objectlayout.Parse(u.Path, u.Query())
		if err != nil {
			t.Errorf("SinkUrl %q is admitted but the sink refuses it: %v", sinkURL, err)
			return true
		}
		grant := eval(t, s3Grant, map[string]string{"SinkUrl": sinkURL}).(string)
		literal := strings.TrimSuffix(strings.TrimPrefix(grant, "arn:aws:s3:::"), "*")
		if want := u.Host + "/" + layout.Prefix; literal != want || strings.ContainsAny(literal, "*?") || strings.Contains(literal, "${") {
			t.Errorf("SinkUrl %q is admitted, but its grant %s does not cover exactly the keys %s…", sinkURL, grant, want)
		}
		return true
	}
	for c := byte(' '); c <= '~'; c++ {
		for _, prefix := range []string{"a" + string(c) + "b", string(c), "a/" + string(c) + string(c)} {
			admitted("s3://logs/" + prefix)
			admitted("s3://logs/" + prefix + "?region=eu-west-1")
		}
	}
	for _, sinkURL := range []string{
		"s3://logs/web%20track", "s3://logs/web%2Ftrack", "s3://logs/web#track", "s3://logs//webtrack",
		"s3://logs/web//track", "s3://logs/webtrack/", "s3://logs/./webtrack", "s3://logs/web/../track",
		"s3://logs/web*", "s3://logs/${aws:username}", "s3://logs/web track", "s3://logs/wéb",
	} {
		if admitted(sinkURL) {
			t.Errorf("SinkUrl %q is admitted: the sink would not write under the prefix as written", sinkURL)
		}
	}
	for _, sinkURL := range []string{"s3://logs/webtrack", "s3://logs/a/b?compression=zstd", "s3://logs/env=prod/app_1", "s3://logs/v1.2/it's(1)!"} {
		if !admitted(sinkURL) {
			t.Errorf("SinkUrl %q is refused: want it admitted", sinkURL)
		}
	}
}

// TestTemplateRefusesQueuePathWithoutS3 checks that QueuePath=true with a
// SinkUrl that is not s3:// fails the stack (the compactor would refuse to
// start, and every message would go to the dead-letter queue after its
// client got 200), and that no other combination does.
func TestTemplateRefusesQueuePathWithoutS3(t *testing.T) {
	tpl := templateNode(t)
	const guard = "Resources.QueuePathNeedsAnS3SinkUrl."
	cond := get(tpl, guard+"Condition")
	if cond == nil || get(tpl, guard+"Type").Value != "AWS::CloudFormation::WaitCondition" {
		t.Fatal("no AWS::CloudFormation::WaitCondition QueuePathNeedsAnS3SinkUrl with a condition")
	}
	handle := get(tpl, guard+"Properties.Handle")
	if handle.Tag != "!Ref" || get(tpl, "Resources."+handle.Value+".Type").Value != "AWS::CloudFormation::WaitConditionHandle" ||
		get(tpl, "Resources."+handle.Value+".Condition").Value != cond.Value {
		t.Errorf("the wait condition's handle %s %s: want a WaitConditionHandle under the same condition", handle.Tag, handle.Value)
	}
	// Nothing signals the handle: the wait condition fails at its timeout.
	if timeout, _ := strconv.Atoi(get(tpl, guard+"Properties.Timeout").Value); timeout < 1 || timeout > 10 {
		t.Errorf("the wait condition's timeout is %d s: want a few seconds", timeout)
	}
	if count, _ := strconv.Atoi(get(tpl, guard+"Properties.Count").Value); count < 1 {
		t.Errorf("the wait condition waits for %d signals: want at least 1", count)
	}
	for _, c := range []struct {
		queuePath, sinkURL string
		refused            bool
	}{
		{"true", "sqs://webtrack-queue?region=eu-west-1", true},
		{"true", "sqs://webtrack.fifo", true},
		{"true", "s3://logs/webtrack?region=eu-west-1", false},
		{"false", "sqs://webtrack-queue", false},
		{"false", "s3://logs", false},
	} {
		params := map[string]string{"QueuePath": c.queuePath, "SinkUrl": c.sinkURL}
		if got := eval(t, get(tpl, "Conditions."+cond.Value), params) == "true"; got != c.refused {
			t.Errorf("QueuePath=%s SinkUrl=%s: refused %v, want %v", c.queuePath, c.sinkURL, got, c.refused)
		}
	}
}

// TestTemplateQueuePathAlarms checks that with QueuePath and an alarm topic,
// a broken bucket notifies the topic: the compactor's failed stores (its
// ERROR lines: the invocation itself succeeds, returning the messages as
// batch item failures), its failed invocations, and messages in the
// dead-letter queue.
func TestTemplateQueuePathAlarms(t *testing.T) {
	tpl := templateNode(t)
	want := func(path, w string) {
		t.Helper()
		wantNode(t, tpl, path, w)
	}
	if got := eval(t, get(tpl, "Conditions.WithQueuePathAlarms"), map[string]string{"QueuePath": "true", "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"}); got != "true" {
		t.Error("WithQueuePathAlarms is false with QueuePath=true and an AlarmTopicArn")
	}
	for _, params := range []map[string]string{{"QueuePath": "false", "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"}, {"QueuePath": "true", "AlarmTopicArn": ""}} {
		if got := eval(t, get(tpl, "Conditions.WithQueuePathAlarms"), params); got != "false" {
			t.Errorf("WithQueuePathAlarms is true with %v", params)
		}
	}
	for alarm, metric := range map[string][3]string{
		"CompactorFailureAlarm": {"webtrack", "CompactorFailures", "Sum"},
		"CompactorErrorAlarm":   {"AWS/Lambda", "Errors", "Sum"},
		"DeadLetterQueueAlarm":  {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"},
	} {
		a := "Resources." + alarm + "."
		want(a+"Type", "AWS::CloudWatch::Alarm")
		want(a+"Condition", "WithQueuePathAlarms")
		want(a+"Properties.Namespace", metric[0])
		want(a+"Properties.MetricName", metric[1])
		want(a+"Properties.Statistic", metric[2])
		want(a+"Properties.Threshold", "1")
		want(a+"Properties.ComparisonOperator", "GreaterThanOrEqualToThreshold")
		want(a+"Properties.AlarmActions.0", "!Ref AlarmTopicArn") // the topic SinkFailureAlarm uses
	}
	want("Resources.CompactorErrorAlarm.Properties.Dimensions.0.Name", "FunctionName")
	want("Resources.CompactorErrorAlarm.Properties.Dimensions.0.Value", "!Ref CompactorFunction")
	want("Resources.DeadLetterQueueAlarm.Properties.Dimensions.0.Name", "QueueName")
	want("Resources.DeadLetterQueueAlarm.Properties.Dimensions.0.Value", "!GetAtt WebtrackDeadLetterQueue.QueueName")

	// The metric filter counts the compactor's ERROR lines as slog writes
	// them, into the metric the alarm watches.
	const filter = "Resources.CompactorFailureMetric."
	want(filter+"Type", "AWS::Logs::MetricFilter")
	want(filter+"Condition", "WithQueuePath")
	want(filter+"Properties.LogGroupName", "!Ref CompactorLogGroup")
	want(filter+"Properties.MetricTransformations.0.MetricNamespace", "webtrack")
	want(filter+"Properties.MetricTransformations.0.MetricName", "CompactorFailures")
	want(filter+"Properties.MetricTransformations.0.MetricValue", "1")
	m := regexp.MustCompile(`^\{ \$\.(\w+) = "(\w+)" \}$`).FindStringSubmatch(get(tpl, filter+"Properties.FilterPattern").Value)
	var line bytes.Buffer
	slog.New(slog.NewJSONHandler(&line, nil)).Error("partition not stored; its messages come back")
	var fields map[string]any
	if err := json.Unmarshal(line.Bytes(), &fields); err != nil || m == nil || fields[m[1]] != m[2] {
		t.Errorf("the filter pattern %q does not match the compactor's ERROR line %s", get(tpl, filter+"Properties.FilterPattern").Value, line.Bytes())
	}
}
