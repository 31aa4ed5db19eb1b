//go:build (linux || darwin || freebsd || netbsd) && (amd64 || arm64)

package blas

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/cpu"

	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
)

// OpenBLAS is the Backend backed by the system OpenBLAS shared library,
// called through purego (no cgo).
//
// It calls the Fortran symbol sgemm_ rather than cblas_sgemm: cblas_sgemm
// takes alpha and beta in float registers, which purego can only pass through
// its reflection-based RegisterFunc (about a dozen allocations per call),
// whereas sgemm_ takes every argument by pointer and can go through the
// allocation-free purego.SyscallN. Row-major C = op(A)op(B) is computed as the
// column-major C^T = op(B)^T op(A)^T, exactly what cblas_sgemm does
// internally for CblasRowMajor.
//
// Threads: OpenBLAS itself runs single-threaded, and a product is cut into
// strips of C that the engine's own worker pool hands to concurrent sgemm_
// calls. OpenBLAS's threads busy-wait after every call, and on a 2-core
// machine they then fight the engine's workers (which also poll briefly,
// see parallel.Pool) for the cores between products: measured on yolov5n
// training at batch 8, 363-377 ms per step with OpenBLAS's threads against
// 330 ms with the Go kernels on the shared pool, before this change.
type OpenBLAS struct {
	lib     *openblasLib
	threads int
	pool    *parallel.Pool // nil when threads == 1
	ownPool bool           // Close stops pool

	// mu serialises Sgemm calls: job and the per-worker argument blocks
	// whose addresses are passed to sgemm_ are reused.
	mu  sync.Mutex
	job openblasJob
}

// openblasJob is the parallel region of one Sgemm call.
type openblasJob struct {
	lib            *openblasLib
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	strips         int
	splitM         bool
	stripLen       int
	next           atomic.Int64
	args           []*sgemmArgs // one per worker
}

// sgemmArgs holds the by-reference scalars of one sgemm_ call. It is heap
// allocated once; the pointer fields keep the caller's matrices reachable
// (and, because they are stored in the heap, force them off the stack) for
// the duration of the call, since SyscallN only sees uintptrs.
type sgemmArgs struct {
	transA, transB         byte
	m, n, k, lda, ldb, ldc int32 // LP64 OpenBLAS
	m64, n64, k64          int64 // ILP64 (USE64BITINT) OpenBLAS
	lda64, ldb64, ldc64    int64
	alpha, beta            float32
	a, b, c                unsafe.Pointer
	call                   [13]uintptr
}

// openblasLib is the process-wide loaded library.
type openblasLib struct {
	path        string
	config      string
	coreName    string
	coreTypeSet bool // yoloforge set OPENBLAS_CORETYPE itself
	int64       bool
	sgemm       uintptr
	setThreads  uintptr
	getThreads  uintptr
}

// The library handle is the one piece of package-level state: a shared
// library is loaded at most once per process and never unloaded, and
// OPENBLAS_CORETYPE only has an effect if it is set before that first load.
var (
	loadOnce   sync.Once
	loadedLib  *openblasLib
	loadingErr error
)

// openblasCandidates lists library names in search order. Bare sonames
// first, so LD_LIBRARY_PATH and the ld.so cache are honoured; then the usual
// absolute locations, including the Debian/Ubuntu alternatives directories,
// for systems where only an unversioned or non-default copy exists.
func openblasCandidates() []string {
	if runtime.GOOS == "darwin" {
		return []string{
			"libopenblas.dylib",
			"libopenblas.0.dylib",
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
			"/usr/local/opt/openblas/lib/libopenblas.dylib",
		}
	}
	names := []string{"libopenblas.so.0", "libopenblas.so"}
	for _, dir := range []string{
		"/usr/lib/x86_64-linux-gnu",
		"/usr/lib/x86_64-linux-gnu/openblas-pthread",
		"/usr/lib/x86_64-linux-gnu/openblas-openmp",
		"/usr/lib/x86_64-linux-gnu/openblas-serial",
		"/usr/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu/openblas-pthread",
		"/usr/lib64",
		"/usr/lib",
		"/usr/local/lib",
		"/opt/OpenBLAS/lib",
	} {
		names = append(names, dir+"/libopenblas.so.0", dir+"/libopenblas.so")
	}
	return names
}

