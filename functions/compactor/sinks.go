package main

import (
	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/osssink"
	"github.com/webtrack/webtrack/shared/sink/s3sink"
)

// objectDrivers are the object sinks the compactor writes through, the S3
// client configured from the function's environment alone, as in the
// ingest function.
func objectDrivers() sink.Drivers {
	return sink.Drivers{
		"file": filesink.Open,
		"oss":  osssink.Open,
		"s3":   s3sink.Opener(awsconfig.FromEnvironment),
	}
}
