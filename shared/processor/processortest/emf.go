package processortest

import (
	"encoding/json"
	"fmt"
	"slices"
)

// emfUnits are the units that CloudWatch accepts in a metric definition.
var emfUnits = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
	"Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
	"Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

// EMFMetric is one metric that CloudWatch would extract from a log line.
type EMFMetric struct {
	Namespace  string
	Name       string
	Dimensions map[string]string // dimension name → value; empty for the set []
	Value      float64
}

// ParseEMF checks line, a JSON log line, against CloudWatch's Embedded
// Metric Format specification (an _aws object with a numeric Timestamp and
// metric directives whose dimensions name top-level strings and whose
// metrics name top-level numbers), and returns the metrics CloudWatch would
// extract from it.
func ParseEMF(line []byte) ([]EMFMetric, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *float64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	if err := json.Unmarshal(root["_aws"], &meta); err != nil || meta.Timestamp == nil || len(meta.CloudWatchMetrics) == 0 {
		return nil, fmt.Errorf("_aws %s: want an object with a numeric Timestamp and CloudWatchMetrics (%v)", root["_aws"], err)
	}
	var metrics []EMFMetric
	for _, d := range meta.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Namespace) > 255 || len(d.Metrics) == 0 || len(d.Metrics) > 100 || d.Dimensions == nil {
			return nil, fmt.Errorf("directive %+v: want a Namespace, Dimensions and 1 to 100 Metrics", d)
		}
		for _, set := range d.Dimensions {
			if len(set) > 30 {
				return nil, fmt.Errorf("a dimension set of %d dimensions, over 30", len(set))
			}
			dims := map[string]string{}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil || v == "" {
					return nil, fmt.Errorf("dimension %q: the member is %s, want a non-empty string", name, root[name])
				}
				dims[name] = v
			}
			for _, m := range d.Metrics {
				var v float64
				if err := json.Unmarshal(root[m.Name], &v); err != nil {
					return nil, fmt.Errorf("metric %q: the member is %s, want a number", m.Name, root[m.Name])
				}
				if m.Unit != "" && !slices.Contains(emfUnits, m.Unit) {
					return nil, fmt.Errorf("metric %q: unit %q is not a CloudWatch unit", m.Name, m.Unit)
				}
				metrics = append(metrics, EMFMetric{Namespace: d.Namespace, Name: m.Name, Dimensions: dims, Value: v})
			}
		}
	}
	return metrics, nil
}
