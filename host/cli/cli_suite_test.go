package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/cli"
)

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CLI Suite")
}

var repoRoot string

var _ = BeforeSuite(func() {
	wd, err := os.Getwd()
	Expect(err).NotTo(HaveOccurred())
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	// Build the built-in plugins once, so specs measure assembly rather than
	// the compiler.
	code, _, stderr := run(nil, "plugins", "build")
	Expect(code).To(Equal(0), stderr)
})

// fixtures is ../shared/fixtures beside the checkout.
func fixtures() string {
	dir := filepath.Join(repoRoot, "..", "shared", "fixtures")
	if _, err := os.Stat(dir); err != nil {
		Skip("golden fixtures not found at " + dir)
	}
	return dir
}

// run executes the CLI in-process from the repository root with a clean
// YOLOFORGE_* environment plus env.
func run(env []string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	app := &cli.App{Stdout: &out, Stderr: &errb, WorkDir: repoRoot,
		Env: append([]string{"HOME=" + os.Getenv("HOME"), "PATH=" + os.Getenv("PATH"), "GOBIN=" + filepath.Join(GinkgoT().TempDir(), "gobin")}, env...)}
	code = app.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

// After every spec no plugin process may be left: the CLI must stop every
// plugin it started before Run returns.
var _ = AfterEach(func() {
	Eventually(leftoverPlugins).WithTimeout(3 * time.Second).Should(BeEmpty())
})

// leftoverPlugins lists child processes of this test whose executable is a
// YOLOForge plugin.
func leftoverPlugins() []string {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range procs {
		stat, err := os.ReadFile(filepath.Join(p, "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state, ppid, ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		exe, _ := os.Readlink(filepath.Join(p, "exe"))
		if strings.Contains(exe, "yoloforge-plugin-") {
			out = append(out, fmt.Sprintf("%s (%s)", filepath.Base(p), exe))
		}
	}
	return out
}
