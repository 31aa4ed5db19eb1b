package plugin

import (
	"context"
	"errors"
	"fmt"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/yoloforge/yoloforge/sdk/proto/yoloforge/v1"
)

// GRPCPlugin is the go-plugin glue for a Component: on the plugin side it
// registers Impl as the Component gRPC service, on the host side it hands
// out a client that implements Component by calling that service.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	// Impl is the served component; the host leaves it nil.
	Impl Component
}

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the component with the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("no component to serve")
	}
	pb.RegisterComponentServer(s, NewGRPCServer(p.Impl))
	return nil
}

// GRPCClient returns a Component backed by the plugin's gRPC service.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewGRPCClient(c), nil
}

// RemoteError is an error a component's Describe or Build returned inside
// the plugin, carried to the host with its message unchanged. Failures of
// the connection itself stay gRPC status errors, so that callers can tell
// "the component said no" from "the plugin is gone".
type RemoteError struct {
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Component errors travel as this code; grpc-go uses it as well for a
// handler error that carries no status, which is what a component returns.
const componentErrorCode = codes.Unknown

// NewGRPCClient returns a Component that calls the Component service over conn.
func NewGRPCClient(conn grpc.ClientConnInterface) Component {
	return &grpcClient{c: pb.NewComponentClient(conn)}
}

type grpcClient struct {
	c pb.ComponentClient
}

func (g *grpcClient) Describe(ctx context.Context) (Info, error) {
	resp, err := g.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Info{}, FromStatus(err)
	}
	info, err := InfoFromProto(resp.GetInfo())
	if err != nil {
		return Info{}, fmt.Errorf("decode Describe response: %w", err)
	}
	return info, nil
}

func (g *grpcClient) Build(ctx context.Context, bc BuildContext) (Part, error) {
	req, err := BuildContextToProto(bc)
	if err != nil {
		return Part{}, fmt.Errorf("encode build context: %w", err)
	}
	resp, err := g.c.Build(ctx, &pb.BuildRequest{Context: req})
	if err != nil {
		return Part{}, FromStatus(err)
	}
	part, err := PartFromProto(resp.GetPart())
	if err != nil {
		return Part{}, fmt.Errorf("decode Build response: %w", err)
	}
	return part, nil
}

// FromStatus turns a component's own error, as RemoteStatus sent it, back
// into a *RemoteError; other errors (the connection's) come back unchanged.
// The services of other plugin kinds (sdk/deploy) carry their errors the
// same way.
func FromStatus(err error) error {
	if st, ok := status.FromError(err); ok && st.Code() == componentErrorCode {
		return &RemoteError{Message: st.Message()}
	}
	return err
}

// RemoteStatus carries err, returned by the component itself, to the host.
func RemoteStatus(err error) error { return status.Error(componentErrorCode, err.Error()) }

// NewGRPCServer returns the Component service backed by impl.
func NewGRPCServer(impl Component) pb.ComponentServer {
	return &grpcServer{impl: impl}
}

type grpcServer struct {
	pb.UnimplementedComponentServer
	impl Component
}

func (s *grpcServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	info, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, RemoteStatus(err)
	}
	p, err := InfoToProto(info)
	if err != nil {
		return nil, RemoteStatus(fmt.Errorf("encode component info: %v", err))
	}
	return &pb.DescribeResponse{Info: p}, nil
}

func (s *grpcServer) Build(ctx context.Context, req *pb.BuildRequest) (*pb.BuildResponse, error) {
	bc, err := BuildContextFromProto(req.GetContext())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("decode build context: %v", err))
	}
	part, err := s.impl.Build(ctx, bc)
	if err != nil {
		return nil, RemoteStatus(err)
	}
	p, err := PartToProto(part)
	if err != nil {
		return nil, RemoteStatus(fmt.Errorf("encode built part: %v", err))
	}
	return &pb.BuildResponse{Part: p}, nil
}
