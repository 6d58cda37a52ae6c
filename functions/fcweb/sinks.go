package main

// The sinks a Function Compute function uses. Kafka is linked with -tags kafka.
import (
	_ "github.com/webtrack/webtrack/shared/sink/filesink" // file://
	_ "github.com/webtrack/webtrack/shared/sink/osssink"  // oss://
)
