// Package erptest serves a fake ERP adapter in memory, for the tests of
// the ERP client and of the whole service.
package erptest

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
)

// Serve serves erp on an in-memory listener until the test ends and
// returns the dial option that reaches it, whatever the target address
// (for grpcclient.WithDialOptions or app.Deps.ERPDialOptions).
func Serve(t testing.TB, erp erpv1.ErpAdapterServiceServer) grpc.DialOption {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	erpv1.RegisterErpAdapterServiceServer(srv, erp)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })
}
