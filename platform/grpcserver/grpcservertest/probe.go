// Package grpcservertest provides a small hand-written gRPC service, Probe,
// for testing the platform's server and client plumbing (interceptors,
// retries, deadlines, validation, shutdown) over real gRPC without
// depending on any business contract.
package grpcservertest

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
)

// ServiceName is the fully qualified name of the Probe service.
const ServiceName = "transload.platformtest.v1.Probe"

// Full method names of the Probe service.
const (
	MethodEcho   = "/" + ServiceName + "/Echo"   // unary StringValue → StringValue
	MethodGet    = "/" + ServiceName + "/Get"    // unary StringValue → StringValue, a read
	MethodCreate = "/" + ServiceName + "/Create" // unary StringValue → StringValue, a mutation
	MethodPrice  = "/" + ServiceName + "/Price"  // unary Money → Money, carries protovalidate rules
	MethodShipTo = "/" + ServiceName + "/ShipTo" // unary Address → Address, carries protovalidate rules on several fields
	MethodRepeat = "/" + ServiceName + "/Repeat" // server stream StringValue → StringValue
)

// UnaryFunc handles Echo, Get and Create; method is the full method name.
type UnaryFunc func(ctx context.Context, method string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error)

// Probe is the server implementation; nil funcs fall back to echoing.
type Probe struct {
	Unary  UnaryFunc
	Price  func(ctx context.Context, in *commonv1.Money) (*commonv1.Money, error)
	ShipTo func(ctx context.Context, in *commonv1.Address) (*commonv1.Address, error)
	Repeat func(in *wrapperspb.StringValue, stream grpc.ServerStreamingServer[wrapperspb.StringValue]) error
}

func (p *Probe) unary(ctx context.Context, method string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	if p.Unary == nil {
		return wrapperspb.String(in.GetValue()), nil
	}
	return p.Unary(ctx, method, in)
}

func (p *Probe) price(ctx context.Context, in *commonv1.Money) (*commonv1.Money, error) {
	if p.Price == nil {
		return in, nil
	}
	return p.Price(ctx, in)
}

func (p *Probe) shipTo(ctx context.Context, in *commonv1.Address) (*commonv1.Address, error) {
	if p.ShipTo == nil {
		return in, nil
	}
	return p.ShipTo(ctx, in)
}

func (p *Probe) repeat(in *wrapperspb.StringValue, stream grpc.ServerStreamingServer[wrapperspb.StringValue]) error {
	if p.Repeat == nil {
		for range 3 {
			if err := stream.Send(wrapperspb.String(in.GetValue())); err != nil {
				return err
			}
		}
		return nil
	}
	return p.Repeat(in, stream)
}

// Register registers p on s (a *grpc.Server or any grpc.ServiceRegistrar).
func Register(s grpc.ServiceRegistrar, p *Probe) {
	s.RegisterService(&ServiceDesc, p)
}

func unaryHandler[Req any, PReq interface {
	*Req
	any
}](method string, call func(p *Probe, ctx context.Context, in PReq) (any, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := PReq(new(Req))
		if err := dec(in); err != nil {
			return nil, err
		}
		p := srv.(*Probe)
		if interceptor == nil {
			return call(p, ctx, in)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: method}
		return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
			return call(p, ctx, req.(PReq))
		})
	}
}

func stringMethod(name, full string) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: unaryHandler[wrapperspb.StringValue](full, func(p *Probe, ctx context.Context, in *wrapperspb.StringValue) (any, error) {
			return p.unary(ctx, full, in)
		}),
	}
}

// ServiceDesc describes the Probe service for grpc.ServiceRegistrar.
var ServiceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		stringMethod("Echo", MethodEcho),
		stringMethod("Get", MethodGet),
		stringMethod("Create", MethodCreate),
		{
			MethodName: "Price",
			Handler: unaryHandler[commonv1.Money](MethodPrice, func(p *Probe, ctx context.Context, in *commonv1.Money) (any, error) {
				return p.price(ctx, in)
			}),
		},
		{
			MethodName: "ShipTo",
			Handler: unaryHandler[commonv1.Address](MethodShipTo, func(p *Probe, ctx context.Context, in *commonv1.Address) (any, error) {
				return p.shipTo(ctx, in)
			}),
		},
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Repeat",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(*Probe).repeat(in, &grpc.GenericServerStream[wrapperspb.StringValue, wrapperspb.StringValue]{ServerStream: stream})
		},
	}},
	Metadata: "grpcservertest/probe.go",
}

// Client calls the Probe service.
type Client struct {
	cc grpc.ClientConnInterface
}

// NewClient returns a Probe client on cc.
func NewClient(cc grpc.ClientConnInterface) *Client { return &Client{cc: cc} }

func (c *Client) invokeString(ctx context.Context, method, v string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := c.cc.Invoke(ctx, method, wrapperspb.String(v), out, opts...); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

// Echo calls Echo.
func (c *Client) Echo(ctx context.Context, v string, opts ...grpc.CallOption) (string, error) {
	return c.invokeString(ctx, MethodEcho, v, opts...)
}

// Get calls Get.
func (c *Client) Get(ctx context.Context, v string, opts ...grpc.CallOption) (string, error) {
	return c.invokeString(ctx, MethodGet, v, opts...)
}

// Create calls Create.
func (c *Client) Create(ctx context.Context, v string, opts ...grpc.CallOption) (string, error) {
	return c.invokeString(ctx, MethodCreate, v, opts...)
}

// Price calls Price.
func (c *Client) Price(ctx context.Context, in *commonv1.Money, opts ...grpc.CallOption) (*commonv1.Money, error) {
	out := new(commonv1.Money)
	if err := c.cc.Invoke(ctx, MethodPrice, in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// ShipTo calls ShipTo.
func (c *Client) ShipTo(ctx context.Context, in *commonv1.Address, opts ...grpc.CallOption) (*commonv1.Address, error) {
	out := new(commonv1.Address)
	if err := c.cc.Invoke(ctx, MethodShipTo, in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// Repeat calls Repeat and collects every streamed value.
func (c *Client) Repeat(ctx context.Context, v string, opts ...grpc.CallOption) ([]string, error) {
	desc := &ServiceDesc.Streams[0]
	cs, err := c.cc.NewStream(ctx, desc, MethodRepeat, opts...)
	if err != nil {
		return nil, err
	}
	s := &grpc.GenericClientStream[wrapperspb.StringValue, wrapperspb.StringValue]{ClientStream: cs}
	if err := s.SendMsg(wrapperspb.String(v)); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	var out []string
	for {
		m, err := s.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, m.GetValue())
	}
}
