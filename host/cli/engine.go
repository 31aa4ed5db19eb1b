package cli

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// engineFlags select the engine's backend.
type engineFlags struct {
	blas    string
	threads int
}

func (f *engineFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.blas, "blas", "auto", "matrix-product backend: auto (OpenBLAS when installed, else pure Go), openblas or go")
	cmd.Flags().IntVar(&f.threads, "threads", 0, "threads for the engine's kernels (0: all cores)")
}

func (f *engineFlags) open() (*engine.Engine, error) {
	return engine.New(engine.Options{BLAS: f.blas, Threads: f.threads})
}

type envJSON struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	BLAS       string `json:"blas"`
	BLASDetail string `json:"blas_detail"`
	Threads    int    `json:"threads"`
	CoreType   string `json:"openblas_coretype,omitempty"`
}

func (a *App) envCommand() *cobra.Command {
	var ef engineFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Show the machine and the engine's BLAS backend and threads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := ef.open()
			if err != nil {
				return err
			}
			env := envJSON{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(),
				Cores: runtime.NumCPU(), BLAS: e.BLASName(), BLASDetail: e.BLAS(), Threads: e.Threads()}
			env.CoreType, _ = a.lookupEnv("OPENBLAS_CORETYPE")
			if asJSON {
				return writeJSON(a.Stdout, env)
			}
			fmt.Fprintf(a.Stdout, "go        %s %s/%s\ncpu       %s (%d cores)\nblas      %s\n          %s\nthreads   %d\n",
				env.GoVersion, env.OS, env.Arch, env.CPU, env.Cores, env.BLAS, env.BLASDetail, env.Threads)
			return nil
		},
	}
	ef.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

type benchJSON struct {
	Model       string  `json:"model"`
	Mode        string  `json:"mode"`
	ImgSize     int     `json:"imgsz"`
	Batch       int     `json:"batch"`
	Iters       int     `json:"iters"`
	BLAS        string  `json:"blas"`
	Threads     int     `json:"threads"`
	MsPerIter   float64 `json:"ms_per_iter"`
	MinMs       float64 `json:"min_ms"`
	ImagesPerS  float64 `json:"images_per_s"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	PlanMemMB   float64 `json:"plan_memory_mb"`
	GFLOPsPerIt float64 `json:"gflops_per_iter"`
}

func (a *App) benchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure speed"}
	var mf modelFlags
	var ef engineFlags
	var imgsz, batch, iters, warmup int
	var mode string
	var fuse, asJSON, profile bool
	eng := &cobra.Command{
		Use:   "engine",
		Short: "Time the engine on a model: inference, or a training step (forward + backward)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mode != "train" && mode != "infer" {
				return fmt.Errorf("--mode must be train or infer, got %q", mode)
			}
			if imgsz < 32 || imgsz%32 != 0 || batch < 1 || iters < 1 || warmup < 0 {
				return fmt.Errorf("need --imgsz a multiple of 32, --batch >= 1, --iters >= 1 and --warmup >= 0")
			}
			g, err := a.buildModel(cmd, &mf)
			if err != nil {
				return err
			}
			e, err := ef.open()
			if err != nil {
				return err
			}
			params := engine.NewParams(g)
			if err := params.Initialize(g, 0); err != nil {
				return err
			}
			if fuse && mode == "infer" {
				if g, params, err = engine.FoldBatchNorm(g, params); err != nil {
					return err
				}
			}
			train := mode == "train"
			plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{g.Inputs[0].Name: {batch, g.Inputs[0].Shape[1], imgsz, imgsz}}, Train: train, FrozenWeights: true})
			if err != nil {
				return err
			}
			in, _ := plan.Input(g.Inputs[0].Name)
			for i := range in {
				in[i] = float32(i%255) / 255
			}
			if train {
				// A fixed output gradient stands in for a loss: the work per
				// step is the same.
				for _, o := range plan.Outputs() {
					if d, err := plan.OutputGrad(o); err == nil {
						for i := range d {
							d[i] = 1e-3
						}
					}
				}
			}
			step := func() error {
				if err := plan.Forward(); err != nil {
					return err
				}
				if train {
					return plan.Backward()
				}
				return nil
			}
			for i := 0; i < warmup; i++ {
				if err := step(); err != nil {
					return err
				}
			}
			times := make([]float64, iters)
			for i := range times {
				start := time.Now()
				if err := step(); err != nil {
					return err
				}
				times[i] = float64(time.Since(start).Microseconds()) / 1000
				if !asJSON {
					fmt.Fprintf(a.Stderr, "\riteration %d/%d  %.1f ms", i+1, iters, times[i])
				}
			}
			if !asJSON {
				fmt.Fprintln(a.Stderr)
			}
			sort.Float64s(times)
			if profile {
				steps, err := plan.Profile()
				if err != nil {
					return err
				}
				type row struct {
					op string
					d  time.Duration
				}
				byOp := map[string]time.Duration{}
				for _, s := range steps {
					byOp[s.Op+" forward"] += s.Forward
					if s.Backward > 0 {
						byOp[s.Op+" backward"] += s.Backward
					}
				}
				var rows []row
				for k, v := range byOp {
					rows = append(rows, row{k, v})
				}
				sort.Slice(rows, func(i, j int) bool { return rows[i].d > rows[j].d })
				for _, r := range rows {
					fmt.Fprintf(a.Stderr, "%-32s %8.2f ms\n", r.op, float64(r.d.Microseconds())/1000)
				}
			}
			sum, _ := g.Summarize(imgsz)
			res := benchJSON{Model: mf.cfg, Mode: mode, ImgSize: imgsz, Batch: batch, Iters: iters, BLAS: e.BLASName(), Threads: e.Threads(),
				MsPerIter: median(times), MinMs: times[0], PeakRSSMB: peakRSSMB(), PlanMemMB: float64(plan.MemoryFloats()) * 4 / (1 << 20)}
			res.ImagesPerS = float64(batch) / (res.MsPerIter / 1000)
			if sum != nil {
				res.GFLOPsPerIt = sum.GFLOPsExact * float64(batch)
				if train {
					res.GFLOPsPerIt *= 3 // backward costs about twice the forward
				}
			}
			if asJSON {
				return writeJSON(a.Stdout, res)
			}
			fmt.Fprintf(a.Stdout, "%s %s imgsz %d batch %d (%s, %d threads): %.2f ms/iter (min %.2f), %.1f images/s, peak RSS %.0f MB\n",
				res.Model, res.Mode, res.ImgSize, res.Batch, res.BLAS, res.Threads, res.MsPerIter, res.MinMs, res.ImagesPerS, res.PeakRSSMB)
			return nil
		},
	}
	mf.register(eng)
	ef.register(eng)
	eng.Flags().IntVar(&imgsz, "imgsz", 320, "image size")
	eng.Flags().IntVar(&batch, "batch", 1, "batch size")
	eng.Flags().IntVar(&iters, "iters", 20, "timed iterations")
	eng.Flags().IntVar(&warmup, "warmup", 3, "untimed iterations first")
	eng.Flags().StringVar(&mode, "mode", "infer", "infer or train")
	eng.Flags().BoolVar(&fuse, "fuse", false, "fold BatchNorm into convolutions (infer)")
	eng.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	eng.Flags().BoolVar(&profile, "profile", false, "also print the time per operator type (one extra iteration)")
	cmd.AddCommand(eng)
	return cmd
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// peakRSSMB is the process's high-water resident set (VmHWM) in MiB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
