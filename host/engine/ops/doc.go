// Package ops holds YOLOForge's CPU kernels for every operator other than
// convolution and GEMM (those live in host/engine/conv and host/engine/blas):
// batch normalisation, activations, broadcast Add/Mul, layout operators
// (concat, split, strided slice, transpose, channel shuffle, nearest
// upsample), pooling, matmul/linear, softmax, layer norm, dropout, drop path
// and the YOLOv5 Detect decode, each with its backward pass.
//
// # Conventions
//
//   - Tensors are dense, row-major float32 slices; 4-D activations are NCHW.
//     Shapes are passed explicitly; a lower-rank tensor is passed as 4-D with
//     leading 1s. Reshape, Flatten and View need no kernel: they do not move
//     data in a contiguous tensor.
//   - Semantics are PyTorch 1.13's (CPU), including the details that change
//     numbers: BatchNorm's biased/unbiased variances, MaxPool's -inf padding
//     and argmax tie-breaking, AvgPool's count_include_pad, Hardswish's
//     gradient at ±3. Long reductions (BatchNorm and LayerNorm statistics,
//     softmax, global and channel pooling, broadcast gradients) accumulate in
//     float64, and the exponentials of Softmax (and of SiLU and Sigmoid
//     without AVX-512) are evaluated in float64 and rounded once, so
//     results are within an ulp or two of PyTorch's (which rounds more
//     often). On AVX-512 CPUs, SiLU and Sigmoid use a float32 exponential
//     (kernel_amd64.s), within 3 ulps of the exact value. Short sums (AvgPool
//     windows, upsample gradients) and the built-in GEMM add in float32, in
//     PyTorch's order.
//   - Kernels never allocate tensor memory: the caller passes every output,
//     every saved-for-backward buffer and every gradient. With workers <= 1,
//     or a job too small to be worth splitting, a kernel runs on the calling
//     goroutine and allocates nothing at all; otherwise it starts workers-1
//     goroutines, which costs a few small runtime allocations.
//   - Results do not depend on the worker count: work is split so that each
//     output element is computed by exactly one goroutine, in the same order.
//   - Backward kernels overwrite their gradient outputs; the caller (the tape)
//     sums gradients of tensors used more than once, e.g. with Accumulate.
//     A nil gradient output is not computed. SliceBackward can optionally
//     accumulate, because a strided slice writes only part of its input.
//   - Unless a function says otherwise, an output must not overlap an input.
//     Element-wise kernels (activations, Add, Mul with equal shapes,
//     Dropout) may run in place.
//   - Exported functions validate shapes and slice lengths and return an
//     error rather than panic.
//
// The package has no mutable package-level state beyond the CPU-feature
// flag that selects the assembly kernels, set at init; randomness comes
// from a Source the caller passes in.
//
// # Assembly
//
// On amd64 with AVX-512 (F, DQ, BW, VL), SiLU, Sigmoid, their backwards and
// BatchNorm's passes run the kernels in kernel_amd64.s; elsewhere, or built
// with the noasm tag, pure-Go loops do the same work. BatchNorm's results
// are the same either way up to the order of float64 sums; the activations'
// are within the bounds above.
package ops
