package grpcserver

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serverMetrics is the server's Prometheus metrics: the same families,
// help texts, labels and values as go-grpc-middleware's
// providers/prometheus ServerMetrics with its handling-time histogram
// (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_msg_received_total, grpc_server_msg_sent_total,
// grpc_server_handling_seconds; TestMetricsMatchGrpcprom compares them),
// but each method's series are looked up once and kept, instead of
// hashing the label values into each vector five times per call.
type serverMetrics struct {
	started, handled, received, sent *prometheus.CounterVec
	seconds                          *prometheus.HistogramVec

	// unaryMethods holds the *methodMetrics of unary calls by full
	// method, streamMethods those of streams by grpc type + full method
	// (two maps so a unary call builds no key).
	unaryMethods, streamMethods sync.Map
}

// methodMetrics is one method's series, each looked up in its vector the
// first time it is used (a series grpcprom would not have created stays
// absent) and kept.
type methodMetrics struct {
	labels                  [3]string // grpc_type, grpc_service, grpc_method
	started, received, sent lazyCounter
	seconds                 atomic.Value // prometheus.Observer
	handled                 [codes.Unauthenticated + 1]lazyCounter
}

// lazyCounter is one series of a CounterVec, looked up once.
type lazyCounter struct{ v atomic.Value }

// get returns the series with the label values lv, looking it up in vec
// the first time (two first uses at once both get the same series).
func (l *lazyCounter) get(vec *prometheus.CounterVec, lv ...string) prometheus.Counter {
	if c, ok := l.v.Load().(prometheus.Counter); ok {
		return c
	}
	c := vec.WithLabelValues(lv...)
	l.v.Store(c)
	return c
}

// The grpc_type label values.
const (
	typeUnary        = "unary"
	typeClientStream = "client_stream"
	typeServerStream = "server_stream"
	typeBidiStream   = "bidi_stream"
)

func newServerMetrics() *serverMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	return &serverMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_started_total",
			Help: "Total number of RPCs started on the server.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "Total number of RPCs completed on the server, regardless of success or failure.",
		}, append(labels[:3:3], "grpc_code")),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_received_total",
			Help: "Total number of RPC stream messages received on the server.",
		}, labels),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_sent_total",
			Help: "Total number of gRPC stream messages sent by the server.",
		}, labels),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: prometheus.DefBuckets,
		}, labels),
	}
}

// Describe implements prometheus.Collector.
func (m *serverMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.started.Describe(ch)
	m.handled.Describe(ch)
	m.received.Describe(ch)
	m.sent.Describe(ch)
	m.seconds.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *serverMetrics) Collect(ch chan<- prometheus.Metric) {
	m.started.Collect(ch)
	m.handled.Collect(ch)
	m.received.Collect(ch)
	m.sent.Collect(ch)
	m.seconds.Collect(ch)
}

// method returns the series of fullMethod called as typ.
func (m *serverMetrics) method(typ, fullMethod string) *methodMetrics {
	methods, key := &m.unaryMethods, fullMethod
	if typ != typeUnary {
		methods, key = &m.streamMethods, typ+fullMethod
	}
	if mm, ok := methods.Load(key); ok {
		return mm.(*methodMetrics)
	}
	service, method := splitMethod(fullMethod)
	mm, _ := methods.LoadOrStore(key, &methodMetrics{labels: [3]string{typ, service, method}})
	return mm.(*methodMetrics)
}

func (m *serverMetrics) incStarted(mm *methodMetrics) {
	mm.started.get(m.started, mm.labels[:]...).Inc()
}

func (m *serverMetrics) incReceived(mm *methodMetrics) {
	mm.received.get(m.received, mm.labels[:]...).Inc()
}

func (m *serverMetrics) incSent(mm *methodMetrics) { mm.sent.get(m.sent, mm.labels[:]...).Inc() }

func (m *serverMetrics) observer(mm *methodMetrics) prometheus.Observer {
	if o, ok := mm.seconds.Load().(prometheus.Observer); ok {
		return o
	}
	o := m.seconds.WithLabelValues(mm.labels[:]...)
	mm.seconds.Store(o)
	return o
}

