// Package ort runs ONNX models with ONNX Runtime through its C API, loaded
// at run time with purego (no cgo): OrtGetApiBase gives the OrtApi function
// table, whose entries are called by their index in onnxruntime_c_api.h.
// The table only ever grows at its end, so the indices used here (all from
// API version 13 or earlier) hold for every later release.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// apiVersion is the OrtApi version requested; every function used exists
// in it, and libraries from 1.13 on provide it.
const apiVersion = 13

// Indices of the OrtApi functions used, in the header's declaration order.
const (
	fnGetErrorCode                   = 1
	fnGetErrorMessage                = 2
	fnCreateEnv                      = 3
	fnCreateSessionFromArray         = 8
	fnRun                            = 9
	fnCreateSessionOptions           = 10
	fnSetSessionGraphOptimization    = 23
	fnSetIntraOpNumThreads           = 24
	fnSetInterOpNumThreads           = 25
	fnSessionGetInputCount           = 30
	fnSessionGetOutputCount          = 31
	fnSessionGetInputName            = 36
	fnSessionGetOutputName           = 37
	fnCreateTensorAsOrtValue         = 48
	fnGetTensorMutableData           = 51
	fnGetDimensionsCount             = 61
	fnGetDimensions                  = 62
	fnGetTensorElementType           = 60
	fnGetTensorTypeAndShape          = 65
	fnAllocatorFree                  = 76
	fnGetAllocatorWithDefaultOptions = 78
	fnReleaseEnv                     = 92
	fnReleaseStatus                  = 93
	fnReleaseSession                 = 95
	fnReleaseValue                   = 96
	fnReleaseTensorTypeAndShapeInfo  = 99
	fnReleaseSessionOptions          = 100
	apiTableLen                      = 101
)

const (
	elemFloat       = 1  // ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT
	logWarning      = 2  // ORT_LOGGING_LEVEL_WARNING
	optimizationAll = 99 // ORT_ENABLE_ALL
)

// LibEnv is the environment variable that names the library file.
const LibEnv = "YOLOFORGE_ONNXRUNTIME_LIB"

// LibName is the file name of the ONNX Runtime shared library on Linux.
const LibName = "libonnxruntime.so.1"

// peerLib is where `npm ci` in benchmarks/peers/ort puts the library that
// ships with onnxruntime-node, relative to the repository root.
func peerLib() string {
	return filepath.Join("benchmarks", "peers", "ort", "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", "x64", LibName)
}

// systemDirs are searched after the explicit places.
func systemDirs() []string {
	return []string{"/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/lib64", "/opt/onnxruntime/lib"}
}

