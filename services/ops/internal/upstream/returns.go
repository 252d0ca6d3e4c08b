package upstream

import (
	"context"
	"strings"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
)

// Operators decide on customer returns (RMAs) that the order service
// owns: each method forwards to order.v1 with the operator as actor
// (outgoing), so order's audit record and state history name the operator.
// Idempotency is order's, on the forwarded request_id; order's errors pass
// through with their reasons (neighbourError), NOT_FOUND naming the ops
// resource.

const (
	returnAuthorizationPrefix = "returnAuthorizations/"
	// orderReturnPrefix is order's name of a return in any order: return
	// ids are unique across orders, so "-" stands for the order.
	orderReturnPrefix = "orders/-/returnAuthorizations/"
)

// ApproveReturnAuthorization implements OpsService.ApproveReturnAuthorization.
func (u *Upstream) ApproveReturnAuthorization(ctx context.Context, req *opsv1.ApproveReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return u.decideReturn(ctx, req.GetName(), func(ctx context.Context, name string) (*orderv1.ReturnAuthorization, error) {
		return u.order.ApproveReturnAuthorization(ctx, &orderv1.ApproveReturnAuthorizationRequest{
			Name: name, RequestId: req.GetRequestId(), Note: req.GetNote(),
		})
	})
}

// RejectReturnAuthorization implements OpsService.RejectReturnAuthorization.
func (u *Upstream) RejectReturnAuthorization(ctx context.Context, req *opsv1.RejectReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return u.decideReturn(ctx, req.GetName(), func(ctx context.Context, name string) (*orderv1.ReturnAuthorization, error) {
		return u.order.RejectReturnAuthorization(ctx, &orderv1.RejectReturnAuthorizationRequest{
			Name: name, RequestId: req.GetRequestId(), Message: req.GetMessage(),
		})
	})
}

// CancelReturnAuthorization implements OpsService.CancelReturnAuthorization.
func (u *Upstream) CancelReturnAuthorization(ctx context.Context, req *opsv1.CancelReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return u.decideReturn(ctx, req.GetName(), func(ctx context.Context, name string) (*orderv1.ReturnAuthorization, error) {
		return u.order.CancelReturnAuthorization(ctx, &orderv1.CancelReturnAuthorizationRequest{
			Name: name, RequestId: req.GetRequestId(), Reason: req.GetReason(),
		})
	})
}

// decideReturn maps the ops name of a return to order's, calls send with
// the outgoing context (operator as actor, correlation id) and converts
// the answer; order's errors become the caller's (neighbourError).
func (u *Upstream) decideReturn(ctx context.Context, opsName string,
	send func(ctx context.Context, orderName string) (*orderv1.ReturnAuthorization, error)) (*opsv1.ReturnAuthorization, error) {
	name, err := orderReturnName(opsName)
	if err != nil {
		return nil, err
	}
	ra, err := send(u.outgoing(ctx), name)
	if err != nil {
		return nil, u.neighbourError(ctx, depOrder, opsName, err)
	}
	return returnToOps(ra), nil
}

// orderReturnName maps returnAuthorizations/{id} to order's
// orders/-/returnAuthorizations/{id}.
func orderReturnName(name string) (string, error) {
	id, ok := strings.CutPrefix(name, returnAuthorizationPrefix)
	if !ok || id == "" || len(id) > 64 || strings.Contains(id, "/") {
		return "", invalidArgument([]apierr.FieldViolation{{Field: "name", Description: "must be returnAuthorizations/{return_authorization}", Reason: "STRING_PATTERN"}})
	}
	return orderReturnPrefix + id, nil
}

// returnToOps converts order's return to the operators' view.
func returnToOps(ra *orderv1.ReturnAuthorization) *opsv1.ReturnAuthorization {
	out := &opsv1.ReturnAuthorization{
		Name:             returnAuthorizationPrefix + ra.GetReturnAuthorizationId(),
		CustomerId:       ra.GetCustomerId(),
		State:            returnState(ra.GetState()),
		RejectionMessage: ra.GetRejectionMessage(),
		UpdateTime:       ra.GetUpdateTime(),
	}
	if id := ra.GetOrderId(); id != "" {
		out.Order = "orders/" + id
	}
	return out
}

func returnState(s orderv1.ReturnAuthorization_State) opsv1.ReturnAuthorization_State {
	switch s {
	case orderv1.ReturnAuthorization_STATE_REQUESTED:
		return opsv1.ReturnAuthorization_STATE_REQUESTED
	case orderv1.ReturnAuthorization_STATE_AUTHORIZED:
		return opsv1.ReturnAuthorization_STATE_AUTHORIZED
	case orderv1.ReturnAuthorization_STATE_RECEIVED:
		return opsv1.ReturnAuthorization_STATE_RECEIVED
	case orderv1.ReturnAuthorization_STATE_CREDITED:
		return opsv1.ReturnAuthorization_STATE_CREDITED
	case orderv1.ReturnAuthorization_STATE_REJECTED:
		return opsv1.ReturnAuthorization_STATE_REJECTED
	case orderv1.ReturnAuthorization_STATE_CLOSED:
		return opsv1.ReturnAuthorization_STATE_CLOSED
	case orderv1.ReturnAuthorization_STATE_UNSPECIFIED:
	}
	return opsv1.ReturnAuthorization_STATE_UNSPECIFIED
}
