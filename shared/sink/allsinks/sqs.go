package allsinks

import _ "github.com/webtrack/webtrack/shared/sink/sqssink" // sqs://