func loadOpenBLAS() (*openblasLib, error) {
	loadOnce.Do(func() { loadedLib, loadingErr = doLoadOpenBLAS() })
	return loadedLib, loadingErr
}

func doLoadOpenBLAS() (*openblasLib, error) {
	candidates := openblasCandidates()
	switch v := os.Getenv(LibraryEnv); {
	case v == "off":
		return nil, fmt.Errorf("disabled by %s=off", LibraryEnv)
	case v != "":
		candidates = []string{v}
	}
	lib := &openblasLib{}
	// OpenBLAS picks its kernels in a library constructor, so the core type
	// must be in the environment before dlopen. With DYNAMIC_ARCH builds
	// older than the CPU (e.g. 0.3.21 on Zen 4/5) detection falls back to
	// AVX2 kernels; SkylakeX selects the AVX-512 ones.
	if os.Getenv("OPENBLAS_CORETYPE") == "" && hasAVX512ForOpenBLAS() {
		if err := os.Setenv("OPENBLAS_CORETYPE", "SkylakeX"); err != nil {
			return nil, fmt.Errorf("set OPENBLAS_CORETYPE: %w", err)
		}
		lib.coreTypeSet = true
	}
	var handle uintptr
	var errs []error
	for _, name := range candidates {
		if strings.HasPrefix(name, "/") {
			// Skip absent standard locations quietly; dlopen's message
			// for them would only repeat "No such file".
			if _, err := os.Stat(name); err != nil {
				if len(candidates) == 1 {
					errs = append(errs, err)
				}
				continue
			}
		}
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		handle, lib.path = h, name
		break
	}
	if handle == 0 {
		// Leave the environment as we found it for whatever runs next.
		if lib.coreTypeSet {
			os.Unsetenv("OPENBLAS_CORETYPE")
		}
		tried := strings.Join(candidates[:min(len(candidates), 3)], ", ")
		if len(candidates) > 3 {
			tried += " and standard directories"
		}
		return nil, fmt.Errorf("no OpenBLAS shared library found (tried %s): %w", tried, errors.Join(errs...))
	}
	if p := mappedPath("openblas"); p != "" {
		lib.path = p
	} else if p, err := filepath.EvalSymlinks(lib.path); err == nil {
		lib.path = p
	}
	sym := func(name string) (uintptr, error) {
		p, err := purego.Dlsym(handle, name)
		if err != nil {
			return 0, fmt.Errorf("%s: resolve %s: %w", lib.path, name, err)
		}
		return p, nil
	}
	var err error
	if lib.sgemm, err = sym("sgemm_"); err != nil {
		return nil, err
	}
	if lib.setThreads, err = sym("openblas_set_num_threads"); err != nil {
		return nil, err
	}
	if lib.getThreads, err = sym("openblas_get_num_threads"); err != nil {
		return nil, err
	}
	// Informational symbols are optional; these one-off calls may use the
	// (allocating) reflective RegisterFunc.
	if p, err := sym("openblas_get_config"); err == nil {
		var f func() string
		purego.RegisterFunc(&f, p)
		lib.config = strings.TrimSpace(f())
	}
	if p, err := sym("openblas_get_corename"); err == nil {
		var f func() string
		purego.RegisterFunc(&f, p)
		lib.coreName = strings.TrimSpace(f())
	}
	lib.int64 = strings.Contains(lib.config, "USE64BITINT")
	return lib, nil
}