func (m *serverMetrics) handledCounter(mm *methodMetrics, code codes.Code) prometheus.Counter {
	lv := func() []string { return []string{mm.labels[0], mm.labels[1], mm.labels[2], code.String()} }
	if int(code) < len(mm.handled) {
		if c, ok := mm.handled[code].v.Load().(prometheus.Counter); ok {
			return c
		}
		return mm.handled[code].get(m.handled, lv()...)
	}
	return m.handled.WithLabelValues(lv()...)
}

// splitMethod splits "/pkg.Service/Method" as grpcprom does.
func splitMethod(fullMethod string) (service, method string) {
	fullMethod = strings.TrimPrefix(fullMethod, "/")
	if i := strings.Index(fullMethod, "/"); i >= 0 {
		return fullMethod[:i], fullMethod[i+1:]
	}
	return "unknown", "unknown"
}

// done counts a finished call with err's code (a context error counts as
// its gRPC code, as the server sends it) and observes its duration.
func (m *serverMetrics) done(mm *methodMetrics, err error, start time.Time) {
	var code codes.Code
	if st, ok := status.FromError(err); ok {
		code = st.Code()
	} else {
		code = status.FromContextError(err).Code()
	}
	m.handledCounter(mm, code).Inc()
	m.observer(mm).Observe(time.Since(start).Seconds())
}

// unary is the unary interceptor: started, one message received, one sent
// when the call succeeds, handled by code, handling time. The server's
// chain does the same inline (standardUnary), without the handler closure.
func (m *serverMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	mm := m.unaryStart(info.FullMethod)
	resp, err := handler(ctx, req)
	m.unaryDone(mm, err, start)
	return resp, err
}

// unaryStart counts a unary call and its request.
func (m *serverMetrics) unaryStart(fullMethod string) *methodMetrics {
	mm := m.method(typeUnary, fullMethod)
	m.incStarted(mm)
	m.incReceived(mm)
	return mm
}

// unaryDone counts the response of a successful call, the call's code and
// its handling time.
func (m *serverMetrics) unaryDone(mm *methodMetrics, err error, start time.Time) {
	if err == nil {
		m.incSent(mm)
	}
	m.done(mm, err, start)
}

// stream is the stream interceptor: started, every message received and
// sent without error, handled by code, handling time.
func (m *serverMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	mm := m.method(streamType(info.IsClientStream, info.IsServerStream), info.FullMethod)
	m.incStarted(mm)
	err := handler(srv, &countingStream{ServerStream: ss, m: m, mm: mm})
	m.done(mm, err, start)
	return err
}

func streamType(client, server bool) string {
	switch {
	case client && server:
		return typeBidiStream
	case client:
		return typeClientStream
	case server:
		return typeServerStream
	}
	return typeUnary
}

// countingStream counts the messages a stream sends and receives.
type countingStream struct {
	grpc.ServerStream
	m  *serverMetrics
	mm *methodMetrics
}

// SendMsg sends m and counts it if it went out.
func (s *countingStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.m.incSent(s.mm)
	}
	return err
}

// RecvMsg receives m and counts it if it came in.
func (s *countingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.m.incReceived(s.mm)
	}
	return err
}

// initialize creates every registered method's series at zero (every
// code for grpc_server_handled_total), so they exist before the first
// call, as grpcprom's InitializeMetrics does.
func (m *serverMetrics) initialize(srv *grpc.Server) {
	for service, info := range srv.GetServiceInfo() {
		for _, mi := range info.Methods {
			mm := m.method(streamType(mi.IsClientStream, mi.IsServerStream), "/"+service+"/"+mi.Name)
			mm.started.get(m.started, mm.labels[:]...)
			mm.received.get(m.received, mm.labels[:]...)
			mm.sent.get(m.sent, mm.labels[:]...)
			m.observer(mm)
			for c := range mm.handled {
				m.handledCounter(mm, codes.Code(c))
			}
		}
	}
}
