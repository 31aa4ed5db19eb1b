// Command future is a test plugin built as if against a future SDK that
// speaks only protocol version 99.
package main

import (
	"github.com/yoloforge/yoloforge/sdk/plugin"
	"github.com/yoloforge/yoloforge/sdk/plugin/plugintest"
)

func main() {
	plugin.ServeWithOptions(plugintest.Echo{Name: "future"}, plugin.ServeOptions{ProtocolVersion: 99})
}
