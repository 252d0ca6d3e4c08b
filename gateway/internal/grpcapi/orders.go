package grpcapi

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/opsevents"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/neighbours"
)

// MetadataReplayed is the response header metadata key CreateOrder sets on
// an idempotent replay; REST serves it as `Idempotent-Replayed: true`.
const MetadataReplayed = "idempotent-replayed"

// withActor tells the order service which API key acts ("api_key:<key
// id>", its digest id, never the key), recorded in the order's state
// history and the audit trail.
func withActor(ctx context.Context, p auth.Principal) context.Context {
	return opsevents.AppendActor(ctx, opsevents.Actor{Kind: opsevents.ActorAPIKey, ID: p.KeyID})
}

// defaultCancelReason is recorded when the buyer gives none.
const defaultCancelReason = "cancelled by the buyer"

var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CreateOrder implements storefrontv1.StorefrontServiceServer: the channel
// comes from the API key, the customer from the key (bound keys) or the
// request (channel keys), and the order service does the rest idempotently
// on request_id, scoped by the key's principal (its channel and customer
// binding, sent as idempotency_scope).
func (s *Server) CreateOrder(ctx context.Context, req *storefrontv1.CreateOrderRequest) (*storefrontv1.Order, error) {
	o := req.GetOrder()
	p, customer, err := s.callerFor(ctx, o.GetCustomerId())
	if err != nil {
		return nil, err
	}
	if customer == "" {
		return nil, errCustomerRequired("order.customer_id")
	}
	if err := s.checkCurrency("order.currency_code", o.GetCurrencyCode()); err != nil {
		return nil, err
	}
	if err := s.chargeOrder(customer); err != nil {
		return nil, err
	}
	oreq := &orderv1.CreateOrderRequest{
		RequestId:        req.GetRequestId(),
		IdempotencyScope: p.CustomerID, // the key's principal: channel and customer binding
		CustomerId:       customer,
		Channel:          p.Channel,
		CurrencyCode:     o.GetCurrencyCode(),
		ShipTo:           o.GetShipTo(),
		CustomerPoNumber: o.GetPurchaseOrderNumber(),
		Notes:            o.GetNote(),
		PromotionCodes:   o.GetPromotionCodes(),
	}
	expected := map[string]*commonv1.Money{}
	for _, l := range o.GetLines() {
		oreq.Lines = append(oreq.Lines, &orderv1.CreateOrderRequest_Line{Sku: l.GetSku(), Quantity: l.GetQuantity()})
		if l.GetExpectedUnitPrice() != nil {
			expected[l.GetSku()] = l.GetExpectedUnitPrice()
		}
	}
	resp, err := s.n.Orders.CreateOrder(withActor(ctx, p), oreq)
	s.invalidateStock(orderSKUs(oreq.GetLines()))
	if err != nil {
		return nil, s.createOrderError(ctx, req, err)
	}
	if resp.GetReplayed() {
		// Fails only when headers already went out, which nothing before
		// this point does.
		_ = grpc.SetHeader(ctx, metadata.Pairs(MetadataReplayed, "true"))
	}
	return orderToProto(resp.GetOrder(), expected), nil
}

// orderSKUs returns the SKUs of order lines (anything with GetSku).
func orderSKUs[L interface{ GetSku() string }](lines []L) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, l.GetSku())
	}
	return out
}

// lineIndex finds the request line of sku (first occurrence, or the
// occurrence after the first when second is set), -1 when absent.
func lineIndex(req *storefrontv1.CreateOrderRequest, sku string, second bool) int {
	found := false
	for i, l := range req.GetOrder().GetLines() {
		if l.GetSku() != sku {
			continue
		}
		if !second || found {
			return i
		}
		found = true
	}
	return -1
}

func lineField(i int, leaf string) string {
	if i < 0 {
		return "order.lines"
	}
	return fmt.Sprintf("order.lines[%d].%s", i, leaf)
}

// orderFieldPrefixes maps order.v1 request field paths to the storefront's.
var orderFieldPrefixes = []struct{ from, to string }{
	{"customer_po_number", "order.purchase_order_number"},
	{"notes", "order.note"},
	{"request_id", "request_id"},
	{"", "order."},
}

func storefrontOrderField(f string) string {
	for _, m := range orderFieldPrefixes {
		if m.from != "" && strings.HasPrefix(f, m.from) {
			return m.to + strings.TrimPrefix(f, m.from)
		}
	}
	return "order." + f
}

