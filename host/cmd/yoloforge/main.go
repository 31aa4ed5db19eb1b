// Command yoloforge assembles, measures and runs YOLOv5-family detectors
// whose components are plugins. See `yoloforge --help`.
package main

import (
	"context"
	"os"

	"github.com/yoloforge/yoloforge/host/cli"
)

func main() {
	os.Exit(cli.NewApp().Run(context.Background(), os.Args[1:]))
}
