package main

import (
	"maps"

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/s3sink"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
)

// drivers are the sinks an AWS function uses, their clients configured from
// the function's environment alone (awsconfig.FromEnvironment): the SDK's
// config package and its credential chain stay out of the binary and its
// cold start. Kafka is linked with -tags kafka.
func drivers() sink.Drivers {
	d := sink.Drivers{
		"file": filesink.Open,
		"s3":   s3sink.Opener(awsconfig.FromEnvironment),
		"sqs":  sqssink.Opener(awsconfig.FromEnvironment),
	}
	maps.Copy(d, kafkaDrivers)
	return d
}
