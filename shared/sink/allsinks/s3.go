package allsinks

import _ "github.com/webtrack/webtrack/shared/sink/s3sink" // s3://
