package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/yoloforge/yoloforge/sdk/plugin"
	pb "github.com/yoloforge/yoloforge/sdk/proto/yoloforge/v1"
)

// GRPCPlugin is the go-plugin glue for a Backend: on the plugin side it
// registers Impl as the DeployBackend gRPC service, on the host side it
// hands out a *Client.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	// Impl is the served backend; the host leaves it nil.
	Impl Backend
}

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the backend with the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("no deploy backend to serve")
	}
	pb.RegisterDeployBackendServer(s, NewGRPCServer(p.Impl))
	return nil
}

// GRPCClient returns a *Client calling the plugin's DeployBackend service.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewGRPCClient(c), nil
}

// Client implements Backend and Runner by calling a DeployBackend service.
type Client struct {
	c pb.DeployBackendClient
}

var (
	_ Backend = (*Client)(nil)
	_ Runner  = (*Client)(nil)
)

// NewGRPCClient returns a Client calling the service over conn.
func NewGRPCClient(conn grpc.ClientConnInterface) *Client {
	return &Client{c: pb.NewDeployBackendClient(conn)}
}

// Describe implements Backend.
func (g *Client) Describe(ctx context.Context) (Info, error) {
	resp, err := g.c.Describe(ctx, &pb.DeployDescribeRequest{})
	if err != nil {
		return Info{}, plugin.FromStatus(err)
	}
	return infoFromProto(resp.GetInfo()), nil
}

// Convert implements Backend.
func (g *Client) Convert(ctx context.Context, req ConvertRequest) (ConvertResult, error) {
	gp, err := plugin.GraphToProto(req.Graph)
	if err != nil {
		return ConvertResult{}, fmt.Errorf("encode graph: %w", err)
	}
	opts, err := plugin.EncodeArgs(req.Options)
	if err != nil {
		return ConvertResult{}, fmt.Errorf("encode options: %w", err)
	}
	resp, err := g.c.Convert(ctx, &pb.DeployConvertRequest{Graph: gp, WeightsFile: req.WeightsFile, OutDir: req.OutDir,
		Precision: string(req.Precision), Raw: req.Raw, OptionsJson: opts})
	if err != nil {
		return ConvertResult{}, plugin.FromStatus(err)
	}
	return ConvertResult{Files: resp.GetFiles(), Messages: resp.GetMessages()}, nil
}

// Load implements Runner.
func (g *Client) Load(ctx context.Context, req LoadRequest) (string, error) {
	resp, err := g.c.Load(ctx, &pb.DeployLoadRequest{Dir: req.Dir, Files: req.Files, Precision: string(req.Precision), Threads: int64(req.Threads)})
	if err != nil {
		return "", plugin.FromStatus(err)
	}
	return resp.GetSession(), nil
}

// sendRun streams the session header and the inputs.
func sendRun(send func(*pb.DeployRunChunk) error, session string, iterations int, inputs []Tensor) error {
	if err := send(&pb.DeployRunChunk{Session: session, Iterations: int64(iterations)}); err != nil {
		return err
	}
	return sendTensors(inputs, func(c *pb.DeployTensorChunk) error { return send(&pb.DeployRunChunk{Chunk: c}) })
}

// Infer implements Runner.
func (g *Client) Infer(ctx context.Context, session string, inputs []Tensor) ([]Tensor, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if we stop reading early
	st, err := g.c.Infer(ctx)
	if err != nil {
		return nil, plugin.FromStatus(err)
	}
	if err := sendRun(st.Send, session, 0, inputs); err != nil && !errors.Is(err, io.EOF) {
		return nil, plugin.FromStatus(err)
	}
	// io.EOF from Send means the server ended the stream; Recv has why.
	if err := st.CloseSend(); err != nil {
		return nil, plugin.FromStatus(err)
	}
	var a assembler
	for {
		c, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, plugin.FromStatus(err)
		}
		if err := a.add(c); err != nil {
			return nil, fmt.Errorf("outputs: %w", err)
		}
	}
	out, err := a.finish()
	if err != nil {
		return nil, fmt.Errorf("outputs: %w", err)
	}
	return out, nil
}

// Time implements Runner.
func (g *Client) Time(ctx context.Context, session string, inputs []Tensor, iterations int) (Timing, error) {
	st, err := g.c.Time(ctx)
	if err != nil {
		return Timing{}, plugin.FromStatus(err)
	}
	if err := sendRun(st.Send, session, iterations, inputs); err != nil && !errors.Is(err, io.EOF) {
		return Timing{}, plugin.FromStatus(err)
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		return Timing{}, plugin.FromStatus(err)
	}
	return Timing{Iterations: int(resp.GetIterations()), MedianMS: resp.GetMedianMs(), MinMS: resp.GetMinMs()}, nil
}

