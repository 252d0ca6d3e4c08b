package grpcserver_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/logging"
)

// BenchmarkUnaryChain measures one unary echo call over loopback TCP:
// "baseline" against a bare grpc.Server, "subject" through the full
// standard chain (recovery, correlation id, default deadline, JSON access
// log written to io.Discard, Prometheus metrics, otelgrpc stats handler,
// protovalidate). subject/baseline is the cost of the chain; cpu-ns/op is
// the process's CPU per call (client and server), which other processes'
// load does not inflate the way it does ns/op.
func BenchmarkUnaryChain(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := grpc.NewServer()
		grpcservertest.Register(srv, &grpcservertest.Probe{})
		go func() { _ = srv.Serve(lis) }()
		b.Cleanup(srv.Stop)
		benchEcho(b, lis.Addr().String())
	})
	b.Run("subject", func(b *testing.B) {
		benchEcho(b, runBenchServer(b))
	})
}

// runBenchServer runs a Server with the standard chain (JSON log to
// io.Discard at info, no admin listener, opts after those) and the Probe
// service; it returns its address and stops it when b ends.
func runBenchServer(b *testing.B, opts ...grpcserver.Option) string {
	b.Helper()
	srv, err := grpcserver.New(append([]grpcserver.Option{
		grpcserver.WithAddr("127.0.0.1:0"),
		grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(logging.New(io.Discard, "bench", slog.LevelInfo)),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	return srv.Addr().String()
}

func benchEcho(b *testing.B, addr string) {
	b.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	client := grpcservertest.NewClient(conn)
	ctx := context.Background()
	if _, err := client.Echo(ctx, "warm-up"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		if _, err := client.Echo(ctx, "ping"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user+system CPU this process has used, in ns: client
// and server of a loopback call both run here, and unlike ns/op it does
// not count the time other processes on a loaded machine take.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
