package blas_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/blas"
	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
)

// gemmCase is one Sgemm problem. Extra leading-dimension padding exercises
// lda/ldb/ldc larger than the stored row length.
type gemmCase struct {
	m, n, k          int
	transA, transB   bool
	alpha, beta      float32
	padA, padB, padC int
}

func (c gemmCase) String() string {
	return fmt.Sprintf("m=%d n=%d k=%d tA=%v tB=%v alpha=%g beta=%g pad=%d/%d/%d",
		c.m, c.n, c.k, c.transA, c.transB, c.alpha, c.beta, c.padA, c.padB, c.padC)
}

// operands builds random A, B, C for the case with their leading dimensions.
func (c gemmCase) operands(r *rand.Rand) (a []float32, lda int, b []float32, ldb int, cm []float32, ldc int) {
	ar, ac := c.m, c.k
	if c.transA {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.transB {
		br, bc = c.n, c.k
	}
	lda, ldb, ldc = max(1, ac)+c.padA, max(1, bc)+c.padB, max(1, c.n)+c.padC
	a = randSlice(r, ar*lda)
	b = randSlice(r, br*ldb)
	cm = randSlice(r, c.m*ldc)
	return
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// refSgemm computes the expected C in float64 and, per element, a bound on
// the float32 rounding error of any summation order.
func refSgemm(c gemmCase, a []float32, lda int, b []float32, ldb int, cm []float32, ldc int) (want, tol []float64) {
	want = make([]float64, c.m*c.n)
	tol = make([]float64, c.m*c.n)
	for i := range c.m {
		for j := range c.n {
			var s, abs float64
			for p := range c.k {
				var av, bv float64
				if c.transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if c.transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				abs += math.Abs(av * bv)
			}
			v := float64(c.alpha) * s
			abs *= math.Abs(float64(c.alpha))
			if c.beta != 0 {
				v += float64(c.beta) * float64(cm[i*ldc+j])
				abs += math.Abs(float64(c.beta) * float64(cm[i*ldc+j]))
			}
			want[i*c.n+j] = v
			tol[i*c.n+j] = float64(c.k+4)*1.2e-7*abs + 1e-30
		}
	}
	return want, tol
}

// checkGemm runs one case on be and compares every element of C, including
// that the padding between rows of C is untouched.
func checkGemm(be blas.Backend, c gemmCase, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(c.m*131+c.n*17+c.k)))
	a, lda, b, ldb, cm, ldc := c.operands(r)
	if c.beta == 0 {
		for i := range cm {
			cm[i] = float32(math.NaN()) // beta == 0 must not read C
		}
	}
	want, tol := refSgemm(c, a, lda, b, ldb, cm, ldc)
	orig := append([]float32(nil), cm...)
	be.Sgemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cm, ldc)
	for i := range c.m {
		for j := range ldc {
			got := cm[i*ldc+j]
			if j >= c.n {
				if !(got == orig[i*ldc+j] || (got != got && orig[i*ldc+j] != orig[i*ldc+j])) {
					Fail(fmt.Sprintf("%s %v: padding C[%d][%d] changed", be.Name(), c, i, j))
				}
				continue
			}
			w, t := want[i*c.n+j], tol[i*c.n+j]
			if math.IsNaN(float64(got)) || math.Abs(float64(got)-w) > t {
				Fail(fmt.Sprintf("%s %v: C[%d][%d]=%g want %g (tol %g)", be.Name(), c, i, j, got, w, t))
			}
		}
	}
}

// gemmCases covers odd sizes around every micro-tile and block boundary,
// all transpose combinations, alpha/beta special values and padded leading
// dimensions.
func gemmCases() []gemmCase {
	shapes := [][3]int{
		{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 5, 7}, {4, 4, 4}, {12, 32, 1},
		{13, 33, 17}, {11, 31, 2}, {24, 64, 8}, {25, 65, 300}, {17, 3, 513},
		{300, 40, 9}, {7, 2100, 5}, {100, 130, 90}, {64, 200, 96},
		{290, 70, 260}, {37, 411, 129}, {20, 64, 33}, {8, 32, 5}, {4, 96, 7},
	}
	var cs []gemmCase
	for i, s := range shapes {
		for t := range 4 {
			c := gemmCase{m: s[0], n: s[1], k: s[2], transA: t&1 != 0, transB: t&2 != 0, alpha: 1}
			switch (i + t) % 4 {
			case 1:
				c.beta = 1
			case 2:
				c.alpha, c.beta = -0.5, 0.75
				c.padA, c.padB, c.padC = 3, 1, 5
			case 3:
				c.alpha, c.beta = 1.25, 0
				c.padA, c.padB, c.padC = 0, 7, 2
			}
			cs = append(cs, c)
		}
	}
	// alpha == 0 and k == 0 reduce to scaling C.
	cs = append(cs,
		gemmCase{m: 9, n: 10, k: 11, alpha: 0, beta: 0.5},
		gemmCase{m: 9, n: 10, k: 0, alpha: 1, beta: 0},
		gemmCase{m: 9, n: 10, k: 0, alpha: 1, beta: 2, transA: true, padC: 3},
	)
	return cs
}

