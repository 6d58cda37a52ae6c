package allsinks

import (
	"github.com/webtrack/webtrack/shared/awsconfig/chain"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
)

// sqs:// with the SDK's whole default chain (profiles, SSO, roles).
func init() { sink.Register("sqs", sqssink.Opener(chain.Load)) }
