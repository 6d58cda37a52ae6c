// Command fc is webtrack's Alibaba Cloud Function Compute 3.0 function (go1
// runtime, handler main), invoked by an HTTP trigger.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/webtrack/webtrack/handler/fcevent"
	"github.com/webtrack/webtrack/shared/startup"
)

func main() {
	svc, err := startup.FromEnv(context.Background(), drivers())
	if err != nil {
		slog.Error("start-up failed", "err", err)
		os.Exit(1)
	}
	// The sink stays open for the instance's life: every Put is stored
	// before it returns, so nothing is lost when FC stops the instance.
	fc.Start(fcevent.Handler(svc.Processor))
}