type namedBackend struct {
	name string
	open func() (blas.Backend, error)
}

func backendsUnderTest() []namedBackend {
	var bs []namedBackend
	for _, kn := range blas.KernelNames() {
		for _, th := range []int{1, 2} {
			bs = append(bs, namedBackend{
				name: fmt.Sprintf("go/%s/threads=%d", kn, th),
				open: func() (blas.Backend, error) { return blas.NewGoWithKernel(th, kn), nil },
			})
		}
	}
	for _, th := range []int{1, 2} {
		bs = append(bs, namedBackend{
			name: fmt.Sprintf("openblas/threads=%d", th),
			open: func() (blas.Backend, error) { return blas.NewOpenBLAS(th) },
		})
	}
	return bs
}

var _ = Describe("Sgemm", func() {
	for _, nb := range backendsUnderTest() {
		Describe(nb.name, func() {
			var be blas.Backend
			BeforeEach(func() {
				var err error
				be, err = nb.open()
				if err != nil {
					Skip(fmt.Sprintf("backend unavailable: %v", err))
				}
			})

			It("matches a float64 reference on odd shapes, transposes, alpha/beta and padded strides", func() {
				for i, c := range gemmCases() {
					checkGemm(be, c, uint64(i))
				}
			})

			It("does not allocate after warm-up", func() {
				r := rand.New(rand.NewPCG(1, 2))
				m, n, k := 96, 300, 200
				a, b, c := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
				run := func() { be.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n) }
				run()
				Expect(testing.AllocsPerRun(5, run)).To(BeZero())
			})

			It("panics on buffers too short for the described shape", func() {
				a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 3)
				Expect(func() { be.Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) }).To(PanicWith(ContainSubstring("len(c)")))
				Expect(func() { be.Sgemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) }).To(PanicWith(ContainSubstring("lda")))
				Expect(func() { be.Sgemm(false, false, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2) }).To(Panic())
			})

			It("is safe for concurrent use", func() {
				done := make(chan struct{})
				for g := range 2 {
					go func() {
						defer GinkgoRecover()
						defer func() { done <- struct{}{} }()
						for i, c := range gemmCases()[:24] {
							checkGemm(be, c, uint64(100*g+i))
						}
					}()
				}
				<-done
				<-done
			})
		})
	}
})

var _ = Describe("Open", func() {
	It("returns the Go backend when asked", func() {
		be, desc, err := blas.Open(blas.Options{Prefer: "go", Threads: 1})
		Expect(err).NotTo(HaveOccurred())
		Expect(be.Name()).To(Equal("go"))
		Expect(be.Threads()).To(Equal(1))
		Expect(desc).To(ContainSubstring("micro-kernel"))
	})

	It("rejects unknown preferences", func() {
		_, _, err := blas.Open(blas.Options{Prefer: "mkl"})
		Expect(err).To(MatchError(ContainSubstring(`unknown backend preference "mkl"`)))
	})

	It("prefers OpenBLAS in auto mode when the library loads", func() {
		be, desc, err := blas.Open(blas.Options{})
		Expect(err).NotTo(HaveOccurred())
		if _, oerr := blas.NewOpenBLAS(0); oerr != nil {
			Expect(be.Name()).To(Equal("go"))
			Expect(desc).To(ContainSubstring("OpenBLAS unavailable"))
			return
		}
		Expect(be.Name()).To(Equal("openblas"))
		Expect(desc).To(ContainSubstring("openblas"))
		Expect(desc).To(ContainSubstring("core "))
		GinkgoWriter.Println(desc)
	})

	It("returns an error when OpenBLAS is demanded but absent", func() {
		be, _, err := blas.Open(blas.Options{Prefer: "openblas", Threads: 1})
		if _, oerr := blas.NewOpenBLAS(1); oerr == nil {
			Expect(err).NotTo(HaveOccurred())
			Expect(be.Threads()).To(Equal(1))
			return
		}
		Expect(err).To(MatchError(ContainSubstring("openblas")))
	})
})

var _ = Describe("without an OpenBLAS library", func() {
	It("skips the OpenBLAS specs cleanly and falls back to Go", func() {
		if os.Getenv(blas.LibraryEnv) != "" {
			Skip(blas.LibraryEnv + " is already set in this process")
		}
		// The library is loaded once per process, so absence is simulated
		// in a child run of this test binary.
		cmd := exec.Command(os.Args[0], "-test.run=^TestBLAS$", "-ginkgo.no-color", "-ginkgo.focus=openblas|Open")
		cmd.Env = append(os.Environ(), blas.LibraryEnv+"=/nonexistent/libopenblas.so.0")
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(MatchRegexp(`\b0 Failed`))
		Expect(string(out)).To(MatchRegexp(`\b[1-9][0-9]* Skipped`))
	})
})

