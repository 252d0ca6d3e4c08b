package grpcapi

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/neighbours"
)

// Returns belong to the order service; the order decides who may see them,
// so every call checks the order first (visibleOrder: same NOT_FOUND for
// "not yours" and "does not exist"), as for shipments.

// CreateReturn implements storefrontv1.StorefrontServiceServer: each line's
// SKU names the order line with that SKU (an order has each SKU once), the
// return's resolution applies to every line, and the order service checks
// the return rules idempotently on request_id (REST: Idempotency-Key).
func (s *Server) CreateReturn(ctx context.Context, req *storefrontv1.CreateReturnRequest) (*storefrontv1.Return, error) {
	p, o, err := s.callerOrder(ctx, req.GetParent())
	if err != nil {
		return nil, err
	}
	ret := req.GetReturn()
	lineOf := map[string]string{}
	for _, l := range o.GetLines() {
		lineOf[l.GetSku()] = l.GetLineId()
	}
	ra := &orderv1.ReturnAuthorization{CustomerComment: returnComment(ret)}
	for i, l := range ret.GetLines() {
		id, ok := lineOf[l.GetSku()]
		if !ok {
			return nil, invalidField(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, fmt.Sprintf("return.lines[%d].sku", i),
				"SKU "+l.GetSku()+" is not on the order", map[string]string{"sku": l.GetSku()})
		}
		ra.Lines = append(ra.Lines, &orderv1.ReturnLine{
			OrderLineId: id, Quantity: l.GetQuantity(), Reason: returnReasonToOrder(l.GetReason()),
			RequestedDisposition: orderv1.Disposition_DISPOSITION_RESTOCK, Resolution: orderv1.Resolution(ret.GetResolution()),
		})
	}
	var header metadata.MD
	resp, err := s.n.Orders.CreateReturnAuthorization(withActor(ctx, p), &orderv1.CreateReturnAuthorizationRequest{
		Parent: o.GetName(), RequestId: req.GetRequestId(), ReturnAuthorization: ra,
	}, grpc.Header(&header))
	if err != nil {
		return nil, s.createReturnError(ctx, req, err)
	}
	if len(header.Get(MetadataReplayed)) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs(MetadataReplayed, "true"))
	}
	return returnToProto(resp), nil
}

// createReturnError maps the order service's CreateReturnAuthorization
// errors to the storefront contract: each broken return rule keeps its
// reason (storefront names) and names the offending request line in the
// PreconditionFailure.
func (s *Server) createReturnError(ctx context.Context, req *storefrontv1.CreateReturnRequest, err error) error {
	if e := idempotencyError(err); e != nil {
		return e
	}
	var reason storefrontv1.ErrorReason
	switch {
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_RETURNABLE):
		reason = storefrontv1.ErrorReason_ERROR_REASON_RETURN_LINE_NOT_SHIPPED
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_RETURN_QUANTITY_EXCEEDS_SHIPPED):
		reason = storefrontv1.ErrorReason_ERROR_REASON_RETURN_QUANTITY_EXCEEDED
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_RETURN_WINDOW_EXPIRED):
		reason = storefrontv1.ErrorReason_ERROR_REASON_RETURN_WINDOW_CLOSED
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_FOUND):
		return errNotFound("order")
	case status.Code(err) == codes.InvalidArgument:
		return passInvalidArgument(err, "return.")
	default:
		return s.dependencyError(ctx, neighbours.Order, err)
	}
	md := apierr.Info(err).GetMetadata()
	meta := map[string]string{}
	subject := req.GetParent()
	if line := md["order_line_id"]; line != "" {
		i, sku := s.returnLineOf(ctx, req, line)
		subject = fmt.Sprintf("return.lines[%d]", i)
		meta["sku"], meta["field"] = sku, subject+".quantity"
	}
	for from, to := range map[string]string{"requested": "requested", "returnable": "returnable", "returnable_until": "returnableUntil",
		"window_days": "windowDays", "state": "orderState"} {
		if v := md[from]; v != "" {
			meta[to] = v
		}
	}
	msg := status.Convert(err).Message()
	return apierr.WithPreconditionFailure(apierr.New(codes.FailedPrecondition, reason, msg, meta),
		apierr.PreconditionViolation{Type: strings.TrimPrefix(reason.String(), "ERROR_REASON_"), Subject: subject, Description: msg}).Err()
}

