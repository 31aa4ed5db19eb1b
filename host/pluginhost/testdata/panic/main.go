// Command panic is a test plugin whose Build panics, taking the process down.
package main

import (
	"context"

	"github.com/yoloforge/yoloforge/sdk/plugin"
	"github.com/yoloforge/yoloforge/sdk/plugin/plugintest"
)

type panicky struct{ plugintest.Echo }

func (panicky) Build(context.Context, plugin.BuildContext) (plugin.Part, error) {
	panic("panicky: anchors are upside down")
}

func main() { plugin.Serve(panicky{plugintest.Echo{Name: "panicky"}}) }
