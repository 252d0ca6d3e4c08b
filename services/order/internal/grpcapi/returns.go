package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// WithReturns serves the return (RMA) RPCs with rs; without it they answer
// UNIMPLEMENTED.
func (s *Server) WithReturns(rs *order.Returns) *Server {
	s.returns = rs
	return s
}

func (s *Server) returnsOrUnimplemented() (*order.Returns, error) {
	if s.returns == nil {
		return nil, status.Error(codes.Unimplemented, "returns are not served by this order service")
	}
	return s.returns, nil
}

// returnIDFromName returns the {order} and {return_authorization} of
// "orders/{order}/returnAuthorizations/{return_authorization}" (the pattern
// is enforced by protovalidate); {order} may be "-".
func returnIDFromName(name string) (orderID, returnID string) {
	rest := strings.TrimPrefix(name, "orders/")
	orderID, returnID, _ = strings.Cut(rest, "/returnAuthorizations/")
	return orderID, returnID
}

// CreateReturnAuthorization implements orderv1.OrderServiceServer.
func (s *Server) CreateReturnAuthorization(ctx context.Context, r *orderv1.CreateReturnAuthorizationRequest) (*orderv1.ReturnAuthorization, error) {
	rs, err := s.returnsOrUnimplemented()
	if err != nil {
		return nil, err
	}
	id := orderIDFromName(r.GetParent())
	p := order.CreateReturnParams{
		OrderID: id, RequestID: r.GetRequestId(), Comment: r.GetReturnAuthorization().GetCustomerComment(),
		Actor: actor(ctx, order.Actor{Kind: "api_key"}), CorrelationID: correlation.ID(ctx),
	}
	for _, l := range r.GetReturnAuthorization().GetLines() {
		p.Lines = append(p.Lines, order.ReturnLineRequest{
			OrderLineID: l.GetOrderLineId(), Quantity: l.GetQuantity(), Reason: order.ReturnReason(l.GetReason()),
			RequestedDisposition: order.Disposition(l.GetRequestedDisposition()), Resolution: order.Resolution(l.GetResolution()),
		})
	}
	ret, replayed, err := rs.CreateReturn(ctx, p)
	if err != nil {
		return nil, s.returnStatus(ctx, err, id, "")
	}
	s.setReplayed(ctx, replayed)
	return orderpb.ReturnAuthorization(ret), nil
}

// GetReturnAuthorization implements orderv1.OrderServiceServer. A return
// named under another order than its own is NOT_FOUND.
func (s *Server) GetReturnAuthorization(ctx context.Context, r *orderv1.GetReturnAuthorizationRequest) (*orderv1.ReturnAuthorization, error) {
	rs, err := s.returnsOrUnimplemented()
	if err != nil {
		return nil, err
	}
	orderID, id := returnIDFromName(r.GetName())
	ret, err := rs.GetReturn(ctx, id, "")
	if err == nil && orderID != "-" && ret.OrderID != orderID {
		err = order.ErrReturnNotFound
	}
	if err != nil {
		return nil, s.returnStatus(ctx, err, "", id)
	}
	return orderpb.ReturnAuthorization(ret), nil
}

