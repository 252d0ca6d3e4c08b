package grpcapi

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/wmssim/internal/faults"
)

// FaultInterceptor applies the injected availability faults to the adapter
// service's calls (health and other services are left alone): when down,
// every call fails with UNAVAILABLE / ERROR_REASON_WMS_UNAVAILABLE; when
// slow, every call waits first and fails with DEADLINE_EXCEEDED /
// ERROR_REASON_WMS_TIMEOUT if its deadline passes meanwhile (Canceled if
// its caller goes away).
func FaultInterceptor(set *faults.Set) grpc.UnaryServerInterceptor {
	prefix := "/" + wmsv1.WmsAdapterService_ServiceDesc.ServiceName + "/"
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, prefix) {
			return handler(ctx, req)
		}
		f := set.Get()
		if d := f.Slow(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, contextError(ctx.Err())
			}
		}
		if f.Down {
			return nil, errUnavailable()
		}
		return handler(ctx, req)
	}
}
