package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/data"
)

// dataCommand groups the dataset verbs: synth writes the embedded default
// dataset, check validates any YOLO-format dataset.
func (a *App) dataCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "data", Short: "Create and check YOLO-format datasets"}
	cmd.AddCommand(a.dataSynth(), a.dataCheck())
	return cmd
}

func (a *App) dataSynth() *cobra.Command {
	var o data.SynthOptions
	var out string
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Write the synthetic aerial-shapes dataset (10 classes) in YOLO format",
		Long: `Draws aerial-like scenes procedurally: ten classes of shapes that differ in
outline and texture (circle, ring, square, triangle, cross, star, hexagon,
diamond, striped rectangle, checkered square), 8 to 20 per image from 8 pixels
to half the image, on cluttered ground with roads, lines and distractor shapes.
The same seed writes the same bytes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			if o.Train < 1 || o.Val < 1 {
				return fmt.Errorf("--images and --val must be positive (got %d and %d)", o.Train, o.Val)
			}
			if o.Size < 32 || o.Size%32 != 0 {
				return fmt.Errorf("--imgsz must be a positive multiple of 32, got %d", o.Size)
			}
			if !force {
				if err := emptyDir(out); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			start := time.Now()
			if !asJSON {
				o.Progress = progressLine(a.Stderr, "synth")
			}
			if err := data.Synthesize(out, o); err != nil {
				return err
			}
			elapsed := time.Since(start)
			yaml := filepath.Join(out, "data.yaml")
			report, err := checkData(yaml, false)
			if err != nil {
				return fmt.Errorf("check the written dataset: %w", err)
			}
			if asJSON {
				return writeJSON(a.Stdout, synthJSON{Data: yaml, Seed: o.Seed, ImgSize: o.Size, Seconds: elapsed.Seconds(), Splits: report.Splits})
			}
			tr, va := report.Splits[0].Summary, report.Splits[1].Summary
			fmt.Fprintf(a.Stdout, "wrote %d train + %d val images (%dx%d, %d + %d objects, %d classes) to %s in %.1fs\n",
				tr.Images, va.Images, o.Size, o.Size, tr.Instances, va.Instances, len(report.Names), out, elapsed.Seconds())
			fmt.Fprintf(a.Stdout, "data: %s\n", yaml)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output directory (required)")
	f.Int64Var(&o.Seed, "seed", 0, "random seed: the same seed writes the same files")
	f.IntVar(&o.Train, "images", 600, "training images")
	f.IntVar(&o.Val, "val", 120, "validation images")
	f.IntVar(&o.Size, "imgsz", 320, "image side in pixels")
	f.StringVar(&o.Format, "format", "jpg", "image format: jpg (quality 90) or png")
	f.BoolVar(&force, "force", false, "write into a non-empty directory, replacing its images/, labels/ and data.yaml")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

type synthJSON struct {
	Data    string       `json:"data"`
	Seed    int64        `json:"seed"`
	ImgSize int          `json:"imgsz"`
	Seconds float64      `json:"seconds"`
	Splits  []splitCheck `json:"splits"`
}

// emptyDir fails if dir exists and holds anything.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; use --force to replace its images/, labels/ and data.yaml", dir)
	}
	return nil
}

// progressLine redraws "what: done/total" on w, at most every 2%.
func progressLine(w io.Writer, what string) func(done, total int) {
	last := -1
	return func(done, total int) {
		pct := 100 * done / max(total, 1)
		if pct/2 == last/2 && done != total {
			return
		}
		last = pct
		fmt.Fprintf(w, "\r%s: %d/%d images (%d%%)", what, done, total, pct)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

func (a *App) dataCheck() *cobra.Command {
	var file string
	var verify, strict, asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Load and validate a dataset's images and labels, print a summary per split",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("--data is required")
			}
			report, err := checkData(file, verify)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(a.Stdout, report); err != nil {
					return err
				}
			} else {
				printDataReport(a.Stdout, a.Stderr, report)
			}
			if strict {
				n := 0
				for _, s := range report.Splits {
					n += len(s.Warnings)
				}
				if n > 0 {
					return fmt.Errorf("%s: %d warnings (--strict)", file, n)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "data", "", "data yaml (path, train, val, test, nc, names) (required)")
	f.BoolVar(&verify, "verify", true, "decode every image (false: read headers only)")
	f.BoolVar(&strict, "strict", false, "fail if any file was skipped or repaired")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

type dataReport struct {
	Data   string       `json:"data"`
	NC     int          `json:"nc"`
	Names  []string     `json:"names"`
	Splits []splitCheck `json:"splits"`
}

type splitCheck struct {
	Split    string       `json:"split"`
	Sources  []string     `json:"sources"`
	Summary  data.Summary `json:"summary"`
	Warnings []string     `json:"warnings"`
}

// checkData scans every split the data yaml names.
func checkData(file string, verify bool) (*dataReport, error) {
	c, err := data.LoadConfig(file)
	if err != nil {
		return nil, err
	}
	r := &dataReport{Data: file, NC: c.NC, Names: c.Names}
	for _, split := range []string{"train", "val", "test"} {
		src, _ := c.Sources(split)
		if len(src) == 0 {
			continue
		}
		ds, err := c.Open(split, data.ScanOptions{Verify: verify})
		if err != nil {
			return nil, err
		}
		r.Splits = append(r.Splits, splitCheck{Split: split, Sources: src, Summary: ds.Summary, Warnings: ds.Warnings})
	}
	return r, nil
}

func printDataReport(out, errw io.Writer, r *dataReport) {
	for _, s := range r.Splits {
		for _, w := range s.Warnings {
			fmt.Fprintf(errw, "%s: %s\n", s.Split, w)
		}
	}
	for _, s := range r.Splits {
		fmt.Fprintf(out, "%-5s %s: %s (%d objects)\n", s.Split, strings.Join(s.Sources, ", "), s.Summary, s.Summary.Instances)
	}
	fmt.Fprintf(out, "\n%4s  %-20s", "id", "class")
	for _, s := range r.Splits {
		fmt.Fprintf(out, "%10s", s.Split)
	}
	fmt.Fprintln(out)
	for i, name := range r.Names {
		fmt.Fprintf(out, "%4d  %-20s", i, name)
		for _, s := range r.Splits {
			fmt.Fprintf(out, "%10d", s.Summary.PerClass[i])
		}
		fmt.Fprintln(out)
	}
}
