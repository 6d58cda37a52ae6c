package main

import (
	"maps"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/osssink"
)

// drivers are the sinks a Function Compute function uses. Kafka is linked
// with -tags kafka.
func drivers() sink.Drivers {
	d := sink.Drivers{"file": filesink.Open, "oss": osssink.Open}
	maps.Copy(d, kafkaDrivers)
	return d
}
