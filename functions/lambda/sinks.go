package main

// The sinks an AWS function uses, their clients configured from the
// function's environment alone (awsconfig.FromEnvironment): the SDK's config
// package and its credential chain stay out of the binary and its cold
// start. Kafka is linked with -tags kafka.
import (
	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	_ "github.com/webtrack/webtrack/shared/sink/filesink" // file://
	"github.com/webtrack/webtrack/shared/sink/s3sink"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
)

func init() {
	sink.Register("s3", s3sink.Opener(awsconfig.FromEnvironment))
	sink.Register("sqs", sqssink.Opener(awsconfig.FromEnvironment))
}
