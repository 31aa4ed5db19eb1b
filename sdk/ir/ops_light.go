package ir

import "fmt"

func init() {
	// DropPath is stochastic depth (timm's drop_path, the EfficientNet
	// drop-connect): in training each sample of the batch is zeroed whole
	// with probability drop_prob and the survivors are scaled by
	// 1/(1-drop_prob); in evaluation it is the identity. ONNX has no such
	// operator; exporters drop it, as torch.onnx does in eval mode. thop
	// counts nothing for it.
	register(OpDef{Name: "DropPath", Infer: dropPathInfer})
}

func dropPathInfer(n *Node, in [][]int) ([][]int, error) {
	if p := n.Attrs.Float("drop_prob", 0); !(p >= 0 && p < 1) {
		return nil, fmt.Errorf("drop_prob %v: want 0 <= drop_prob < 1", p)
	}
	return same(n, in)
}
