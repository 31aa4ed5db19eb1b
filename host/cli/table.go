package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// printLayerTable prints the model table the way the reference's
// parse_model logs it, then its model_info summary line.
func printLayerTable(w io.Writer, s *ir.Summary, modules int) {
	fmt.Fprintf(w, "\n%3s%18s%3s%10s  %-40s%-30s\n", "", "from", "n", "params", "module", "arguments")
	for _, l := range s.Layers {
		fmt.Fprintf(w, "%3d%18s%3d%10d  %-40s%-30s\n", l.Index, formatFrom(l.From), l.N, l.Params, l.Module, l.Args)
	}
	fmt.Fprintf(w, "Model Summary: %d layers, %d parameters, %d gradients, %.1f GFLOPs\n", modules, s.Params, s.Params, s.GFLOPs)
}

func formatFrom(f any) string {
	switch v := f.(type) {
	case []int:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
