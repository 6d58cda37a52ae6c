package main

// The object sinks the compactor writes through, the S3 client configured
// from the function's environment alone, as in the ingest function.
import (
	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	_ "github.com/webtrack/webtrack/shared/sink/filesink" // file://
	_ "github.com/webtrack/webtrack/shared/sink/osssink"  // oss://
	"github.com/webtrack/webtrack/shared/sink/s3sink"
)

func init() { sink.Register("s3", s3sink.Opener(awsconfig.FromEnvironment)) }