// idempotencyError maps the cross-cutting idempotency reasons shared by
// every order mutation; it returns nil for other errors.
func idempotencyError(err error) error {
	switch {
	case apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED):
		// ALREADY_EXISTS (HTTP 409) like the order service: the key names a
		// request that already exists with another payload.
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"this Idempotency-Key was already used with a different request", nil)
	case apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS):
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS,
			"a request with this Idempotency-Key is still being processed; retry later", nil)
	case apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION):
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION,
			"the order changed concurrently; read it again and retry", nil)
	}
	return nil
}

// createOrderError maps the order service's CreateOrder errors to the
// storefront contract.
func (s *Server) createOrderError(ctx context.Context, req *storefrontv1.CreateOrderRequest, err error) error {
	if e := idempotencyError(err); e != nil {
		return e
	}
	md := apierr.Info(err).GetMetadata()
	sku := md["sku"]
	switch {
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK):
		return outOfStockError(req, err, md)
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_PROMOTION_LIMIT_REACHED):
		meta := map[string]string{"perCustomer": md["per_customer"]}
		for k, v := range map[string]string{"promotion": md["promotion"], "code": md["code"]} {
			if v != "" {
				meta[k] = v
			}
		}
		return apierr.Error(codes.FailedPrecondition, storefrontv1.ErrorReason_ERROR_REASON_PROMOTION_LIMIT_REACHED,
			"a promotion of the order has reached its usage limit", meta)
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD):
		return apierr.Error(codes.FailedPrecondition, storefrontv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD,
			"the customer account is on credit hold", map[string]string{"customerId": md["customer_id"]})
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_CREDIT_LIMIT_EXCEEDED):
		return apierr.Error(codes.FailedPrecondition, storefrontv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD,
			"the order would exceed the customer's credit limit", map[string]string{"customerId": md["customer_id"]})
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND):
		return invalidField(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "order.customer_id", "unknown customer", nil)
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU):
		i := lineIndex(req, sku, false)
		if n, perr := strconv.Atoi(md["line_index"]); perr == nil && n >= 0 && n < len(req.GetOrder().GetLines()) {
			i = n
		}
		return invalidField(storefrontv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU, lineField(i, "sku"),
			"SKU "+sku+" is not in the catalog or not sold in this channel", map[string]string{"sku": sku})
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_PRICE_UNAVAILABLE):
		if status.Code(err) == codes.FailedPrecondition {
			return apierr.Error(codes.FailedPrecondition, storefrontv1.ErrorReason_ERROR_REASON_PRICE_NOT_FOUND,
				"no price for SKU "+sku, map[string]string{"sku": sku, "currencyCode": md["currency_code"]})
		}
		return s.dependencyError(ctx, neighbours.Pricing, status.Error(codes.Unavailable, "pricing unavailable"))
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_CURRENCY_NOT_ALLOWED):
		cur := req.GetOrder().GetCurrencyCode()
		return invalidField(storefrontv1.ErrorReason_ERROR_REASON_CURRENCY_MISMATCH, "order.currency_code",
			"the customer cannot order in "+cur, map[string]string{"currencyCode": cur})
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_DUPLICATE_SKU):
		return invalidField(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, lineField(lineIndex(req, sku, true), "sku"),
			"SKU "+sku+" appears on more than one line", map[string]string{"sku": sku})
	case status.Code(err) == codes.PermissionDenied:
		return apierr.Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
			"the customer may not order in this channel", map[string]string{"customerId": md["customer_id"], "channel": md["channel"]})
	case status.Code(err) == codes.InvalidArgument && quantityViolation(err) != "":
		f := quantityViolation(err)
		return invalidField(storefrontv1.ErrorReason_ERROR_REASON_QUANTITY_NOT_ORDERABLE, storefrontOrderField(f),
			"the quantity is not a multiple of the product's order multiple", nil)
	case status.Code(err) == codes.InvalidArgument:
		vs := apierr.FieldViolations(err)
		for i := range vs {
			vs[i].Field = storefrontOrderField(vs[i].Field)
		}
		if len(vs) == 0 {
			vs = []apierr.FieldViolation{{Field: "order", Description: "invalid order"}}
		}
		return apierr.InvalidArgument("request is invalid", vs...)
	}
	return s.dependencyError(ctx, neighbours.Order, err)
}

// quantityViolation returns the field of a pack-multiple violation, if any.
func quantityViolation(err error) string {
	for _, v := range apierr.FieldViolations(err) {
		if v.Reason == "QUANTITY_NOT_PACK_MULTIPLE" {
			return v.Field
		}
	}
	return ""
}

// violationOutOfStock is the PreconditionFailure type of a short line.
const violationOutOfStock = "OUT_OF_STOCK"

