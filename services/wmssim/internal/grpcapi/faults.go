package grpcapi

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/wmssim/internal/faults"
)

// FaultInterceptor applies the injected availability faults to the adapter
// service's calls (health and other services are left alone): when down,
// every call fails with UNAVAILABLE / ERROR_REASON_WMS_UNAVAILABLE; when
// slow, every call waits first and fails with DEADLINE_EXCEEDED /
// ERROR_REASON_WMS_TIMEOUT if its deadline passes meanwhile.
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
				return nil, apierr.Error(codes.DeadlineExceeded, wmsv1.ErrorReason_ERROR_REASON_WMS_TIMEOUT,
					"the WMS did not answer in time", map[string]string{"wms_system": wmsSystem})
			}
		}
		if f.Down {
			return nil, apierr.Error(codes.Unavailable, wmsv1.ErrorReason_ERROR_REASON_WMS_UNAVAILABLE,
				"the WMS is unavailable", map[string]string{"wms_system": wmsSystem})
		}
		return handler(ctx, req)
	}
}
