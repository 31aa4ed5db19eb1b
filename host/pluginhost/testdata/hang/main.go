// Command hang is a test plugin whose Build never returns.
package main

import (
	"context"
	"time"

	"github.com/yoloforge/yoloforge/sdk/plugin"
	"github.com/yoloforge/yoloforge/sdk/plugin/plugintest"
)

type sleeper struct{ plugintest.Echo }

func (sleeper) Build(context.Context, plugin.BuildContext) (plugin.Part, error) {
	for {
		time.Sleep(time.Hour)
	}
}

func main() { plugin.Serve(sleeper{plugintest.Echo{Name: "sleeper"}}) }