// hasAVX512ForOpenBLAS reports whether the CPU and OS support the AVX-512
// subsets OpenBLAS's SkylakeX kernels use.
func hasAVX512ForOpenBLAS() bool {
	x := cpu.X86
	return runtime.GOARCH == "amd64" && x.HasAVX512F && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL && x.HasAVX512CD
}

// mappedPath returns the resolved file of the first mapping whose path
// contains substr, from /proc/self/maps (Linux only; "" elsewhere).
func mappedPath(substr string) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if i := strings.IndexByte(line, '/'); i >= 0 && strings.Contains(line[i:], substr) {
			return line[i:]
		}
	}
	return ""
}

// NewOpenBLAS loads OpenBLAS (once per process) and returns a backend that
// runs products on min(threads, GOMAXPROCS) workers (threads <= 0 means
// GOMAXPROCS), each calling the library single-threaded. The library's own
// thread count is a process-wide setting, set to 1 here. Call Close when
// done to stop the workers.
func NewOpenBLAS(threads int) (*OpenBLAS, error) {
	var pool *parallel.Pool
	if t := effectiveThreads(threads); t > 1 {
		pool = parallel.NewPool(t)
	}
	o, err := NewOpenBLASOn(pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if pool != nil {
		o.ownPool = true
		runtime.AddCleanup(o, func(p *parallel.Pool) { p.Close() }, pool)
	}
	return o, nil
}

// NewOpenBLASOn is NewOpenBLAS with products run on pool's workers (one
// for a nil pool), shared with its other users; Close leaves it running.
func NewOpenBLASOn(pool *parallel.Pool) (*OpenBLAS, error) {
	lib, err := loadOpenBLAS()
	if err != nil {
		return nil, err
	}
	purego.SyscallN(lib.setThreads, 1)
	o := &OpenBLAS{lib: lib, threads: pool.Workers(), pool: pool}
	o.job.lib = lib
	for range o.threads {
		o.job.args = append(o.job.args, &sgemmArgs{})
	}
	return o, nil
}

// Name implements Backend.
func (o *OpenBLAS) Name() string { return "openblas" }

// Threads implements Backend: the workers that call the library.
func (o *OpenBLAS) Threads() int { return o.threads }

// Describe returns a one-line description for diagnostics.
func (o *OpenBLAS) Describe() string {
	how := "detected"
	if o.lib.coreTypeSet {
		how = "OPENBLAS_CORETYPE=SkylakeX set by yoloforge"
	} else if v := os.Getenv("OPENBLAS_CORETYPE"); v != "" {
		how = "OPENBLAS_CORETYPE=" + v + " from environment"
	}
	core := o.lib.coreName
	if core == "" {
		core = "unknown"
	}
	r, _, _ := purego.SyscallN(o.lib.getThreads)
	return fmt.Sprintf("openblas: %s, core %s (%s), %d worker(s) calling it with %d thread(s) each [%s]",
		o.lib.path, core, how, o.Threads(), int32(r), o.lib.config)
}

// Close stops the workers; the shared library stays loaded.
func (o *OpenBLAS) Close() error {
	if o.ownPool {
		o.pool.Close()
	}
	return nil
}

// Sgemm implements Backend.
func (o *OpenBLAS) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if sgemmTrivial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	const maxInt32 = 1<<31 - 1
	if !o.lib.int64 && max(m, n, k, lda, ldb, ldc) > maxInt32 {
		panic(fmt.Sprintf("blas: Sgemm: dimensions m=%d n=%d k=%d exceed 32-bit OpenBLAS", m, n, k))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	j := &o.job
	j.transA, j.transB = transA, transB
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c = a, b, c
	j.lda, j.ldb, j.ldc = lda, ldb, ldc
	w := o.threads
	if m*n*k < parallelMinMACs {
		w = 1
	}
	j.plan(w)
	j.next.Store(0)
	if w == 1 || j.strips == 1 {
		j.Run(0, 1)
	} else {
		o.pool.Run(j)
	}
	j.a, j.b, j.c = nil, nil, nil
}

// plan cuts C into strips for w workers, like gemmJob.planStrips: split
// the rows when re-reading B per strip is cheaper than re-reading A, else
// the columns, in units that keep OpenBLAS's kernels on whole tiles.
func (j *openblasJob) plan(w int) {
	const unit = 32
	j.splitM = j.n < j.m && j.m >= 2*unit
	size := j.n
	if j.splitM {
		size = j.m
	}
	j.strips = max(1, min(w, size/unit))
	j.stripLen = roundUp(ceilDiv(size, j.strips), unit)
	j.strips = ceilDiv(size, j.stripLen)
}

// Run implements parallel.Task: claim strips until none are left.
func (j *openblasJob) Run(w, _ int) {
	for {
		s := int(j.next.Add(1) - 1)
		if s >= j.strips {
			return
		}
		lo := s * j.stripLen
		a, b, c := j.a, j.b, j.c
		m, n := j.m, j.n
		if j.splitM {
			m = min(j.m, lo+j.stripLen) - lo
			c = c[lo*j.ldc:]
			if j.transA {
				a = a[lo:] // op(A) row i is column i of the stored A
			} else {
				a = a[lo*j.lda:]
			}
		} else {
			n = min(j.n, lo+j.stripLen) - lo
			c = c[lo:]
			if j.transB {
				b = b[lo*j.ldb:]
			} else {
				b = b[lo:]
			}
		}
		j.call(j.args[w], m, n, a, b, c)
	}
}

// call runs one sgemm_ on the strip's operands with argument block s.
func (j *openblasJob) call(s *sgemmArgs, m, n int, a, b, c []float32) {
	// Column-major view: C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m).
	s.transA, s.transB = 'N', 'N'
	if j.transB {
		s.transA = 'T'
	}
	if j.transA {
		s.transB = 'T'
	}
	s.alpha, s.beta = j.alpha, j.beta
	s.a, s.b, s.c = unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0])
	var pm, pn, pk, plda, pldb, pldc unsafe.Pointer
	if j.lib.int64 {
		s.m64, s.n64, s.k64 = int64(n), int64(m), int64(j.k)
		s.lda64, s.ldb64, s.ldc64 = int64(j.ldb), int64(j.lda), int64(j.ldc)
		pm, pn, pk = unsafe.Pointer(&s.m64), unsafe.Pointer(&s.n64), unsafe.Pointer(&s.k64)
		plda, pldb, pldc = unsafe.Pointer(&s.lda64), unsafe.Pointer(&s.ldb64), unsafe.Pointer(&s.ldc64)
	} else {
		s.m, s.n, s.k = int32(n), int32(m), int32(j.k)
		s.lda, s.ldb, s.ldc = int32(j.ldb), int32(j.lda), int32(j.ldc)
		pm, pn, pk = unsafe.Pointer(&s.m), unsafe.Pointer(&s.n), unsafe.Pointer(&s.k)
		plda, pldb, pldc = unsafe.Pointer(&s.lda), unsafe.Pointer(&s.ldb), unsafe.Pointer(&s.ldc)
	}
	// sgemm_(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
	// with the column-major operands swapped as above. The argument array
	// is passed as an existing slice so SyscallN's variadic parameter does
	// not allocate; every pointee is a heap object kept alive by s.
	s.call = [13]uintptr{
		uintptr(unsafe.Pointer(&s.transA)), uintptr(unsafe.Pointer(&s.transB)),
		uintptr(pm), uintptr(pn), uintptr(pk),
		uintptr(unsafe.Pointer(&s.alpha)),
		uintptr(s.b), uintptr(plda),
		uintptr(s.a), uintptr(pldb),
		uintptr(unsafe.Pointer(&s.beta)),
		uintptr(s.c), uintptr(pldc),
	}
	purego.SyscallN(j.lib.sgemm, s.call[:]...)
	s.a, s.b, s.c = nil, nil, nil
}
