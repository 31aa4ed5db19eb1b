package cli_test

import (
	"fmt"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("model info of the pruned models' native configs", func() {
	var stats []refStats
	BeforeEach(func() { stats = loadStats() })

	// native config → the reference's prunModels yaml it rebuilds
	pruned := map[string]string{
		"yolov5n-pruning":                "yolov5n-pruning",
		"yolov5s-pruning":                "yolov5s-pruning",
		"yolov5s-0.6-pruned":             "yolov5s-0.6-pruned",
		"yolov5n-dvsperson-pruned-eagle": "yolov5n-DVSPerson-prunedEagle",
		"yolov5n-dvsperson-pruned-slim":  "yolov5n-DVSPerson-prunedSlim",
	}
	for native, ref := range pruned {
		for _, nc := range []int{10, 80} {
			It(fmt.Sprintf("matches the reference for %s nc=%d from the native config through plugins", native, nc), func() {
				info := modelInfo("-c", filepath.Join(repoRoot, "configs", "models", native+".yaml"), "--nc", fmt.Sprint(nc))
				expectMatches(info, findStats(stats, "models/prunModels/"+ref+".yaml", nc))
			})
		}
	}

	It("builds the embedded config by name", func() {
		info := modelInfo("-c", "yolov5n-dvsperson-pruned-slim", "--nc", "10")
		expectMatches(info, findStats(stats, "models/prunModels/yolov5n-DVSPerson-prunedSlim.yaml", 10))
	})

	It("gives the unpruned network when every entry is null", func() {
		info := modelInfo("-c", "yolov5s", "--nc", "10", "--set", "backbone.args.prune="+nulls(10), "--set", "neck.args.prune="+nulls(14))
		expectMatches(info, findStats(stats, "models/yolov5s.yaml", 10))
	})

	DescribeTable("refuses a malformed prune argument, naming the entry",
		func(set string, want ...string) {
			code, _, stderr := run(nil, "model", "info", "-c", "yolov5n", "--set", set)
			Expect(code).NotTo(Equal(0))
			for _, w := range want {
				Expect(stderr).To(ContainSubstring(w))
			}
		},
		Entry("wrong length", "backbone.args.prune=[0.5, 0.5]", "prune: expected 10 entries", "got 2"),
		Entry("not a list", "neck.args.prune=0.5", "prune: expected a list with one entry per layer (14)"),
		Entry("C3 given a number", "backbone.args.prune=[null,null,0.5,null,null,null,null,null,null,null]", "prune[2] (layer 2, C3)", "expected a map"),
		Entry("ratio out of range", "backbone.args.prune=[1.5,null,null,null,null,null,null,null,null,null]", "prune[0] (layer 0, Conv)", "(0, 1]"),
		Entry("unknown C3 key", "backbone.args.prune=[null,null,{ratio: 0.5, rates: [1]},null,null,null,null,null,null,null]", "prune[2] (layer 2, C3)", "unknown key(s) rates"),
		Entry("too few bottleneck rates", "backbone.args.prune=[null,null,null,null,{bottlenecks: [0.5]},null,null,null,null,null]", "prune[4] (layer 4, C3)", "at least 2 rates"),
		Entry("entry for a Concat", "neck.args.prune=[null,null,0.5,null,null,null,null,null,null,null,null,null,null,null]", "prune[2] (layer 12, Concat)", "nothing to prune"),
	)
})

// nulls is a YAML list of n nulls.
func nulls(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat("null,", n), ",") + "]"
}
