package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

// scriptedStream is a ServerStream whose RecvMsg and SendMsg return the
// scripted errors in turn (nil once the script runs out).
type scriptedStream struct {
	grpc.ServerStream
	recv, send []error
}

func (s *scriptedStream) Context() context.Context { return context.Background() }

func (s *scriptedStream) RecvMsg(any) error { return pop(&s.recv) }

func (s *scriptedStream) SendMsg(any) error { return pop(&s.send) }

func pop(errs *[]error) error {
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

// TestMetricsMatchGrpcprom drives go-grpc-middleware's Prometheus server
// metrics (what the server used before) and serverMetrics through the
// same calls and requires the same exposition: families, help, types,
// series (also which series exist: initialized methods have every code,
// a method that was not gets only what its calls touched) and values
// (histograms by sample count, their sums being timings).
func TestMetricsMatchGrpcprom(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	grpcservertest.Register(srv, &grpcservertest.Probe{})

	old := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	oldReg := prometheus.NewRegistry()
	oldReg.MustRegister(old)
	old.InitializeMetrics(srv)
	cur := newServerMetrics()
	curReg := prometheus.NewRegistry()
	curReg.MustRegister(cur)
	cur.initialize(srv)

	unaryErrs := []error{nil, nil, status.Error(codes.NotFound, "no"), context.DeadlineExceeded,
		context.Canceled, errors.New("plain"), status.Error(codes.Code(42), "odd code")}
	for _, ic := range []grpc.UnaryServerInterceptor{old.UnaryServerInterceptor(), cur.unary} {
		for i, want := range unaryErrs {
			for _, method := range []string{grpcservertest.MethodEcho, "/not.Registered/Call", "nomethod"} {
				_, err := ic(context.Background(), "req", &grpc.UnaryServerInfo{FullMethod: method},
					func(context.Context, any) (any, error) { return "resp", want })
				if !errors.Is(err, want) {
					t.Fatalf("call %d: err = %v, want %v", i, err, want)
				}
			}
		}
	}
	streams := []struct {
		info       grpc.StreamServerInfo
		recv, send []error
		err        error
	}{
		{grpc.StreamServerInfo{FullMethod: grpcservertest.MethodRepeat, IsServerStream: true}, nil, []error{nil, nil, io.EOF}, nil},
		{grpc.StreamServerInfo{FullMethod: "/not.Registered/Bidi", IsClientStream: true, IsServerStream: true},
			[]error{nil, io.EOF}, []error{nil}, status.Error(codes.Unavailable, "gone")},
		{grpc.StreamServerInfo{FullMethod: "/not.Registered/Upload", IsClientStream: true}, []error{io.EOF}, nil, context.Canceled},
	}
	for _, ic := range []grpc.StreamServerInterceptor{old.StreamServerInterceptor(), cur.stream} {
		for _, c := range streams {
			ss := &scriptedStream{recv: slices.Clone(c.recv), send: slices.Clone(c.send)}
			err := ic(nil, ss, &c.info, func(_ any, ss grpc.ServerStream) error {
				for range len(c.recv) + 1 {
					_ = ss.RecvMsg(nil)
				}
				for range len(c.send) + 1 {
					_ = ss.SendMsg(nil)
				}
				return c.err
			})
			if !errors.Is(err, c.err) {
				t.Fatalf("stream %s: err = %v", c.info.FullMethod, err)
			}
		}
	}

	want, got := exposition(t, oldReg), exposition(t, curReg)
	if want != got {
		t.Fatalf("metrics differ from grpcprom's\n--- grpcprom\n%s\n--- serverMetrics\n%s", want, got)
	}
	for _, s := range []string{
		`grpc_server_handled_total{grpc_code="DeadlineExceeded",grpc_method="Echo",grpc_service="transload.platformtest.v1.Probe",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="Code(42)",grpc_method="unknown",grpc_service="unknown",grpc_type="unary"} 1`,
		`grpc_server_msg_sent_total{grpc_method="Repeat",grpc_service="transload.platformtest.v1.Probe",grpc_type="server_stream"} 3`,
		`grpc_server_handled_total{grpc_code="Aborted",grpc_method="Repeat",grpc_service="transload.platformtest.v1.Probe",grpc_type="server_stream"} 0`,
	} {
		if !strings.Contains(got, s) {
			t.Errorf("exposition lacks %s", s)
		}
	}
}

// exposition renders reg's metrics one series a line, sorted, with a
// histogram's sample count and no sum or buckets.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		lines = append(lines, fmt.Sprintf("# %s %s %s", mf.GetName(), mf.GetType(), mf.GetHelp()))
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			var v string
			switch {
			case m.GetCounter() != nil:
				v = fmt.Sprint(m.GetCounter().GetValue())
			case m.GetHistogram() != nil:
				v = fmt.Sprintf("count=%d", m.GetHistogram().GetSampleCount())
			default:
				v = m.String()
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %s", mf.GetName(), strings.Join(labels, ","), v))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