// returnLineOf finds the request line returning order line lineID: its
// index and SKU (-1 when the order cannot be read again).
func (s *Server) returnLineOf(ctx context.Context, req *storefrontv1.CreateReturnRequest, lineID string) (int, string) {
	o, err := s.n.Orders.GetOrder(ctx, &orderv1.GetOrderRequest{Name: req.GetParent()})
	if err != nil {
		return -1, ""
	}
	for _, ol := range o.GetLines() {
		if ol.GetLineId() != lineID {
			continue
		}
		for i, l := range req.GetReturn().GetLines() {
			if l.GetSku() == ol.GetSku() {
				return i, ol.GetSku()
			}
		}
	}
	return -1, ""
}

// callerReturn resolves a storefront return name (orders/{order}/returns/{id})
// to the caller, its order and the return id, answering NOT_FOUND alike
// when the order is not the caller's, does not exist, or the id is
// malformed.
func (s *Server) callerReturn(ctx context.Context, name string) (auth.Principal, *orderv1.Order, string, error) {
	orderName, returnID, _ := strings.Cut(name, "/returns/")
	p, o, err := s.callerOrder(ctx, orderName)
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return auth.Principal{}, nil, "", errNotFound("return")
		}
		return auth.Principal{}, nil, "", err
	}
	if !orderIDPattern.MatchString(returnID) {
		return auth.Principal{}, nil, "", errNotFound("return")
	}
	return p, o, returnID, nil
}

