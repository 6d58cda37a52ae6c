//go:build kafka

package main

import _ "github.com/webtrack/webtrack/shared/sink/kafkasink" // kafka://
