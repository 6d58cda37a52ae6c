package config

// metrics reads WEBTRACK_EMF_METRICS: CloudWatch Embedded Metric Format
// members in each request line, on by default on Lambda
// (AWS_LAMBDA_FUNCTION_NAME set), where CloudWatch Logs turns them into
// metrics, and off elsewhere.
func (r *reader) metrics(cfg *Config) {
	cfg.Processor.EMFMetrics = r.platform() == awsLambda
	r.bool("WEBTRACK_EMF_METRICS", &cfg.Processor.EMFMetrics)
}
