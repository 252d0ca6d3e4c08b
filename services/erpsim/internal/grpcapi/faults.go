package grpcapi

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

var erpMethodPrefix = "/" + erpv1.ErpAdapterService_ServiceDesc.ServiceName + "/"

// injectFault applies the active faults to one ERP call: down fails it as
// unavailable; slow delays it, failing with DEADLINE_EXCEEDED /
// ERP_TIMEOUT when the caller's deadline passes first. Calls of other
// services (health) are untouched: the simulator stays healthy while the
// simulated ERP is down.
func injectFault(ctx context.Context, f *faults.Faults, method string) error {
	if !strings.HasPrefix(method, erpMethodPrefix) {
		return nil
	}
	st := f.Get()
	if st.Down {
		return errUnavailable()
	}
	if st.Slow <= 0 {
		return nil
	}
	t := time.NewTimer(st.Slow)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errTimeout()
		}
		return apierr.Canceled()
	}
}

// UnaryFaults returns the unary interceptor that injects f's faults.
func UnaryFaults(f *faults.Faults) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := injectFault(ctx, f, info.FullMethod); err != nil {
			return nil, err
		}
		if info.FullMethod == erpv1.ErpAdapterService_SubmitSalesOrder_FullMethodName && f.TakeLostAnswer() {
			return loseAnswer(ctx, req, handler, f)
		}
		return handler(ctx, req)
	}
}

// loseAnswer runs a submission whose answer the "loseAnswers" fault loses:
// the sales order is committed, then the caller gets DEADLINE_EXCEEDED
// (ERP_TIMEOUT) instead of the answer. A submission that fails anyway
// committed nothing; its error goes out and the fault stays pending.
func loseAnswer(ctx context.Context, req any, handler grpc.UnaryHandler, f *faults.Faults) (any, error) {
	if _, err := handler(ctx, req); err != nil {
		f.ReturnLostAnswer()
		return nil, err
	}
	return nil, errTimeout()
}

// StreamFaults returns the stream interceptor that injects f's faults when
// a stream starts. A WatchStockEvents or WatchPriceEvents stream, which stays open, also
// fails with UNAVAILABLE at its next push once the ERP is down, as a real
// adapter's would when it loses the ERP.
func StreamFaults(f *faults.Faults) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := injectFault(ss.Context(), f, info.FullMethod); err != nil {
			return err
		}
		if info.FullMethod == erpv1.ErpAdapterService_WatchStockEvents_FullMethodName ||
			info.FullMethod == erpv1.ErpAdapterService_WatchPriceEvents_FullMethodName {
			ss = &downAwareStream{ServerStream: ss, faults: f}
		}
		return handler(srv, ss)
	}
}

// downAwareStream fails each send while the "down" fault is on.
type downAwareStream struct {
	grpc.ServerStream
	faults *faults.Faults
}

// SendMsg sends m unless the simulated ERP is down.
func (s *downAwareStream) SendMsg(m any) error {
	if s.faults.Get().Down {
		return errUnavailable()
	}
	return s.ServerStream.SendMsg(m)
}
