package grpcserver

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// LocalConn calls the unary methods of the services registered on a
// Server in this process, through the same unary interceptor chain a call
// on the gRPC listener goes through (WithFirstUnaryInterceptors, recovery,
// correlation id, default deadline, access log, metrics, WithAuth,
// protovalidate, WithUnaryInterceptors), without encoding the messages,
// a loopback connection, HTTP/2 framing or a goroutine per call. It is a
// grpc.ClientConnInterface, so generated clients (and grpc-gateway's
// RegisterXHandlerClient) take it like a *grpc.ClientConn.
//
// What the handler sees is what it would see over the wire: the caller's
// outgoing metadata as incoming metadata (and no outgoing metadata, so
// nothing of the caller's leaks into the handler's own calls), the
// caller's deadline and cancellation, a request the caller cannot touch
// (a copy), grpc.SetHeader/SetTrailer/SendHeader/Method working, and
// errors as gRPC statuses (a non-status error becomes Unknown, a context
// error Canceled or DeadlineExceeded, as grpc-go's server maps them). The
// caller gets a copy of the response, and the header and trailer through
// grpc.Header and grpc.Trailer call options. Tracing has the two spans the
// otelgrpc client and server handlers make (a client span and a server
// span under it, named after the method). Once the server stops taking
// new calls (after the drain delay of its shutdown), calls fail with
// Unavailable, as new calls on a stopping listener do; calls already
// running finish. Streams are not supported (Unimplemented).
type LocalConn struct {
	s      *Server
	tracer trace.Tracer
}

var _ grpc.ClientConnInterface = (*LocalConn)(nil)

// localMethod is one registered unary method.
type localMethod struct {
	impl    any
	handler grpc.MethodHandler
	service string
	name    string
}

// LocalConn returns a connection to the services registered on s (before
// or after the call) that runs in process; see LocalConn.
func (s *Server) LocalConn() *LocalConn {
	tp := s.opts.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	// The otelgrpc handlers' instrumentation name, so the spans look as
	// they do for a call over the listener.
	return &LocalConn{s: s, tracer: tp.Tracer("go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc")}
}

// registerLocal records desc's unary methods for LocalConn.
func (s *Server) registerLocal(desc *grpc.ServiceDesc, impl any) {
	s.localMu.Lock()
	defer s.localMu.Unlock()
	if s.local == nil {
		s.local = map[string]localMethod{}
	}
	for _, m := range desc.Methods {
		s.local["/"+desc.ServiceName+"/"+m.MethodName] = localMethod{impl: impl, handler: m.Handler, service: desc.ServiceName, name: m.MethodName}
	}
}

func (s *Server) localMethod(fullMethod string) (localMethod, bool) {
	s.localMu.RLock()
	defer s.localMu.RUnlock()
	m, ok := s.local[fullMethod]
	return m, ok
}

// errShuttingDown is what LocalConn answers once the server stops taking
// new calls.
var errShuttingDown = status.Error(codes.Unavailable, "grpcserver: the server is shutting down")

// Invoke runs the unary method through the server's chain; see LocalConn.
func (c *LocalConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) (err error) {
	ctx, clientSpan := c.startSpan(ctx, method, trace.SpanKindClient)
	defer func() { endSpan(clientSpan, err) }()
	if c.s.stopping.Load() {
		return errShuttingDown
	}
	m, ok := c.s.localMethod(method)
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	in, ok := args.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "grpcserver: %s: request %T is not a proto message", method, args)
	}
	out, ok := reply.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "grpcserver: %s: reply %T is not a proto message", method, reply)
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}

	// The server's view: the caller's outgoing metadata arrive as
	// incoming metadata; the handler starts with no outgoing metadata.
	md, _ := metadata.FromOutgoingContext(ctx)
	sctx := metadata.NewOutgoingContext(metadata.NewIncomingContext(ctx, md), nil)
	stream := &localStream{method: method}
	sctx = grpc.NewContextWithServerTransportStream(sctx, stream)
	sctx, serverSpan := c.startSpan(sctx, method, trace.SpanKindServer)

	resp, herr := m.handler(m.impl, sctx, func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}, c.s.unaryChain)
	if herr != nil {
		st, ok := status.FromError(herr)
		if !ok {
			st = status.FromContextError(herr)
		}
		herr = st.Err()
	} else if r, ok := resp.(proto.Message); !ok || r == nil {
		herr = status.Errorf(codes.Internal, "grpcserver: %s returned no response", method)
	} else {
		proto.Merge(out, r)
	}
	endSpan(serverSpan, herr)
	stream.deliver(opts)
	return herr
}

// NewStream implements grpc.ClientConnInterface; LocalConn serves unary
// calls only.
func (c *LocalConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "grpcserver: LocalConn does not serve streams")
}

// startSpan starts the span otelgrpc's client or server handler would:
// named after the method without its leading slash, with the rpc.*
// attributes.
// The attributes are added only to a recording span, so calls with
// tracing off (the no-op provider) or not sampled pay for no attribute
// slice.
func (c *LocalConn) startSpan(ctx context.Context, method string, kind trace.SpanKind) (context.Context, trace.Span) {
	name := strings.TrimPrefix(method, "/")
	ctx, span := c.tracer.Start(ctx, name, trace.WithSpanKind(kind))
	if span.IsRecording() {
		service, m, _ := strings.Cut(name, "/")
		span.SetAttributes(
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", service),
			attribute.String("rpc.method", m),
		)
	}
	return ctx, span
}

func endSpan(span trace.Span, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	st := status.Convert(err)
	span.SetAttributes(attribute.Int64("rpc.grpc.status_code", int64(st.Code())))
	if err != nil {
		span.SetStatus(otelcodes.Error, st.Message())
	}
	span.End()
}

// localStream is the grpc.ServerTransportStream of a LocalConn call: it
// collects the header and trailer the chain and handler set.
type localStream struct {
	method string

	mu          sync.Mutex
	header      metadata.MD
	trailer     metadata.MD
	headersSent bool
}

var errHeaderSent = errors.New("grpcserver: header already sent")

func (s *localStream) Method() string { return s.method }

func (s *localStream) SetHeader(md metadata.MD) error { return s.addHeader(md, false) }

func (s *localStream) SendHeader(md metadata.MD) error { return s.addHeader(md, true) }

// addHeader adds md to the header unless it was sent already; send marks
// it sent.
func (s *localStream) addHeader(md metadata.MD, send bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headersSent {
		return errHeaderSent
	}
	s.header = metadata.Join(s.header, md)
	s.headersSent = send
	return nil
}

func (s *localStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

// deliver hands the header and trailer to the caller's grpc.Header and
// grpc.Trailer options.
func (s *localStream) deliver(opts []grpc.CallOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = s.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = s.trailer
		}
	}
}
