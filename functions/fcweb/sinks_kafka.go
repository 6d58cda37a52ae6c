//go:build kafka

package main

import (
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/kafkasink"
)

// kafkaDrivers are linked with -tags kafka.
var kafkaDrivers = sink.Drivers{"kafka": kafkasink.Open}
