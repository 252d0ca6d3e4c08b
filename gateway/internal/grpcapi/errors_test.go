package grpcapi

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
)

// answer is what a storefront client reads from an error.
type answer struct {
	Code       codes.Code
	Message    string
	Reason     string
	Metadata   map[string]string
	RetryDelay time.Duration
}

func answerOf(err error) answer {
	d, _ := apierr.RetryDelay(err)
	return answer{Code: status.Code(err), Message: status.Convert(err).Message(), Reason: apierr.ReasonOf(err),
		Metadata: apierr.Info(err).GetMetadata(), RetryDelay: d}
}

func TestDependencyError(t *testing.T) {
	t.Parallel()
	dep := map[string]string{"dependency": "order"}
	for name, tc := range map[string]struct {
		ctx  func() (context.Context, context.CancelFunc)
		err  error
		want answer
	}{
		"unavailable": {err: status.Error(codes.Unavailable, "connection refused 10.0.0.7:9005"),
			want: answer{codes.Unavailable, "order is unavailable, retry later", "ERROR_REASON_DEPENDENCY_UNAVAILABLE", dep, time.Second}},
		"slow neighbour": {err: status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			want: answer{codes.Unavailable, "order is unavailable, retry later", "ERROR_REASON_DEPENDENCY_UNAVAILABLE", dep, time.Second}},
		"overloaded neighbour": {err: apierr.RateLimited("slow down", 0),
			want: answer{codes.Unavailable, "order is unavailable, retry later", "ERROR_REASON_DEPENDENCY_UNAVAILABLE", dep, time.Second}},
		"open breaker": {err: apierr.CircuitOpen("127.0.0.1:9005"),
			want: answer{codes.Unavailable, "order is unavailable, retry later", "ERROR_REASON_CIRCUIT_OPEN", dep, time.Second}},
		// INTERNAL stays INTERNAL: a broken neighbour is not an outage the
		// storefront should retry through.
		"internal": {err: status.Error(codes.Internal, "nil pointer in order"),
			want: answer{codes.Internal, "internal error", "ERROR_REASON_INTERNAL", nil, 0}},
		"contract drift": {err: status.Error(codes.FailedPrecondition, "something new"),
			want: answer{codes.Internal, "internal error", "ERROR_REASON_INTERNAL", nil, 0}},
		"caller cancelled": {
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			err:  status.Error(codes.Canceled, "context canceled"),
			want: answer{codes.Canceled, "request cancelled", "ERROR_REASON_CANCELLED", nil, 0}},
		"caller deadline": {
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), time.Unix(1, 0))
			},
			err:  status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			want: answer{codes.DeadlineExceeded, "the request deadline expired", "ERROR_REASON_DEADLINE_EXCEEDED", dep, 0}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			s := &Server{logger: slog.New(slog.DiscardHandler)}
			if diff := cmp.Diff(tc.want, answerOf(s.dependencyError(ctx, "order", tc.err))); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if err := (&Server{}).dependencyError(context.Background(), "order", nil); err != nil {
		t.Errorf("nil error mapped to %v", err)
	}
}

func TestOutOfStockError(t *testing.T) {
	t.Parallel()
	req := &storefrontv1.CreateOrderRequest{Order: &storefrontv1.Order{Lines: []*storefrontv1.OrderLine{
		{Sku: "SKU-1", Quantity: 1}, {Sku: "SKU-2", Quantity: 11}, {Sku: "SKU-3", Quantity: 7},
	}}}
	md := map[string]string{"sku": "SKU-2", "requested": "11", "available": "10"}
	for name, tc := range map[string]struct {
		err        error
		msg        string
		violations []apierr.PreconditionViolation
	}{
		"every short line of the order service": {
			err: apierr.WithPreconditionFailure(apierr.New(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK, "short", md),
				apierr.PreconditionViolation{Type: "STOCK", Subject: "SKU-2", Description: "requested 11, available 10"},
				apierr.PreconditionViolation{Type: "STOCK", Subject: "SKU-3", Description: "requested 7, available 0"}).Err(),
			msg: "insufficient stock for 2 lines",
			violations: []apierr.PreconditionViolation{
				{Type: "OUT_OF_STOCK", Subject: "SKU-2", Description: "requested 11, available 10"},
				{Type: "OUT_OF_STOCK", Subject: "SKU-3", Description: "requested 7, available 0"},
			},
		},
		"only the ErrorInfo": {
			err: apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK, "short", md),
			msg: "insufficient stock for 1 line",
			violations: []apierr.PreconditionViolation{
				{Type: "OUT_OF_STOCK", Subject: "SKU-2", Description: "requested 11, available 10"},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := outOfStockError(req, tc.err, md)
			want := answer{Code: codes.FailedPrecondition, Message: tc.msg, Reason: "ERROR_REASON_OUT_OF_STOCK",
				Metadata: map[string]string{"sku": "SKU-2", "requested": "11", "available": "10", "lineIndex": "1", "field": "order.lines[1].quantity"}}
			if diff := cmp.Diff(want, answerOf(err)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.violations, apierr.PreconditionViolations(err)); diff != "" {
				t.Errorf("violations (-want +got)\n%s", diff)
			}
		})
	}
}

func TestInvalidFieldAndNoSnapshot(t *testing.T) {
	t.Parallel()
	err := errUnsupportedCurrency("currency_code", "XXX")
	if diff := cmp.Diff(answer{Code: codes.InvalidArgument, Message: "currency_code: currency XXX is not supported",
		Reason: "ERROR_REASON_UNSUPPORTED_CURRENCY", Metadata: map[string]string{"currencyCode": "XXX"}}, answerOf(err)); diff != "" {
		t.Errorf("unsupported currency (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]apierr.FieldViolation{{Field: "currency_code", Description: "currency XXX is not supported"}},
		apierr.FieldViolations(err)); diff != "" {
		t.Errorf("violations (-want +got)\n%s", diff)
	}
	err = errNoSnapshot("inventory")
	if diff := cmp.Diff(answer{Code: codes.Unavailable, Message: "inventory is unavailable and no published snapshot exists for this request",
		Reason: "ERROR_REASON_NO_SNAPSHOT_AVAILABLE", Metadata: map[string]string{"dependency": "inventory"}, RetryDelay: time.Second},
		answerOf(err)); diff != "" {
		t.Errorf("no snapshot (-want +got)\n%s", diff)
	}
}
