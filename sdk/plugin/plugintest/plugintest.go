// Package plugintest helps test components and plugins: Wire runs a
// component behind an in-process gRPC connection, so a test sees exactly
// what the host would receive from the plugin binary, and Echo is a small
// reference component that YOLOForge's own tests and examples build on.
package plugintest

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
	pb "github.com/yoloforge/yoloforge/sdk/proto/yoloforge/v1"
)

// Wire serves c on an in-process gRPC connection and returns a Component
// that reaches it through the protocol, and a function that stops both.
func Wire(c plugin.Component) (plugin.Component, func(), error) {
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(grpc.MaxRecvMsgSize(plugin.MaxMessageSize), grpc.MaxSendMsgSize(plugin.MaxMessageSize))
	pb.RegisterComponentServer(s, plugin.NewGRPCServer(c))
	go func() { _ = s.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///plugintest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(plugin.MaxMessageSize), grpc.MaxCallSendMsgSize(plugin.MaxMessageSize)))
	if err != nil {
		s.Stop()
		return nil, nil, fmt.Errorf("dial in-process server: %w", err)
	}
	stop := func() {
		_ = conn.Close()
		s.Stop()
	}
	return plugin.NewGRPCClient(conn), stop, nil
}

// Echo is a reference component. Build makes a small but complete YOLO
// model with sdk/nn (Conv, C3, SPPF, Upsample, Concat, Detect) shaped by
// the build context, and fails with the message in Args["fail"] when it is
// set, so that tests can check how errors travel.
type Echo struct {
	Name string      // default "echo"
	Kind plugin.Kind // default backbone
}

// DefaultAnchors are Echo's anchors (pixels) when the context has none.
func DefaultAnchors() [][]float64 {
	return [][]float64{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}}
}

func (e Echo) name() string {
	if e.Name == "" {
		return "echo"
	}
	return e.Name
}

func (e Echo) kind() plugin.Kind {
	if e.Kind == "" {
		return plugin.KindBackbone
	}
	return e.Kind
}

// Describe implements plugin.Component.
func (e Echo) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name: e.name(), Kind: e.kind(), Version: "1.2.3",
		Description: "Reference component: a two-level YOLO model built from the context.",
		Args: []plugin.ArgSpec{
			{Name: "width", Type: plugin.ArgInt, Default: int64(16), Description: "channels of the stem"},
			{Name: "depth", Type: plugin.ArgInt, Default: int64(2), Description: "bottlenecks of the P3 C3 block; large values make large graphs"},
			{Name: "ratio", Type: plugin.ArgFloat, Default: 1.0, Description: "unused; checks that 1.0 stays a float"},
			{Name: "strides", Type: plugin.ArgIntList, Default: []any{int64(8), int64(16)}, Description: "unused"},
			{Name: "fail", Type: plugin.ArgString, Description: "when set, Build fails with this message"},
		},
	}, nil
}

// Build implements plugin.Component.
func (e Echo) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	if msg, ok := bc.Args["fail"].(string); ok && msg != "" {
		return plugin.Part{}, errors.New(msg)
	}
	width := 16
	if w, ok := bc.Args["width"].(int64); ok {
		width = int(w)
	}
	depth := 2
	if d, ok := bc.Args["depth"].(int64); ok {
		depth = int(d)
	}
	in, nc, anchors := bc.InChannels, bc.NC, bc.Anchors
	if in == 0 {
		in = 3
	}
	if nc == 0 {
		nc = 80
	}
	if anchors == nil {
		anchors = DefaultAnchors()
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", in)
	x = b.Conv(x, width, 6, 2, 2)
	x = b.Conv(x, 2*width, 3, 2)
	x = b.C3(x, 2*width, 1)
	x = b.Conv(x, 4*width, 3, 2)
	p3 := b.C3(x, 4*width, depth)
	x = b.Conv(p3, 8*width, 3, 2)
	x = b.SPPF(x, 8*width, 5)
	p4 := b.Conv(x, 4*width, 1, 1)
	x = b.Upsample(p4, 2)
	x = b.Concat(x, p3)
	p3 = b.C3(x, 4*width, 1, false)
	det := b.Detect([]nn.T{p3, p4}, nc, anchors)
	g, err := b.Finish(det.Output)
	if err != nil {
		return plugin.Part{}, fmt.Errorf("%s: %w", e.name(), err)
	}
	return plugin.Part{Graph: g, Features: []plugin.Feature{
		{Name: "P3", Value: p3.Name, Channels: p3.C, Stride: p3.Stride, Layer: p3.Layer},
		{Name: "P4", Value: p4.Name, Channels: p4.C, Stride: p4.Stride, Layer: p4.Layer},
	}}, nil
}
