package pluginhost_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPluginhost(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "host/pluginhost")
}

// testPlugins are the directories under testdata, each a plugin main.
var testPlugins = []string{"echo", "panic", "exit", "hang", "future", "deployecho"}

// binDir holds the built test plugins.
var binDir string

func bin(name string) string { return filepath.Join(binDir, name) }

var _ = BeforeSuite(func() {
	var err error
	binDir, err = os.MkdirTemp("", "pluginhost-test-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, binDir)

	args := []string{"build", "-o", binDir + string(filepath.Separator)}
	for _, p := range testPlugins {
		args = append(args, "./testdata/"+p)
	}
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build test plugins:\n%s", out)
	for _, p := range testPlugins {
		Expect(bin(p)).To(BeARegularFile())
	}
})

// Runs after every spec, after the specs' own AfterEach (which shut their
// managers down).
var _ = AfterEach(func() {
	Expect(leftoverPlugins()).To(BeEmpty(), "plugin processes left behind")
})

// leftoverPlugins lists processes that are our children or run a binary
// from binDir: after every test there must be none, running or zombie.
func leftoverPlugins() []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		Skip("no /proc to look for leftover plugin processes")
	}
	me := os.Getpid()
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == me {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if ppid == me || (exe != "" && strings.HasPrefix(exe, binDir)) {
			out = append(out, fmt.Sprintf("pid %d state %s exe %q", pid, fields[0], exe))
		}
	}
	return out
}