// returnListFilter declares the fields ListReturnAuthorizations filters on.
var returnListFilter = aip.Schema{
	{Name: "customer_id"},
	{Name: "state", Kind: aip.KindEnum, Enum: orderv1.ReturnAuthorization_State_value, EnumPrefix: "STATE_"},
	{Name: "create_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpGe, aip.OpLt}},
}

// ListReturnAuthorizations implements orderv1.OrderServiceServer. Page
// tokens are bound to the parent, the filter, the ordering and the caller.
func (s *Server) ListReturnAuthorizations(ctx context.Context, r *orderv1.ListReturnAuthorizationsRequest) (*orderv1.ListReturnAuthorizationsResponse, error) {
	rs, err := s.returnsOrUnimplemented()
	if err != nil {
		return nil, err
	}
	f, err := returnListFilter.Parse(r.GetFilter())
	if err != nil {
		return nil, s.returnStatus(ctx, err, "", "")
	}
	var q order.ReturnQuery
	if id := orderIDFromName(r.GetParent()); id != "-" {
		q.OrderID = id
	}
	if v, ok := f.Find("customer_id", aip.OpEq); ok {
		q.CustomerID = v.Text
	}
	if v, ok := f.Find("state", aip.OpEq); ok {
		q.State = orderpb.ReturnStateFromProto(orderv1.ReturnAuthorization_State(v.Enum))
	}
	q.Created = timeBounds(f, "create_time")
	orderBy := strings.Join(strings.Fields(r.GetOrderBy()), " ")
	q.Ascending = orderBy == "create_time" || orderBy == "create_time asc"
	page := aip.Query{Method: orderv1.OrderService_ListReturnAuthorizations_FullMethodName, Caller: caller(ctx),
		Filter: r.GetParent() + ";" + f.String(), OrderBy: map[bool]string{true: "create_time", false: "create_time desc"}[q.Ascending]}
	size, limit, err := pageWindow(r.GetPageToken(), r.GetPageSize(), page, &q.AfterTime, &q.AfterID)
	if err != nil {
		return nil, s.returnStatus(ctx, err, "", "")
	}
	q.Limit = limit
	list, err := rs.ListReturns(ctx, q)
	if err != nil {
		return nil, s.returnStatus(ctx, err, "", "")
	}
	list, next := aip.KeysetPage(list, size, page, func(r *order.Return) []aip.Key {
		return []aip.Key{aip.KeyOf(r.CreatedAt), aip.KeyOf(r.ID)}
	})
	out := &orderv1.ListReturnAuthorizationsResponse{NextPageToken: next}
	for _, r := range list {
		out.ReturnAuthorizations = append(out.ReturnAuthorizations, orderpb.ReturnAuthorization(r))
	}
	return out, nil
}

// ApproveReturnAuthorization implements orderv1.OrderServiceServer.
func (s *Server) ApproveReturnAuthorization(ctx context.Context, r *orderv1.ApproveReturnAuthorizationRequest) (*orderv1.ReturnAuthorization, error) {
	return s.decideReturn(ctx, r.GetName(), r.GetRequestId(), r.GetNote(), (*order.Returns).Approve)
}

// RejectReturnAuthorization implements orderv1.OrderServiceServer.
func (s *Server) RejectReturnAuthorization(ctx context.Context, r *orderv1.RejectReturnAuthorizationRequest) (*orderv1.ReturnAuthorization, error) {
	return s.decideReturn(ctx, r.GetName(), r.GetRequestId(), r.GetMessage(), (*order.Returns).Reject)
}

func (s *Server) decideReturn(ctx context.Context, name, requestID, msg string,
	decide func(*order.Returns, context.Context, order.DecideParams) (*order.Return, error),
) (*orderv1.ReturnAuthorization, error) {
	rs, err := s.returnsOrUnimplemented()
	if err != nil {
		return nil, err
	}
	orderID, id := returnIDFromName(name)
	if err := s.checkReturnParent(ctx, rs, orderID, id); err != nil {
		return nil, err
	}
	ret, err := decide(rs, ctx, order.DecideParams{ReturnID: id, RequestID: requestID, Message: msg,
		Actor: actor(ctx, order.Actor{Kind: "operator"}), CorrelationID: correlation.ID(ctx)})
	if err != nil {
		return nil, s.returnStatus(ctx, err, "", id)
	}
	return orderpb.ReturnAuthorization(ret), nil
}

// CancelReturnAuthorization implements orderv1.OrderServiceServer: an
// AUTHORIZED return whose goods have not arrived closes (Returns.Cancel),
// with the calling actor (an operator by default; the gateway passes the
// storefront's key after checking the order is the caller's). A return
// named under another order than its own is NOT_FOUND.
func (s *Server) CancelReturnAuthorization(ctx context.Context, r *orderv1.CancelReturnAuthorizationRequest) (*orderv1.ReturnAuthorization, error) {
	rs, err := s.returnsOrUnimplemented()
	if err != nil {
		return nil, err
	}
	orderID, id := returnIDFromName(r.GetName())
	if err := s.checkReturnParent(ctx, rs, orderID, id); err != nil {
		return nil, err
	}
	a := actor(ctx, order.Actor{Kind: "operator"})
	ret, replayed, err := rs.Cancel(ctx, order.CancelReturnParams{ReturnID: id, RequestID: r.GetRequestId(), Reason: r.GetReason(),
		Actor: a, CorrelationID: correlation.ID(ctx)})
	if err != nil {
		return nil, s.returnStatus(ctx, err, "", id)
	}
	s.setReplayed(ctx, replayed)
	return orderpb.ReturnAuthorization(ret), nil
}

// checkReturnParent answers NOT_FOUND when a return is named under another
// order than its own.
func (s *Server) checkReturnParent(ctx context.Context, rs *order.Returns, orderID, id string) error {
	if orderID == "-" {
		return nil
	}
	ret, err := rs.GetReturn(ctx, id, "")
	if err == nil && ret.OrderID != orderID {
		err = order.ErrReturnNotFound
	}
	if err != nil {
		return s.returnStatus(ctx, err, "", id)
	}
	return nil
}

// RecordReturnReceipt implements orderv1.OrderServiceServer.
func (s *Server) RecordReturnReceipt(ctx context.Context, r *orderv1.RecordReturnReceiptRequest) (*orderv1.RecordReturnReceiptResponse, error) {
	rs, err := s.returnsOrUnimplemented()
	if err != nil {
		return nil, err
	}
	orderID, id := returnIDFromName(r.GetName())
	if err := s.checkReturnParent(ctx, rs, orderID, id); err != nil {
		return nil, err
	}
	p := order.ReceiptParams{
		ReturnID: id, EventID: r.GetEventId(), WarehouseID: r.GetWarehouseId(), ReceivedAt: r.GetReceiveTime().AsTime(),
		ReceiptID: r.GetReturnReceiptId(), Actor: actor(ctx, order.Actor{Kind: "service", ID: "fulfillment"}),
		CorrelationID: correlation.ID(ctx),
	}
	for _, l := range r.GetLines() {
		p.Lines = append(p.Lines, order.ReceivedLine{LineID: l.GetLineId(), Quantity: l.GetReceivedQuantity(), Disposition: order.Disposition(l.GetDisposition())})
	}
	res, err := rs.RecordReturnReceipt(ctx, p)
	if err != nil {
		return nil, s.returnStatus(ctx, err, "", id)
	}
	return &orderv1.RecordReturnReceiptResponse{ReturnAuthorization: orderpb.ReturnAuthorization(res.Return), Duplicate: res.Duplicate}, nil
}

// returnStatus is toStatus for the return RPCs: the return errors first,
// then the order service's table.
func (s *Server) returnStatus(ctx context.Context, err error, orderID, returnID string) error {
	meta := func(kv ...string) map[string]string {
		m := map[string]string{}
		if orderID != "" {
			m["order_id"] = orderID
		}
		if returnID != "" {
			m["return_authorization_id"] = returnID
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var (
		rule       *order.ReturnRuleError
		transition *order.ReturnTransitionError
		receipt    *order.ReceiptQuantityError
		unknown    *order.UnknownLineError
	)
	switch {
	case errors.Is(err, order.ErrReturnNotFound):
		return apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_RETURN_NOT_FOUND, "return authorization not found", meta())
	case errors.As(err, &rule):
		return ruleStatus(rule, meta)
	case errors.As(err, &transition):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION, transition.Error(),
			meta("from", transition.From.String(), "to", transition.To.String()))
	case errors.As(err, &receipt):
		return apierr.WithPreconditionFailure(
			apierr.New(fp, orderv1.ErrorReason_ERROR_REASON_RECEIPT_QUANTITY_EXCEEDS_RETURN, receipt.Error(),
				meta("line_id", receipt.LineID, "requested", i64(receipt.Requested), "allowed", i64(receipt.Allowed))),
			apierr.PreconditionViolation{Type: "RECEIPT_QUANTITY_EXCEEDS_RETURN", Subject: "lines/" + receipt.LineID, Description: receipt.Error()}).Err()
	case errors.As(err, &unknown):
		return apierr.WithViolations(
			apierr.New(codes.InvalidArgument, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_LINE, unknown.Error(), meta("line_id", unknown.LineID)),
			apierr.FieldViolation{Field: "return_authorization.lines", Description: unknown.Error(), Reason: "UNKNOWN_LINE"}).Err()
	}
	return s.toStatus(ctx, err, orderID)
}

// ruleStatus is the FAILED_PRECONDITION of a broken return rule: its
// reason in the ErrorInfo and the offending order line (or the order) in a
// PreconditionFailure.
func ruleStatus(e *order.ReturnRuleError, meta metaFunc) error {
	var (
		reason orderv1.ErrorReason
		md     map[string]string
		v      = apierr.PreconditionViolation{Subject: "orders/" + e.OrderID + "/lines/" + e.OrderLineID, Description: e.Error()}
	)
	switch e.Rule {
	case order.RuleNotReturnable:
		reason, md = orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_RETURNABLE, meta("order_id", e.OrderID, "state", e.OrderState.String())
		v.Subject = "orders/" + e.OrderID
	case order.RuleQuantity:
		reason, md = orderv1.ErrorReason_ERROR_REASON_RETURN_QUANTITY_EXCEEDS_SHIPPED,
			meta("order_line_id", e.OrderLineID, "requested", i64(e.Requested), "returnable", i64(e.Returnable))
	case order.RuleWindow:
		reason, md = orderv1.ErrorReason_ERROR_REASON_RETURN_WINDOW_EXPIRED,
			meta("order_line_id", e.OrderLineID, "returnable_until", e.Until.UTC().Format(time.RFC3339), "window_days", i64(int64(e.WindowDays)))
	}
	v.Type = strings.TrimPrefix(reason.String(), "ERROR_REASON_")
	return apierr.WithPreconditionFailure(apierr.New(fp, reason, e.Error(), md), v).Err()
}

// setReplayed sets the ReplayedHeader when a call returned an earlier
// result for its request id.
func (s *Server) setReplayed(ctx context.Context, replayed bool) {
	if !replayed {
		return
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs(ReplayedHeader, "true")); err != nil {
		s.log.WarnContext(ctx, "set replayed header", slog.Any("error", err))
	}
}