// Find returns the library to load: $YOLOFORGE_ONNXRUNTIME_LIB, then the
// peer benchmark's copy under the repository holding dir (or any directory
// above it), then the system library directories. lookupEnv may be nil for
// os.LookupEnv.
func Find(lookupEnv func(string) (string, bool), dirs ...string) (string, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if p, ok := lookupEnv(LibEnv); ok && p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", LibEnv, p, err)
		}
		return p, nil
	}
	var tried []string
	for _, d := range dirs {
		for d != "" {
			p := filepath.Join(d, peerLib())
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	if len(dirs) > 0 {
		tried = append(tried, filepath.Join("<repository>", peerLib()))
	}
	for _, d := range systemDirs() {
		for _, name := range []string{LibName, "libonnxruntime.so"} {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		tried = append(tried, filepath.Join(d, LibName))
	}
	return "", fmt.Errorf("ONNX Runtime library not found (set %s, or run `ONNXRUNTIME_NODE_INSTALL=skip npm ci` in benchmarks/peers/ort); looked in %s",
		LibEnv, strings.Join(tried, ", "))
}

// Runtime is a loaded ONNX Runtime library with one environment.
type Runtime struct {
	path    string
	version string
	env     uintptr
	mu      sync.Mutex
	closed  bool

	getErrorCode          func(status uintptr) int32
	getErrorMessage       func(status uintptr) string
	createEnv             func(level int32, logID string, out *uintptr) uintptr
	createSessionFromArr  func(env uintptr, data unsafe.Pointer, n uintptr, opts uintptr, out *uintptr) uintptr
	run                   func(sess, runOpts uintptr, inNames unsafe.Pointer, ins unsafe.Pointer, nIn uintptr, outNames unsafe.Pointer, nOut uintptr, outs unsafe.Pointer) uintptr
	createSessionOptions  func(out *uintptr) uintptr
	setGraphOptimization  func(opts uintptr, level int32) uintptr
	setIntraOpThreads     func(opts uintptr, n int32) uintptr
	setInterOpThreads     func(opts uintptr, n int32) uintptr
	sessionInputCount     func(sess uintptr, out *uintptr) uintptr
	sessionOutputCount    func(sess uintptr, out *uintptr) uintptr
	sessionInputName      func(sess, index, alloc uintptr, out **byte) uintptr
	sessionOutputName     func(sess, index, alloc uintptr, out **byte) uintptr
	createTensor          func(alloc uintptr, shape unsafe.Pointer, n uintptr, elem int32, out *uintptr) uintptr
	tensorData            func(value uintptr, out *unsafe.Pointer) uintptr
	tensorTypeAndShape    func(value uintptr, out *uintptr) uintptr
	tensorElementType     func(info uintptr, out *int32) uintptr
	dimensionsCount       func(info uintptr, out *uintptr) uintptr
	dimensions            func(info uintptr, dims unsafe.Pointer, n uintptr) uintptr
	allocatorFree         func(alloc uintptr, p *byte) uintptr
	defaultAllocator      func(out *uintptr) uintptr
	releaseEnv            func(uintptr)
	releaseStatus         func(uintptr)
	releaseSession        func(uintptr)
	releaseValue          func(uintptr)
	releaseTypeAndShape   func(uintptr)
	releaseSessionOptions func(uintptr)
}

// Open loads the library at path ("" finds it with Find from the working
// directory) and creates an environment.
func Open(path string) (*Runtime, error) {
	if path == "" {
		wd, _ := os.Getwd()
		dirs := []string{wd}
		if exe, err := os.Executable(); err == nil {
			dirs = append(dirs, filepath.Dir(exe))
		}
		p, err := Find(nil, dirs...)
		if err != nil {
			return nil, err
		}
		path = p
	}
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("load ONNX Runtime %s: %w", path, err)
	}
	sym, err := purego.Dlsym(lib, "OrtGetApiBase")
	if err != nil {
		return nil, fmt.Errorf("load ONNX Runtime %s: no OrtGetApiBase: %w", path, err)
	}
	var getAPIBase func() *[2]uintptr
	purego.RegisterFunc(&getAPIBase, sym)
	base := getAPIBase()
	if base == nil || base[0] == 0 {
		return nil, fmt.Errorf("load ONNX Runtime %s: OrtGetApiBase returned no table", path)
	}
	var getAPI func(version uint32) *[apiTableLen]uintptr
	var getVersion func() string
	purego.RegisterFunc(&getAPI, base[0])
	purego.RegisterFunc(&getVersion, base[1])
	r := &Runtime{path: path, version: getVersion()}
	api := getAPI(apiVersion)
	if api == nil {
		return nil, fmt.Errorf("load ONNX Runtime %s (version %s): it does not provide API version %d", path, r.version, apiVersion)
	}
	bind := func(fptr any, index int) { purego.RegisterFunc(fptr, api[index]) }
	bind(&r.getErrorCode, fnGetErrorCode)
	bind(&r.getErrorMessage, fnGetErrorMessage)
	bind(&r.createEnv, fnCreateEnv)
	bind(&r.createSessionFromArr, fnCreateSessionFromArray)
	bind(&r.run, fnRun)
	bind(&r.createSessionOptions, fnCreateSessionOptions)
	bind(&r.setGraphOptimization, fnSetSessionGraphOptimization)
	bind(&r.setIntraOpThreads, fnSetIntraOpNumThreads)
	bind(&r.setInterOpThreads, fnSetInterOpNumThreads)
	bind(&r.sessionInputCount, fnSessionGetInputCount)
	bind(&r.sessionOutputCount, fnSessionGetOutputCount)
	bind(&r.sessionInputName, fnSessionGetInputName)
	bind(&r.sessionOutputName, fnSessionGetOutputName)
	bind(&r.createTensor, fnCreateTensorAsOrtValue)
	bind(&r.tensorData, fnGetTensorMutableData)
	bind(&r.tensorTypeAndShape, fnGetTensorTypeAndShape)
	bind(&r.tensorElementType, fnGetTensorElementType)
	bind(&r.dimensionsCount, fnGetDimensionsCount)
	bind(&r.dimensions, fnGetDimensions)
	bind(&r.allocatorFree, fnAllocatorFree)
	bind(&r.defaultAllocator, fnGetAllocatorWithDefaultOptions)
	bind(&r.releaseEnv, fnReleaseEnv)
	bind(&r.releaseStatus, fnReleaseStatus)
	bind(&r.releaseSession, fnReleaseSession)
	bind(&r.releaseValue, fnReleaseValue)
	bind(&r.releaseTypeAndShape, fnReleaseTensorTypeAndShapeInfo)
	bind(&r.releaseSessionOptions, fnReleaseSessionOptions)
	if err := r.check("CreateEnv", r.createEnv(logWarning, "yoloforge\x00", &r.env)); err != nil {
		return nil, err
	}
	return r, nil
}

// Path is the library file loaded.
func (r *Runtime) Path() string { return r.path }

// Version is the library's version string (1.30.0, ...).
func (r *Runtime) Version() string { return r.version }

// Close releases the environment. Sessions must be closed first.
func (r *Runtime) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && r.env != 0 {
		r.releaseEnv(r.env)
	}
	r.closed = true
}

