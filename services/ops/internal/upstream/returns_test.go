package upstream

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
)

// fakeReturns is order's return decisions: it records what it was sent
// and answers with the return in the state the decision leads to, or err.
type fakeReturns struct {
	orderv1.OrderServiceClient
	calls
	sent []proto.Message
	err  error
}

func (f *fakeReturns) answer(ctx context.Context, in proto.Message, name string, st orderv1.ReturnAuthorization_State, msg string) (*orderv1.ReturnAuthorization, error) {
	f.record(ctx)
	f.sent = append(f.sent, in)
	if f.err != nil {
		return nil, f.err
	}
	return &orderv1.ReturnAuthorization{
		Name: name, ReturnAuthorizationId: "R-1", OrderId: "O-1", CustomerId: "C0013",
		State: st, RejectionMessage: msg, UpdateTime: tspb(t0),
	}, nil
}

func (f *fakeReturns) ApproveReturnAuthorization(ctx context.Context, in *orderv1.ApproveReturnAuthorizationRequest, _ ...grpc.CallOption) (*orderv1.ReturnAuthorization, error) {
	return f.answer(ctx, in, in.GetName(), orderv1.ReturnAuthorization_STATE_AUTHORIZED, "")
}

func (f *fakeReturns) RejectReturnAuthorization(ctx context.Context, in *orderv1.RejectReturnAuthorizationRequest, _ ...grpc.CallOption) (*orderv1.ReturnAuthorization, error) {
	return f.answer(ctx, in, in.GetName(), orderv1.ReturnAuthorization_STATE_REJECTED, in.GetMessage())
}

func (f *fakeReturns) CancelReturnAuthorization(ctx context.Context, in *orderv1.CancelReturnAuthorizationRequest, _ ...grpc.CallOption) (*orderv1.ReturnAuthorization, error) {
	return f.answer(ctx, in, in.GetName(), orderv1.ReturnAuthorization_STATE_CLOSED, "")
}

func newReturnsFixture(t *testing.T) (*Upstream, *fakeReturns) {
	t.Helper()
	ord := &fakeReturns{}
	return newFixture(t, func(c *Config) { c.Order = ord }).u, ord
}

// TestReturnDecisionsForward checks that each decision reaches order under
// order's resource name, with the request id, the note or reason, the
// operator as actor and the correlation id, and that the answer is the
// operators' view of the return.
func TestReturnDecisionsForward(t *testing.T) {
	t.Parallel()
	base := &opsv1.ReturnAuthorization{Name: "returnAuthorizations/R-1", Order: "orders/O-1", CustomerId: "C0013", UpdateTime: tspb(t0)}
	withState := func(st opsv1.ReturnAuthorization_State, msg string) *opsv1.ReturnAuthorization {
		out := proto.CloneOf(base)
		out.State, out.RejectionMessage = st, msg
		return out
	}
	tests := []struct {
		name     string
		call     func(*Upstream) (*opsv1.ReturnAuthorization, error)
		wantSent proto.Message
		want     *opsv1.ReturnAuthorization
	}{
		{"approve", func(u *Upstream) (*opsv1.ReturnAuthorization, error) {
			return u.ApproveReturnAuthorization(operatorCtx(), &opsv1.ApproveReturnAuthorizationRequest{
				Name: "returnAuthorizations/R-1", RequestId: "req-a", Note: "checked photos"})
		}, &orderv1.ApproveReturnAuthorizationRequest{
			Name: "orders/-/returnAuthorizations/R-1", RequestId: "req-a", Note: "checked photos",
		}, withState(opsv1.ReturnAuthorization_STATE_AUTHORIZED, "")},
		{"reject", func(u *Upstream) (*opsv1.ReturnAuthorization, error) {
			return u.RejectReturnAuthorization(operatorCtx(), &opsv1.RejectReturnAuthorizationRequest{
				Name: "returnAuthorizations/R-1", RequestId: "req-r", Message: "outside policy"})
		}, &orderv1.RejectReturnAuthorizationRequest{
			Name: "orders/-/returnAuthorizations/R-1", RequestId: "req-r", Message: "outside policy",
		}, withState(opsv1.ReturnAuthorization_STATE_REJECTED, "outside policy")},
		{"cancel", func(u *Upstream) (*opsv1.ReturnAuthorization, error) {
			return u.CancelReturnAuthorization(operatorCtx(), &opsv1.CancelReturnAuthorizationRequest{
				Name: "returnAuthorizations/R-1", RequestId: "req-c", Reason: "customer called"})
		}, &orderv1.CancelReturnAuthorizationRequest{
			Name: "orders/-/returnAuthorizations/R-1", RequestId: "req-c", Reason: "customer called",
		}, withState(opsv1.ReturnAuthorization_STATE_CLOSED, "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, ord := newReturnsFixture(t)
			got, err := tc.call(u)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]proto.Message{tc.wantSent}, ord.sent, protocmp.Transform()); diff != "" {
				t.Errorf("sent to order (-want +got):\n%s", diff)
			}
			wantForwarded(t, ord.last())
		})
	}
}

// TestReturnDecisionErrors checks that order's verdicts pass through with
// their reasons, NOT_FOUND names the ops resource, an outage is
// UNAVAILABLE naming order, and a bad name never reaches order.
func TestReturnDecisionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		req    string
		code   codes.Code
		reason apierr.Reason
	}{
		{"not requested", apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION, "return is AUTHORIZED", nil),
			"returnAuthorizations/R-1", codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION},
		{"key reused", apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "reused", nil),
			"returnAuthorizations/R-1", codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED},
		{"unknown return", apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_RETURN_NOT_FOUND, "no such return", nil),
			"returnAuthorizations/R-9", codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND},
		{"order down", apierr.DependencyUnavailable("order", "down"),
			"returnAuthorizations/R-1", codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE},
		{"bad name", nil, "orders/O-1/returnAuthorizations/R-1", codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"nested name", nil, "returnAuthorizations/a/b", codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, call := range []func(*Upstream) error{
				func(u *Upstream) error {
					_, err := u.ApproveReturnAuthorization(operatorCtx(), &opsv1.ApproveReturnAuthorizationRequest{Name: tc.req, RequestId: "r"})
					return err
				},
				func(u *Upstream) error {
					_, err := u.RejectReturnAuthorization(operatorCtx(), &opsv1.RejectReturnAuthorizationRequest{Name: tc.req, RequestId: "r", Message: "m"})
					return err
				},
				func(u *Upstream) error {
					_, err := u.CancelReturnAuthorization(operatorCtx(), &opsv1.CancelReturnAuthorizationRequest{Name: tc.req, RequestId: "r"})
					return err
				},
			} {
				u, ord := newReturnsFixture(t)
				ord.err = tc.err
				err := call(u)
				wantStatus(t, err, tc.code, tc.reason)
				if tc.err == nil && len(ord.sent) != 0 {
					t.Errorf("a bad name reached order: %v", ord.sent)
				}
				if msg := grpcstatus.Convert(err).Message(); tc.code == codes.NotFound && msg != tc.req+" not found" {
					t.Errorf("NOT_FOUND message %q, want it to name %s", msg, tc.req)
				}
			}
		})
	}
}
