package allsinks

import (
	"github.com/webtrack/webtrack/shared/awsconfig/chain"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/s3sink"
)

// s3:// with the SDK's whole default chain (profiles, SSO, roles).
func init() { sink.Register("s3", s3sink.Opener(chain.Load)) }