// storedSource packs B from a stored row-major matrix, counting its calls.
type storedSource struct {
	b     []float32
	ldb   int
	calls atomic.Int64
}

func (s *storedSource) PackPanel(dst []float32, nr, k0, kb, c0, cols int) {
	s.calls.Add(1)
	for p := range kb {
		d := dst[p*nr : p*nr+nr]
		copy(d, s.b[(k0+p)*s.ldb+c0:(k0+p)*s.ldb+c0+cols])
		for j := cols; j < nr; j++ {
			d[j] = float32(math.NaN()) // must be ignored: outside C
		}
	}
}

var _ = Describe("Multiply", func() {
	type variant struct {
		name           string
		source, packed bool
	}
	variants := []variant{{"stored operands", false, false}, {"B from a PanelSource", true, false},
		{"packed A", false, true}, {"packed A and B from a PanelSource", true, true}}
	for _, kn := range blas.KernelNames() {
		for _, th := range []int{1, 2} {
			for _, v := range variants {
				It(fmt.Sprintf("matches the reference with %s (go/%s/threads=%d)", v.name, kn, th), func() {
					be := blas.NewGoWithKernel(th, kn)
					DeferCleanup(be.Close)
					for i, c := range gemmCases() {
						if c.transA || c.transB || c.alpha != 1 {
							continue
						}
						r := rand.New(rand.NewPCG(uint64(i), 9))
						a, lda, b, ldb, cm, ldc := c.operands(r)
						if c.beta == 0 {
							for j := range cm {
								cm[j] = float32(math.NaN()) // overwritten, never read
							}
						}
						want, tol := refSgemm(c, a, lda, b, ldb, cm, ldc)
						p := &blas.Product{M: c.m, N: c.n, K: c.k, A: a, LDA: lda, B: b, LDB: ldb, Beta: c.beta, C: cm, LDC: ldc}
						src := &storedSource{b: b, ldb: ldb}
						if v.source {
							p.B, p.Source = nil, src
						}
						if v.packed && c.k > 0 {
							p.A, p.Packed = nil, be.PackA(c.m, c.k, a, lda)
							Expect(p.Packed.Rows()).To(Equal(c.m))
							Expect(p.Packed.Cols()).To(Equal(c.k))
						}
						be.Multiply(p)
						if v.source && c.k > 0 {
							Expect(src.calls.Load()).To(BeNumerically(">", 0))
						}
						for row := range c.m {
							for j := range c.n {
								got, w := float64(cm[row*ldc+j]), want[row*c.n+j]
								Expect(math.Abs(got-w)).To(BeNumerically("<=", tol[row*c.n+j]), "%v: C[%d][%d]", c, row, j)
							}
						}
					}
				})
			}
		}
	}

	It("rejects short buffers and mismatched packed operands", func() {
		be := blas.NewGo(1)
		DeferCleanup(be.Close)
		c := make([]float32, 4)
		Expect(func() {
			be.Multiply(&blas.Product{M: 2, N: 2, K: 2, A: make([]float32, 3), LDA: 2, Source: &storedSource{}, C: c, LDC: 2})
		}).To(Panic())
		pa := be.PackA(2, 3, make([]float32, 6), 3)
		Expect(func() {
			be.Multiply(&blas.Product{M: 2, N: 2, K: 2, Packed: pa, Source: &storedSource{}, C: c, LDC: 2})
		}).To(PanicWith(ContainSubstring("packed A is 2x3")))
		names := blas.KernelNames()
		if len(names) > 1 {
			other := blas.NewGoWithKernel(1, names[1])
			Expect(func() {
				other.Multiply(&blas.Product{M: 2, N: 2, K: 3, Packed: pa, B: make([]float32, 6), LDB: 2, C: c, LDC: 2})
			}).To(PanicWith(ContainSubstring("packed for the")))
		}
	})
})

var _ = Describe("backends on a shared pool", func() {
	It("compute correct products side by side and leave the pool running when closed", func() {
		pool := parallel.NewPool(2)
		DeferCleanup(pool.Close)
		bes := []blas.Backend{blas.NewGoOn(pool)}
		if ob, err := blas.NewOpenBLASOn(pool); err == nil {
			bes = append(bes, ob)
		}
		be, _, err := blas.Open(blas.Options{Prefer: "go", Pool: pool})
		Expect(err).NotTo(HaveOccurred())
		bes = append(bes, be)
		for _, be := range bes {
			Expect(be.Threads()).To(Equal(2))
		}
		done := make(chan struct{})
		for i, be := range bes {
			go func() {
				defer GinkgoRecover()
				defer func() { done <- struct{}{} }()
				for j, c := range gemmCases()[:30] {
					checkGemm(be, c, uint64(10*i+j))
				}
			}()
		}
		for range bes {
			<-done
		}
		for _, be := range bes {
			Expect(be.(interface{ Close() error }).Close()).To(Succeed())
		}
		g := blas.NewGoOn(pool)
		checkGemm(g, gemmCase{m: 40, n: 300, k: 50, alpha: 1}, 1) // the pool still runs
	})
})