// GetReturn implements storefrontv1.StorefrontServiceServer.
func (s *Server) GetReturn(ctx context.Context, req *storefrontv1.GetReturnRequest) (*storefrontv1.Return, error) {
	_, o, returnID, err := s.callerReturn(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := s.n.Orders.GetReturnAuthorization(ctx, &orderv1.GetReturnAuthorizationRequest{Name: o.GetName() + "/returnAuthorizations/" + returnID})
	switch {
	case status.Code(err) == codes.NotFound:
		return nil, errNotFound("return")
	case err != nil:
		return nil, s.dependencyError(ctx, neighbours.Order, err)
	}
	return returnToProto(r), nil
}

// listReturnsFilter is the storefront's ListReturns filter: state = and
// !=, create_time with <, <=, >, >=.
var listReturnsFilter = aip.Schema{
	{Name: "state", Kind: aip.KindEnum, Enum: storefrontv1.Return_State_value, EnumPrefix: "STATE_", Ops: []aip.Op{aip.OpEq, aip.OpNe}},
	{Name: "create_time", Kind: aip.KindTime, Ops: timeRange},
}

// ListReturns implements storefrontv1.StorefrontServiceServer. For
// `orders/-` a customer-bound key lists its customer's returns; a channel
// key lists returns whose orders belong to its channel. The state filter
// is applied to the storefront state of each return (several order
// service states map to one storefront state), so a page may hold fewer
// returns than page_size; the page token continues where it stopped.
func (s *Server) ListReturns(ctx context.Context, req *storefrontv1.ListReturnsRequest) (*storefrontv1.ListReturnsResponse, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := listReturnsFilter.Parse(req.GetFilter())
	if err != nil {
		return nil, err
	}
	oreq := &orderv1.ListReturnAuthorizationsRequest{PageSize: req.GetPageSize(), PageToken: req.GetPageToken()}
	var terms []aip.Term
	for _, op := range timeRange {
		if v, ok := f.Find("create_time", op); ok && (op == aip.OpGe || op == aip.OpLt) {
			terms = append(terms, aip.Term{Field: "create_time", Op: op, Value: v})
		}
	}
	all := req.GetParent() == "orders/-"
	if all {
		oreq.Parent = "orders/-"
		if p.CustomerBound() {
			terms = append(terms, filterEq("customer_id", p.CustomerID))
		}
	} else {
		o, err := s.visibleOrder(ctx, p, req.GetParent())
		if err != nil {
			return nil, err
		}
		oreq.Parent = o.GetName()
	}
	oreq.Filter = aip.Filter{Terms: terms}.String()
	resp, err := s.n.Orders.ListReturnAuthorizations(ctx, oreq)
	switch {
	case apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN):
		return nil, errInvalidPageToken()
	case err != nil:
		return nil, s.dependencyError(ctx, neighbours.Order, err)
	}
	out := &storefrontv1.ListReturnsResponse{NextPageToken: resp.GetNextPageToken()}
	visible := map[string]bool{}
	for _, r := range resp.GetReturnAuthorizations() {
		if all {
			ok, err := s.returnVisible(ctx, p, r, visible)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		sr := returnToProto(r)
		if !returnMatches(f, sr) {
			continue
		}
		out.Returns = append(out.Returns, sr)
	}
	return out, nil
}

// returnMatches applies the parts of the filter the order service cannot
// (storefront states, and create_time's <= and >).
func returnMatches(f aip.Filter, r *storefrontv1.Return) bool {
	if v, ok := f.Find("state", aip.OpEq); ok && int32(r.GetState()) != v.Enum {
		return false
	}
	if v, ok := f.Find("state", aip.OpNe); ok && int32(r.GetState()) == v.Enum {
		return false
	}
	ct := r.GetCreateTime().AsTime()
	if v, ok := f.Find("create_time", aip.OpLe); ok && ct.After(v.Time) {
		return false
	}
	if v, ok := f.Find("create_time", aip.OpGt); ok && !ct.After(v.Time) {
		return false
	}
	return true
}

// returnVisible checks (and memoizes per order) whether the return's order
// is visible to p: the same check as for a shipment, which names its
// order and customer the same way.
func (s *Server) returnVisible(ctx context.Context, p auth.Principal, r *orderv1.ReturnAuthorization, memo map[string]bool) (bool, error) {
	return s.shipmentVisible(ctx, p, &fulfillmentv1.Shipment{OrderId: r.GetOrderId(), CustomerId: r.GetCustomerId()}, memo)
}

// defaultReturnCancelReason is recorded when the buyer gives none.
const defaultReturnCancelReason = "withdrawn by the buyer"

// CancelReturn implements storefrontv1.StorefrontServiceServer: the buyer
// withdraws an authorized return whose goods have not been received. The
// return is scoped like GetReturn (not the caller's and does not exist
// answer alike); the order service closes it idempotently on request_id
// (REST: Idempotency-Key) with the caller's key as the actor.
func (s *Server) CancelReturn(ctx context.Context, req *storefrontv1.CancelReturnRequest) (*storefrontv1.Return, error) {
	p, o, returnID, err := s.callerReturn(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	reason := req.GetReason()
	if strings.TrimSpace(reason) == "" {
		reason = defaultReturnCancelReason
	}
	var header metadata.MD
	r, err := s.n.Orders.CancelReturnAuthorization(withActor(ctx, p), &orderv1.CancelReturnAuthorizationRequest{
		Name: o.GetName() + "/returnAuthorizations/" + returnID, RequestId: req.GetRequestId(), Reason: reason,
	}, grpc.Header(&header))
	if err == nil {
		if len(header.Get(MetadataReplayed)) > 0 {
			_ = grpc.SetHeader(ctx, metadata.Pairs(MetadataReplayed, "true"))
		}
		return returnToProto(r), nil
	}
	if e := idempotencyError(err); e != nil {
		return nil, e
	}
	switch {
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION):
		st := storefrontv1.Return_STATE_UNSPECIFIED
		if cur, gerr := s.n.Orders.GetReturnAuthorization(ctx, &orderv1.GetReturnAuthorizationRequest{
			Name: o.GetName() + "/returnAuthorizations/" + returnID}); gerr == nil {
			st = returnStateToProto(cur)
		}
		return nil, apierr.Error(codes.FailedPrecondition, storefrontv1.ErrorReason_ERROR_REASON_RETURN_NOT_CANCELLABLE,
			"the return can no longer be cancelled: only an authorized return whose goods have not been received can",
			map[string]string{"return": req.GetName(), "state": st.String()})
	case status.Code(err) == codes.NotFound:
		return nil, errNotFound("return")
	case status.Code(err) == codes.InvalidArgument:
		return nil, passInvalidArgument(err, "")
	}
	return nil, s.dependencyError(ctx, neighbours.Order, err)
}
