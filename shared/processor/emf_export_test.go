package processor

import "testing"

// ForgetMetricLogstores makes the metrics forget the logstore names they
// have given their own value, as a new instance would, for the rest of t.
func ForgetMetricLogstores(t testing.TB) {
	metricLogstores.Lock()
	saved := metricLogstores.names
	metricLogstores.names = map[string]bool{}
	metricLogstores.Unlock()
	t.Cleanup(func() {
		metricLogstores.Lock()
		metricLogstores.names = saved
		metricLogstores.Unlock()
	})
}
