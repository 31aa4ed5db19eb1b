package ops

// Sgemm is a row-major single-precision GEMM, C = alpha·op(A)·op(B) +
// beta·C with op(A) m×k and op(B) k×n, as cblas_sgemm(CblasRowMajor, ...)
// and gonum's blas32.Gemm define it: a is m×k (k×m if transA) with row
// stride lda, b is k×n (n×k if transB) with row stride ldb, c is m×n with row
// stride ldc. When beta is 0, c is not read. The engine passes its BLAS;
// a nil Sgemm makes MatMul and Linear use a simple built-in one that splits
// rows of C over the workers.
type Sgemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// gemmPar runs the built-in GEMM over row blocks of C.
func gemmPar(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if w := plan(workers, m, n*k); w > 1 {
		run(w, m, func(lo, hi int) {
			ao := lo * lda
			if transA {
				ao = lo
			}
			gemmRef(transA, transB, hi-lo, n, k, alpha, a[ao:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
	} else {
		gemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// gemmRef is a plain loop GEMM (float32 accumulation, like a BLAS) ordered
// so that the innermost loop runs over contiguous memory.
func gemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		cr := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(cr)
		} else if beta != 1 {
			for j := range cr {
				cr[j] *= beta
			}
		}
		switch {
		case !transB:
			// c_i += Σ_p alpha·A(i,p) · b_p (rows of B are contiguous).
			for p := range k {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				av *= alpha
				if av == 0 {
					continue
				}
				br := b[p*ldb : p*ldb+n]
				for j, bv := range br {
					cr[j] += av * bv
				}
			}
		case !transA:
			// c_ij += alpha · A_i · B_j (both rows contiguous).
			ar := a[i*lda : i*lda+k]
			for j := range cr {
				br := b[j*ldb : j*ldb+k]
				var s float32
				for p, av := range ar {
					s += av * br[p]
				}
				cr[j] += alpha * s
			}
		default:
			for j := range cr {
				var s float32
				for p := range k {
					s += a[p*lda+i] * b[j*ldb+p]
				}
				cr[j] += alpha * s
			}
		}
	}
}

// MatMulDims describes a batch of products C_i = op(A_i)·op(B_i), each
// op(A) M×K and op(B) K×N, as torch.matmul does for 3-D operands.
type MatMulDims struct {
	Batch, M, K, N int
	// TransA and TransB say A is stored K×M and B is stored N×K (as for
	// q·kᵀ in attention, which then needs no explicit transpose).
	TransA, TransB bool
	// BroadcastA and BroadcastB say the operand is a single matrix shared
	// by every batch (torch.matmul's broadcasting of a 2-D operand); its
	// gradient is summed over the batch.
	BroadcastA, BroadcastB bool
}

func (d MatMulDims) lens() (na, nb, nc int, ok bool) {
	if d.Batch < 0 || d.M < 0 || d.K < 0 || d.N < 0 {
		return 0, 0, 0, false
	}
	ba, bb := d.Batch, d.Batch
	if d.BroadcastA {
		ba = 1
	}
	if d.BroadcastB {
		bb = 1
	}
	na, ok1 := product(ba, d.M, d.K)
	nb, ok2 := product(bb, d.K, d.N)
	nc, ok3 := product(d.Batch, d.M, d.N)
	return na, nb, nc, ok1 && ok2 && ok3
}

func (d MatMulDims) strides() (sa, sb, lda, ldb int) {
	sa, sb = d.M*d.K, d.K*d.N
	if d.BroadcastA {
		sa = 0
	}
	if d.BroadcastB {
		sb = 0
	}
	lda, ldb = d.K, d.N
	if d.TransA {
		lda = d.M
	}
	if d.TransB {
		ldb = d.K
	}
	return
}

// MatMul computes c = op(a)·op(b) for each batch (c is Batch×M×N).
func MatMul(gemm Sgemm, d MatMulDims, a, b, c []float32, workers int) error {
	const op = "MatMul"
	na, nb, nc, ok := d.lens()
	if !ok {
		return shapeErr(op, "dims %+v are negative or too large", d)
	}
	if err := checkLen(op, "a", a, na); err != nil {
		return err
	}
	if err := checkLen(op, "b", b, nb); err != nil {
		return err
	}
	if err := checkLen(op, "c", c, nc); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	if nc == 0 {
		return nil
	}
	sa, sb, lda, ldb := d.strides()
	for i := range d.Batch {
		callGemm(gemm, workers, d.TransA, d.TransB, d.M, d.N, d.K, 1, a[i*sa:], lda, b[i*sb:], ldb, 0, c[i*d.M*d.N:], d.N)
	}
	return nil
}

func callGemm(gemm Sgemm, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if gemm != nil {
		gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmPar(workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// MatMulBackward computes da and db (either may be nil) from dc for
// c = MatMul(d, a, b): with C = op(A)·op(B), d op(A) = dC·op(B)ᵀ and
// d op(B) = op(A)ᵀ·dC, transposed back when A or B is stored transposed,
// and summed over the batch for a broadcast operand.
func MatMulBackward(gemm Sgemm, d MatMulDims, a, b, dc, da, db []float32, workers int) error {
	const op = "MatMulBackward"
	na, nb, nc, ok := d.lens()
	if !ok {
		return shapeErr(op, "dims %+v are negative or too large", d)
	}
	if err := checkLen(op, "dc", dc, nc); err != nil {
		return err
	}
	if err := checkOpt(op, "da", da, na); err != nil {
		return err
	}
	if err := checkOpt(op, "db", db, nb); err != nil {
		return err
	}
	if da != nil {
		if err := checkLen(op, "b", b, nb); err != nil {
			return err
		}
	}
	if db != nil {
		if err := checkLen(op, "a", a, na); err != nil {
			return err
		}
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	if nc == 0 {
		// No products: the gradients are zero (and Batch may be huge).
		clear(da)
		clear(db)
		return nil
	}
	sa, sb, lda, ldb := d.strides()
	M, K, N := d.M, d.K, d.N
	if da != nil {
		for i := range d.Batch {
			beta := float32(0)
			if d.BroadcastA && i > 0 {
				beta = 1
			}
			g, bi, out := dc[i*M*N:], b[i*sb:], da[i*sa:]
			if !d.TransA { // dA (M×K) = dC·op(B)ᵀ
				callGemm(gemm, workers, false, !d.TransB, M, K, N, 1, g, N, bi, ldb, beta, out, K)
			} else { // dA (K×M) = op(B)·dCᵀ
				callGemm(gemm, workers, d.TransB, true, K, M, N, 1, bi, ldb, g, N, beta, out, M)
			}
		}
	}
	if db != nil {
		for i := range d.Batch {
			beta := float32(0)
			if d.BroadcastB && i > 0 {
				beta = 1
			}
			g, ai, out := dc[i*M*N:], a[i*sa:], db[i*sb:]
			if !d.TransB { // dB (K×N) = op(A)ᵀ·dC
				callGemm(gemm, workers, !d.TransA, false, K, N, M, 1, ai, lda, g, N, beta, out, N)
			} else { // dB (N×K) = dCᵀ·op(A)
				callGemm(gemm, workers, true, d.TransA, N, K, M, 1, g, N, ai, lda, beta, out, K)
			}
		}
	}
	return nil
}

// Linear is nn.Linear over the last dimension: y (rows×out) = x (rows×in) ·
// wᵀ + b, with w in PyTorch's (out, in) layout and rows the product of the
// leading dimensions. b may be nil (bias=False).
func Linear(gemm Sgemm, rows, in, out int, x, w, b, y []float32, workers int) error {
	const op = "Linear"
	if err := linearCheck(op, rows, in, out, x, w, workers); err != nil {
		return err
	}
	if err := checkOpt(op, "b", b, out); err != nil {
		return err
	}
	if err := checkLen(op, "y", y, rows*out); err != nil || len(y) == 0 {
		return err
	}
	beta := float32(0)
	if b != nil {
		for r := range rows {
			copy(y[r*out:(r+1)*out], b)
		}
		beta = 1
	}
	callGemm(gemm, workers, false, true, rows, out, in, 1, x, in, w, in, beta, y, out)
	if in == 0 && b == nil {
		clear(y)
	}
	return nil
}

func linearCheck(op string, rows, in, out int, x, w []float32, workers int) error {
	if _, ok := product(rows, in, out); !ok {
		return shapeErr(op, "rows %d, in %d, out %d are negative or too large", rows, in, out)
	}
	if err := checkLen(op, "x", x, rows*in); err != nil {
		return err
	}
	if err := checkLen(op, "w", w, out*in); err != nil {
		return err
	}
	return checkWorkers(op, workers)
}

// LinearBackward computes, from dy (rows×out), dx = dy·w (rows×in),
// dw = dyᵀ·x (out×in) and db = Σ_rows dy (out). Any of dx, dw, db may be
// nil.
func LinearBackward(gemm Sgemm, rows, in, out int, x, w, dy, dx, dw, db []float32, workers int) error {
	const op = "LinearBackward"
	if err := linearCheck(op, rows, in, out, x, w, workers); err != nil {
		return err
	}
	if err := checkLen(op, "dy", dy, rows*out); err != nil {
		return err
	}
	if err := checkOpt(op, "dx", dx, rows*in); err != nil {
		return err
	}
	if err := checkOpt(op, "dw", dw, out*in); err != nil {
		return err
	}
	if err := checkOpt(op, "db", db, out); err != nil {
		return err
	}
	if dx != nil {
		if out == 0 {
			clear(dx)
		}
		callGemm(gemm, workers, false, false, rows, in, out, 1, dy, out, w, in, 0, dx, in)
	}
	if dw != nil {
		if rows == 0 {
			clear(dw)
		}
		callGemm(gemm, workers, true, false, out, in, rows, 1, dy, out, x, in, 0, dw, in)
	}
	if db != nil {
		columnSums(rows, out, dy, db, workers)
	}
	return nil
}

// columnSums sets s[j] = Σ_r m[r][j] (float64 accumulation) for an rows×cols
// matrix m, splitting columns into chunks.
func columnSums(rows, cols int, m, s []float32, workers int) {
	blocks := (cols + chunk - 1) / chunk
	if w := plan(workers, blocks, rows*min(cols, chunk)); w > 1 {
		run(w, blocks, func(lo, hi int) { columnSumsRange(rows, cols, m, s, lo, hi) })
	} else {
		columnSumsRange(rows, cols, m, s, 0, blocks)
	}
}

func columnSumsRange(rows, cols int, m, s []float32, b0, b1 int) {
	var acc [chunk]float64
	for b := b0; b < b1; b++ {
		j0, j1 := b*chunk, min(b*chunk+chunk, cols)
		a := acc[:j1-j0]
		clear(a)
		for r := range rows {
			for j, v := range m[r*cols+j0 : r*cols+j1] {
				a[j] += float64(v)
			}
		}
		for j, v := range a {
			s[j0+j] = float32(v)
		}
	}
}
