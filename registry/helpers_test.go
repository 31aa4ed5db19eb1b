package registry_test

import (
	"os"
	"path/filepath"
	"runtime"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/registry"
)

// describeJSON is what a well-behaved plugin prints for ManifestFlag.
func describeJSON(kind, name string) []byte {
	return []byte(`{"name":"` + name + `","kind":"` + kind + `","version":"1.0.0","protocol_version":1,"description":"test plugin"}`)
}

// writeExe writes an executable file (a shell script, so it can also be run
// where a test needs to) and returns its path.
func writeExe(dir, file, body string) string {
	GinkgoHelper()
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	p := filepath.Join(dir, file)
	Expect(os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755)).To(Succeed())
	return p
}

// writePlugin writes a fake plugin executable named for kind/name.
func writePlugin(dir, kind, name string) string {
	GinkgoHelper()
	return writeExe(dir, registry.BinaryName(kind, name), "echo '"+string(describeJSON(kind, name))+"'")
}

// registerPlugin writes a fake plugin plus a valid manifest for it.
func registerPlugin(dir, kind, name string) string {
	GinkgoHelper()
	p := writePlugin(dir, kind, name)
	_, err := registry.Register(p, describeJSON(kind, name))
	Expect(err).NotTo(HaveOccurred())
	return p
}

// env returns a hermetic LookupEnv backed by m.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func skipOnWindows() {
	if runtime.GOOS == "windows" {
		Skip("uses shell-script plugins and exec bits")
	}
}
