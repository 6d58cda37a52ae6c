package main

// The sinks an AWS function uses. Kafka is linked with -tags kafka.
import (
	_ "github.com/webtrack/webtrack/shared/sink/filesink" // file://
	_ "github.com/webtrack/webtrack/shared/sink/s3sink"   // s3://
	_ "github.com/webtrack/webtrack/shared/sink/sqssink"  // sqs://
)