// check turns an OrtStatus into an error and releases it.
func (r *Runtime) check(what string, status uintptr) error {
	if status == 0 {
		return nil
	}
	code, msg := r.getErrorCode(status), r.getErrorMessage(status)
	r.releaseStatus(status)
	return fmt.Errorf("onnxruntime %s: %s (code %d)", what, msg, code)
}

// Tensor is a float32 tensor in row-major order.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Session is a model loaded for inference.
type Session struct {
	rt      *Runtime
	handle  uintptr
	alloc   uintptr
	inputs  []string
	outputs []string
	mu      sync.Mutex
}

// NewSession loads a serialized ONNX model with every graph optimization
// and threads intra-op threads (0: ONNX Runtime's default).
func (r *Runtime) NewSession(model []byte, threads int) (*Session, error) {
	if len(model) == 0 {
		return nil, errors.New("onnxruntime: empty model")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("onnxruntime: runtime is closed")
	}
	var opts uintptr
	if err := r.check("CreateSessionOptions", r.createSessionOptions(&opts)); err != nil {
		return nil, err
	}
	defer r.releaseSessionOptions(opts)
	if err := r.check("SetIntraOpNumThreads", r.setIntraOpThreads(opts, int32(threads))); err != nil {
		return nil, err
	}
	if err := r.check("SetInterOpNumThreads", r.setInterOpThreads(opts, 1)); err != nil {
		return nil, err
	}
	if err := r.check("SetSessionGraphOptimizationLevel", r.setGraphOptimization(opts, optimizationAll)); err != nil {
		return nil, err
	}
	s := &Session{rt: r}
	err := r.check("CreateSession", r.createSessionFromArr(r.env, unsafe.Pointer(&model[0]), uintptr(len(model)), opts, &s.handle))
	runtime.KeepAlive(model)
	if err != nil {
		return nil, err
	}
	if err := r.check("GetAllocatorWithDefaultOptions", r.defaultAllocator(&s.alloc)); err != nil {
		s.Close()
		return nil, err
	}
	if s.inputs, err = s.names(r.sessionInputCount, r.sessionInputName); err == nil {
		s.outputs, err = s.names(r.sessionOutputCount, r.sessionOutputName)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Session) names(count func(uintptr, *uintptr) uintptr, name func(uintptr, uintptr, uintptr, **byte) uintptr) ([]string, error) {
	var n uintptr
	if err := s.rt.check("SessionGetCount", count(s.handle, &n)); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		var p *byte
		if err := s.rt.check("SessionGetName", name(s.handle, uintptr(i), s.alloc, &p)); err != nil {
			return nil, err
		}
		out[i] = goString(p)
		if err := s.rt.check("AllocatorFree", s.rt.allocatorFree(s.alloc, p)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for q := p; *q != 0; q = (*byte)(unsafe.Add(unsafe.Pointer(q), 1)) {
		b = append(b, *q)
	}
	return string(b)
}

// cString returns a NUL-terminated copy of s that the caller keeps alive.
func cString(s string) *byte {
	b := append([]byte(s), 0)
	return &b[0]
}

// Inputs are the model's input names.
func (s *Session) Inputs() []string { return append([]string(nil), s.inputs...) }

// Outputs are the model's output names.
func (s *Session) Outputs() []string { return append([]string(nil), s.outputs...) }

// Run feeds the inputs (by name) and returns every output, in the model's
// output order, copied into Go memory.
func (s *Session) Run(inputs []Tensor) ([]Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handle == 0 {
		return nil, errors.New("onnxruntime: session is closed")
	}
	r := s.rt
	if len(inputs) != len(s.inputs) {
		return nil, fmt.Errorf("onnxruntime run: %d inputs given, the model has %d (%s)", len(inputs), len(s.inputs), strings.Join(s.inputs, ", "))
	}
	values := make([]uintptr, len(inputs))
	defer func() {
		for _, v := range values {
			if v != 0 {
				r.releaseValue(v)
			}
		}
	}()
	inNames := make([]*byte, len(inputs))
	for i, t := range inputs {
		n := 1
		dims := make([]int64, len(t.Shape))
		for j, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("onnxruntime run: input %q has negative dimension in %v", t.Name, t.Shape)
			}
			dims[j] = int64(d)
			n *= d
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("onnxruntime run: input %q has %d values for shape %v", t.Name, len(t.Data), t.Shape)
		}
		var dp unsafe.Pointer
		if len(dims) > 0 {
			dp = unsafe.Pointer(&dims[0])
		}
		// The tensor's memory is ONNX Runtime's, so no Go pointer is kept by C.
		err := r.check("CreateTensorAsOrtValue", r.createTensor(s.alloc, dp, uintptr(len(dims)), elemFloat, &values[i]))
		runtime.KeepAlive(dims)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", t.Name, err)
		}
		var data unsafe.Pointer
		if err := r.check("GetTensorMutableData", r.tensorData(values[i], &data)); err != nil {
			return nil, err
		}
		if n > 0 {
			copy(unsafe.Slice((*float32)(data), n), t.Data)
		}
		inNames[i] = cString(t.Name)
	}
	if len(s.outputs) == 0 {
		return nil, errors.New("onnxruntime run: the model has no outputs")
	}
	outNames := make([]*byte, len(s.outputs))
	for i, name := range s.outputs {
		outNames[i] = cString(name)
	}
	outs := make([]uintptr, len(s.outputs))
	defer func() {
		for _, v := range outs {
			if v != 0 {
				r.releaseValue(v)
			}
		}
	}()
	var inNamesP, valuesP unsafe.Pointer
	if len(inputs) > 0 {
		inNamesP, valuesP = unsafe.Pointer(&inNames[0]), unsafe.Pointer(&values[0])
	}
	err := r.check("Run", r.run(s.handle, 0, inNamesP, valuesP, uintptr(len(inputs)),
		unsafe.Pointer(&outNames[0]), uintptr(len(outNames)), unsafe.Pointer(&outs[0])))
	runtime.KeepAlive(inNames)
	runtime.KeepAlive(outNames)
	if err != nil {
		return nil, err
	}
	result := make([]Tensor, len(outs))
	for i, v := range outs {
		t, err := s.read(v)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", s.outputs[i], err)
		}
		t.Name = s.outputs[i]
		result[i] = t
	}
	return result, nil
}

