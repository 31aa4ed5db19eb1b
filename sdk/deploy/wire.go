package deploy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	pb "github.com/yoloforge/yoloforge/sdk/proto/yoloforge/v1"
)

// ChunkBytes is the most tensor data one gRPC message carries: inputs and
// outputs of any size travel as a stream of such chunks.
const ChunkBytes = 1 << 20

// MaxTensorBytes bounds one streamed tensor (4 GiB): a peer that claims a
// larger shape is refused before anything is allocated for it.
const MaxTensorBytes = 4 << 30

func infoToProto(i Info) *pb.DeployInfo {
	p := &pb.DeployInfo{Name: i.Name, Version: i.Version, Description: i.Description,
		Ops: append([]string(nil), i.Ops...), Formats: append([]string(nil), i.Formats...),
		CanInfer: i.CanInfer, Reason: i.Reason}
	for _, pr := range i.Precisions {
		p.Precisions = append(p.Precisions, string(pr))
	}
	return p
}

func infoFromProto(p *pb.DeployInfo) Info {
	i := Info{Name: p.GetName(), Version: p.GetVersion(), Description: p.GetDescription(),
		Ops: append([]string(nil), p.GetOps()...), Formats: append([]string(nil), p.GetFormats()...),
		CanInfer: p.GetCanInfer(), Reason: p.GetReason()}
	for _, pr := range p.GetPrecisions() {
		i.Precisions = append(i.Precisions, Precision(pr))
	}
	return i
}

// sendTensors cuts ts into chunks of at most ChunkBytes and hands them to
// send in order. A tensor with no elements is one empty chunk.
func sendTensors(ts []Tensor, send func(*pb.DeployTensorChunk) error) error {
	for i, t := range ts {
		if n := t.Numel(); n != len(t.Data) {
			return fmt.Errorf("tensor %d (%q): shape %v needs %d values, has %d", i, t.Name, t.Shape, n, len(t.Data))
		}
		shape := make([]int64, len(t.Shape))
		for k, d := range t.Shape {
			shape[k] = int64(d)
		}
		per := ChunkBytes / 4
		for off := 0; off == 0 || off < len(t.Data); off += per {
			end := min(off+per, len(t.Data))
			buf := make([]byte, 4*(end-off))
			for k, v := range t.Data[off:end] {
				binary.LittleEndian.PutUint32(buf[4*k:], math.Float32bits(v))
			}
			if err := send(&pb.DeployTensorChunk{Index: int64(i), Name: t.Name, Shape: shape, Offset: int64(4 * off), Data: buf}); err != nil {
				return err
			}
			if len(t.Data) == 0 {
				break
			}
		}
	}
	return nil
}

// assembler rebuilds tensors from chunks, checking that they arrive in
// order and fill each tensor exactly. It grows buffers as data arrives
// rather than trusting a claimed shape, so a lying peer cannot make it
// allocate more than it sent.
type assembler struct {
	done []Tensor
	cur  *pb.DeployTensorChunk // header of the tensor being filled
	buf  []byte
	want int64
}

func (a *assembler) add(c *pb.DeployTensorChunk) error {
	if c == nil {
		return nil
	}
	if a.cur == nil || c.GetIndex() != a.cur.GetIndex() {
		if err := a.flush(); err != nil {
			return err
		}
		if c.GetIndex() != int64(len(a.done)) {
			return fmt.Errorf("tensor chunk for tensor %d arrived after %d tensors", c.GetIndex(), len(a.done))
		}
		want := int64(4)
		for _, d := range c.GetShape() {
			if d < 0 {
				return fmt.Errorf("tensor %d (%q): shape %v has a negative dimension", c.GetIndex(), c.GetName(), c.GetShape())
			}
			if d != 0 && want > MaxTensorBytes/d {
				want = MaxTensorBytes + 1
				break
			}
			want *= d
		}
		if want > MaxTensorBytes {
			return fmt.Errorf("tensor %d (%q): shape %v is larger than %d bytes", c.GetIndex(), c.GetName(), c.GetShape(), int64(MaxTensorBytes))
		}
		a.cur, a.buf, a.want = c, nil, want
	}
	if c.GetOffset() != int64(len(a.buf)) {
		return fmt.Errorf("tensor %d (%q): chunk at byte %d, expected byte %d", c.GetIndex(), c.GetName(), c.GetOffset(), len(a.buf))
	}
	if int64(len(a.buf))+int64(len(c.GetData())) > a.want {
		return fmt.Errorf("tensor %d (%q): more than the %d bytes its shape %v holds", c.GetIndex(), c.GetName(), a.want, c.GetShape())
	}
	a.buf = append(a.buf, c.GetData()...)
	return nil
}

// flush completes the tensor being filled.
func (a *assembler) flush() error {
	if a.cur == nil {
		return nil
	}
	c := a.cur
	if int64(len(a.buf)) != a.want {
		return fmt.Errorf("tensor %d (%q): got %d of the %d bytes of shape %v", c.GetIndex(), c.GetName(), len(a.buf), a.want, c.GetShape())
	}
	t := Tensor{Name: c.GetName(), Shape: make([]int, len(c.GetShape())), Data: make([]float32, len(a.buf)/4)}
	for k, d := range c.GetShape() {
		t.Shape[k] = int(d)
	}
	for k := range t.Data {
		t.Data[k] = math.Float32frombits(binary.LittleEndian.Uint32(a.buf[4*k:]))
	}
	a.done = append(a.done, t)
	a.cur, a.buf = nil, nil
	return nil
}

func (a *assembler) finish() ([]Tensor, error) {
	if err := a.flush(); err != nil {
		return nil, err
	}
	return a.done, nil
}

// errNotRunner is what a convert-only backend answers to Load/Infer/Time.
var errNotRunner = errors.New("this backend converts only; it cannot load or run models")
