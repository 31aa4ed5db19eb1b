// Command exit is a test plugin whose Build explains itself on stderr and
// exits with status 3.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/yoloforge/yoloforge/sdk/plugin"
	"github.com/yoloforge/yoloforge/sdk/plugin/plugintest"
)

type quitter struct{ plugintest.Echo }

func (quitter) Build(context.Context, plugin.BuildContext) (plugin.Part, error) {
	fmt.Fprintln(os.Stderr, "quitter: loading weights")
	fmt.Fprintln(os.Stderr, "quitter: fatal: weights file is truncated")
	os.Exit(3)
	return plugin.Part{}, nil
}

func main() { plugin.Serve(quitter{plugintest.Echo{Name: "quitter"}}) }
