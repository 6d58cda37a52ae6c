// Command hello is the smallest FC function, built like webtrack's to
// compare size and start-up with it.
package main

import (
	"context"
	"encoding/json"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
)

func main() {
	fc.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