// outOfStockError is FAILED_PRECONDITION/OUT_OF_STOCK with the first short
// line in the ErrorInfo and every short line in a PreconditionFailure.
func outOfStockError(req *storefrontv1.CreateOrderRequest, err error, md map[string]string) error {
	vs := apierr.PreconditionViolations(err)
	for i := range vs {
		vs[i].Type = violationOutOfStock
	}
	sku := md["sku"]
	if len(vs) == 0 {
		vs = []apierr.PreconditionViolation{{
			Type: violationOutOfStock, Subject: sku,
			Description: fmt.Sprintf("requested %s, available %s", md["requested"], md["available"]),
		}}
	}
	meta := map[string]string{"sku": sku, "requested": md["requested"], "available": md["available"]}
	if i := lineIndex(req, sku, false); i >= 0 {
		meta["lineIndex"] = strconv.Itoa(i)
		meta["field"] = lineField(i, "quantity")
	}
	msg := "insufficient stock for 1 line"
	if n := len(vs); n > 1 {
		msg = fmt.Sprintf("insufficient stock for %d lines", n)
	}
	return apierr.WithPreconditionFailure(
		apierr.New(codes.FailedPrecondition, storefrontv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK, msg, meta), vs...).Err()
}

// visibleOrder reads an order and checks that the caller may see it: same
// channel and, for customer-bound keys, same customer. Anything else is the
// same NOT_FOUND as a missing order.
func (s *Server) visibleOrder(ctx context.Context, p auth.Principal, name string) (*orderv1.Order, error) {
	id := strings.TrimPrefix(name, "orders/")
	if !orderIDPattern.MatchString(id) {
		return nil, errNotFound("order")
	}
	o, err := s.n.Orders.GetOrder(ctx, &orderv1.GetOrderRequest{Name: "orders/" + id})
	switch {
	case status.Code(err) == codes.NotFound:
		return nil, errNotFound("order")
	case err != nil:
		return nil, s.dependencyError(ctx, neighbours.Order, err)
	case !orderVisible(p, o):
		return nil, errNotFound("order")
	}
	return o, nil
}

func orderVisible(p auth.Principal, o *orderv1.Order) bool {
	if o.GetChannel() != p.Channel {
		return false
	}
	return !p.CustomerBound() || o.GetCustomerId() == p.CustomerID
}

// callerOrder returns the caller and the order name names, read by
// visibleOrder.
func (s *Server) callerOrder(ctx context.Context, name string) (auth.Principal, *orderv1.Order, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return auth.Principal{}, nil, err
	}
	o, err := s.visibleOrder(ctx, p, name)
	return p, o, err
}

