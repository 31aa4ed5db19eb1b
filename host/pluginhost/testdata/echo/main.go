// Command echo is a well-behaved test plugin: the SDK's reference backbone.
package main

import (
	"os"

	"github.com/yoloforge/yoloforge/sdk/plugin"
	"github.com/yoloforge/yoloforge/sdk/plugin/plugintest"
)

func main() {
	// Lets a test prove whether the binary ran at all (tampered copies must not).
	if marker := os.Getenv("YOLOFORGE_TEST_RAN_MARKER"); marker != "" {
		_ = os.WriteFile(marker, []byte("ran\n"), 0o644)
	}
	plugin.Serve(plugintest.Echo{})
}