// read copies a float tensor out of an OrtValue.
func (s *Session) read(v uintptr) (Tensor, error) {
	r := s.rt
	var info uintptr
	if err := r.check("GetTensorTypeAndShape", r.tensorTypeAndShape(v, &info)); err != nil {
		return Tensor{}, err
	}
	defer r.releaseTypeAndShape(info)
	var elem int32
	if err := r.check("GetTensorElementType", r.tensorElementType(info, &elem)); err != nil {
		return Tensor{}, err
	}
	if elem != elemFloat {
		return Tensor{}, fmt.Errorf("element type %d is not float32", elem)
	}
	var rank uintptr
	if err := r.check("GetDimensionsCount", r.dimensionsCount(info, &rank)); err != nil {
		return Tensor{}, err
	}
	dims := make([]int64, rank)
	if rank > 0 {
		if err := r.check("GetDimensions", r.dimensions(info, unsafe.Pointer(&dims[0]), rank)); err != nil {
			return Tensor{}, err
		}
	}
	t := Tensor{Shape: make([]int, rank)}
	n := 1
	for i, d := range dims {
		t.Shape[i] = int(d)
		n *= int(d)
	}
	t.Data = make([]float32, n)
	if n > 0 {
		var data unsafe.Pointer
		if err := r.check("GetTensorMutableData", r.tensorData(v, &data)); err != nil {
			return Tensor{}, err
		}
		copy(t.Data, unsafe.Slice((*float32)(data), n))
	}
	return t, nil
}

// Close releases the session.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handle != 0 {
		s.rt.releaseSession(s.handle)
		s.handle = 0
	}
}
