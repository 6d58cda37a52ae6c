// Package allsinks is the set of every sink driver, for the local server
// and tests: the AWS clients take the SDK's whole default credential chain
// (profiles, SSO, roles).
package allsinks

import (
	"github.com/webtrack/webtrack/shared/awsconfig/chain"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/filesink"
	"github.com/webtrack/webtrack/shared/sink/kafkasink"
	"github.com/webtrack/webtrack/shared/sink/osssink"
	"github.com/webtrack/webtrack/shared/sink/s3sink"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
)

// Drivers returns every sink driver by its URL scheme.
func Drivers() sink.Drivers {
	return sink.Drivers{
		"file":  filesink.Open,
		"kafka": kafkasink.Open,
		"oss":   osssink.Open,
		"s3":    s3sink.Opener(chain.Load),
		"sqs":   sqssink.Opener(chain.Load),
	}
}