// GetOrder implements storefrontv1.StorefrontServiceServer.
func (s *Server) GetOrder(ctx context.Context, req *storefrontv1.GetOrderRequest) (*storefrontv1.Order, error) {
	_, o, err := s.callerOrder(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return orderToProto(o, nil), nil
}

// timeRange are the comparisons a time field of a list filter takes.
var timeRange = []aip.Op{aip.OpLt, aip.OpLe, aip.OpGt, aip.OpGe}

// listOrdersFilter is the storefront's ListOrders filter, as its contract
// comment lists it: state = and !=, customer_id = (channel keys; a bound
// key may only name its own customer), purchase_order_number =,
// create_time and update_time with <, <=, >, >=.
var listOrdersFilter = aip.Schema{
	{Name: "state", Kind: aip.KindEnum, Enum: storefrontv1.Order_State_value, Ops: []aip.Op{aip.OpEq, aip.OpNe}, Check: func(t aip.Term) error {
		if orderStateFilterValue(storefrontv1.Order_State(t.Value.Enum)) == "" {
			return fmt.Errorf("no order is ever in state %s", t.Value.Text)
		}
		return nil
	}},
	{Name: "customer_id"},
	{Name: "purchase_order_number"},
	{Name: "create_time", Kind: aip.KindTime, Ops: timeRange},
	{Name: "update_time", Kind: aip.KindTime, Ops: timeRange},
}

// orderFilter translates a storefront ListOrders filter into the order
// service's, always scoped to the caller's channel and (bound keys)
// customer. Its errors are the filter's (*aip.FilterError) or
// CUSTOMER_MISMATCH.
func orderFilter(p auth.Principal, filter string) (string, error) {
	f, err := listOrdersFilter.Parse(filter)
	if err != nil {
		return "", err
	}
	out := aip.Filter{Terms: []aip.Term{filterEq("channel", p.Channel)}}
	customer := p.CustomerID
	for _, t := range f.Terms {
		switch t.Field {
		case "state":
			out.Terms = append(out.Terms, aip.Term{Field: "state", Op: t.Op,
				Value: aip.Value{Text: orderStateFilterValue(storefrontv1.Order_State(t.Value.Enum))}})
		case "purchase_order_number":
			out.Terms = append(out.Terms, filterEq(t.Field, t.Value.Text))
		case "customer_id":
			if p.CustomerBound() && t.Value.Text != p.CustomerID {
				return "", errCustomerMismatch(t.Value.Text)
			}
			customer = t.Value.Text
		case "create_time", "update_time":
			out.Terms = append(out.Terms, aip.Term{Field: t.Field, Op: t.Op, Value: aip.Value{Text: t.Value.Text, Quoted: true}})
		}
	}
	if customer != "" {
		out.Terms = append(out.Terms, filterEq("customer_id", customer))
	}
	return out.String(), nil
}

// ListOrders implements storefrontv1.StorefrontServiceServer.
func (s *Server) ListOrders(ctx context.Context, req *storefrontv1.ListOrdersRequest) (*storefrontv1.ListOrdersResponse, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	filter, err := orderFilter(p, req.GetFilter())
	if err != nil {
		return nil, err
	}
	resp, err := s.n.Orders.ListOrders(ctx, &orderv1.ListOrdersRequest{
		PageSize: req.GetPageSize(), PageToken: req.GetPageToken(), Filter: filter, OrderBy: req.GetOrderBy(),
	})
	switch {
	case apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN):
		return nil, errInvalidPageToken()
	case status.Code(err) == codes.InvalidArgument && len(apierr.FieldViolations(err)) > 0:
		// The order service names the field (filter or order_by); the
		// storefront request's fields have the same names.
		return nil, passInvalidArgument(err, "")
	case status.Code(err) == codes.InvalidArgument:
		return nil, invalidField(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "filter", "the filter is not valid", nil)
	case err != nil:
		return nil, s.dependencyError(ctx, neighbours.Order, err)
	}
	out := &storefrontv1.ListOrdersResponse{NextPageToken: resp.GetNextPageToken()}
	for _, o := range resp.GetOrders() {
		if orderVisible(p, o) { // defence in depth: the filter already scopes
			out.Orders = append(out.Orders, orderToProto(o, nil))
		}
	}
	return out, nil
}

// MetadataIfMatch carries a caller's If-Match (REST forwards the header as
// this metadata; gRPC callers may send it themselves).
const MetadataIfMatch = "if-match"

// ifMatch returns the strong entity tag the caller's If-Match names, without
// its quotes, for the order service to compare in the same transaction as
// the change (the REST side's own check before the call is not atomic). A
// weak tag, "*" or a list names no single strong tag and gives "".
func ifMatch(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(MetadataIfMatch)
	if len(v) != 1 {
		return ""
	}
	tag := strings.TrimSpace(v[0])
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.Contains(tag[1:len(tag)-1], `"`) {
		return ""
	}
	return tag[1 : len(tag)-1]
}

// CancelOrder implements storefrontv1.StorefrontServiceServer.
func (s *Server) CancelOrder(ctx context.Context, req *storefrontv1.CancelOrderRequest) (*storefrontv1.Order, error) {
	p, o, err := s.callerOrder(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	reason := req.GetReason()
	if strings.TrimSpace(reason) == "" {
		reason = defaultCancelReason
	}
	out, err := s.n.Orders.CancelOrder(withActor(ctx, p), &orderv1.CancelOrderRequest{
		Name: o.GetName(), RequestId: req.GetRequestId(), Reason: reason, Etag: ifMatch(ctx),
	})
	s.invalidateStock(orderSKUs(o.GetLines()))
	if err == nil {
		return orderToProto(out, nil), nil
	}
	if e := idempotencyError(err); e != nil {
		return nil, e
	}
	switch {
	case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_CANCELLABLE):
		st := apierr.Info(err).GetMetadata()["state"]
		if st == "" {
			st = o.GetState().String()
		}
		return nil, apierr.Error(codes.FailedPrecondition, storefrontv1.ErrorReason_ERROR_REASON_ORDER_NOT_CANCELLABLE,
			"the order can no longer be cancelled", map[string]string{"order": o.GetName(), "state": st})
	case status.Code(err) == codes.NotFound:
		return nil, errNotFound("order")
	case status.Code(err) == codes.InvalidArgument:
		return nil, passInvalidArgument(err, "")
	}
	return nil, s.dependencyError(ctx, neighbours.Order, err)
}