// Unload implements Runner.
func (g *Client) Unload(ctx context.Context, session string) error {
	_, err := g.c.Unload(ctx, &pb.DeployUnloadRequest{Session: session})
	return plugin.FromStatus(err)
}

// NewGRPCServer returns the DeployBackend service backed by impl; Load,
// Infer, Time and Unload answer with an error unless impl is a Runner.
func NewGRPCServer(impl Backend) pb.DeployBackendServer {
	r, _ := impl.(Runner)
	return &grpcServer{impl: impl, run: r}
}

type grpcServer struct {
	pb.UnimplementedDeployBackendServer
	impl Backend
	run  Runner
}

func (s *grpcServer) Describe(ctx context.Context, _ *pb.DeployDescribeRequest) (*pb.DeployDescribeResponse, error) {
	info, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, plugin.RemoteStatus(err)
	}
	return &pb.DeployDescribeResponse{Info: infoToProto(info)}, nil
}

func (s *grpcServer) Convert(ctx context.Context, req *pb.DeployConvertRequest) (*pb.DeployConvertResponse, error) {
	g, err := plugin.GraphFromProto(req.GetGraph())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("decode graph: %v", err))
	}
	opts, err := plugin.DecodeArgs(req.GetOptionsJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("decode options: %v", err))
	}
	res, err := s.impl.Convert(ctx, ConvertRequest{Graph: g, WeightsFile: req.GetWeightsFile(), OutDir: req.GetOutDir(),
		Precision: Precision(req.GetPrecision()), Raw: req.GetRaw(), Options: opts})
	if err != nil {
		return nil, plugin.RemoteStatus(err)
	}
	return &pb.DeployConvertResponse{Files: res.Files, Messages: res.Messages}, nil
}

func (s *grpcServer) Load(ctx context.Context, req *pb.DeployLoadRequest) (*pb.DeployLoadResponse, error) {
	if s.run == nil {
		return nil, plugin.RemoteStatus(errNotRunner)
	}
	sess, err := s.run.Load(ctx, LoadRequest{Dir: req.GetDir(), Files: req.GetFiles(), Precision: Precision(req.GetPrecision()), Threads: int(req.GetThreads())})
	if err != nil {
		return nil, plugin.RemoteStatus(err)
	}
	return &pb.DeployLoadResponse{Session: sess}, nil
}

// recvRun reads a run stream to its end: the header and the inputs.
func recvRun(recv func() (*pb.DeployRunChunk, error)) (session string, iterations int, inputs []Tensor, err error) {
	var a assembler
	first := true
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, nil, err
		}
		if first {
			session, iterations, first = m.GetSession(), int(m.GetIterations()), false
		}
		if err := a.add(m.GetChunk()); err != nil {
			return "", 0, nil, status.Error(codes.InvalidArgument, "inputs: "+err.Error())
		}
	}
	inputs, err = a.finish()
	if err != nil {
		return "", 0, nil, status.Error(codes.InvalidArgument, "inputs: "+err.Error())
	}
	return session, iterations, inputs, nil
}

func (s *grpcServer) Infer(st pb.DeployBackend_InferServer) error {
	if s.run == nil {
		return plugin.RemoteStatus(errNotRunner)
	}
	session, _, inputs, err := recvRun(st.Recv)
	if err != nil {
		return err
	}
	out, err := s.run.Infer(st.Context(), session, inputs)
	if err != nil {
		return plugin.RemoteStatus(err)
	}
	if err := sendTensors(out, st.Send); err != nil {
		return plugin.RemoteStatus(fmt.Errorf("send outputs: %w", err))
	}
	return nil
}

func (s *grpcServer) Time(st pb.DeployBackend_TimeServer) error {
	if s.run == nil {
		return plugin.RemoteStatus(errNotRunner)
	}
	session, iters, inputs, err := recvRun(st.Recv)
	if err != nil {
		return err
	}
	t, err := s.run.Time(st.Context(), session, inputs, iters)
	if err != nil {
		return plugin.RemoteStatus(err)
	}
	return st.SendAndClose(&pb.DeployTimeResponse{Iterations: int64(t.Iterations), MedianMs: t.MedianMS, MinMs: t.MinMS})
}

func (s *grpcServer) Unload(ctx context.Context, req *pb.DeployUnloadRequest) (*pb.DeployUnloadResponse, error) {
	if s.run == nil {
		return nil, plugin.RemoteStatus(errNotRunner)
	}
	if err := s.run.Unload(ctx, req.GetSession()); err != nil {
		return nil, plugin.RemoteStatus(err)
	}
	return &pb.DeployUnloadResponse{}, nil
}
