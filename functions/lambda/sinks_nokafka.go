//go:build !kafka

package main

import "github.com/webtrack/webtrack/shared/sink"

// kafkaDrivers are none without -tags kafka.
var kafkaDrivers sink.Drivers
