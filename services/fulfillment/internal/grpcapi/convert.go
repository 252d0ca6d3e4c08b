package grpcapi

import (
	"context"
	"strings"
	"time"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// caller returns who makes the call, as the gateway names it in the
// opsevents.ActorHeader, or the service def when the call names nobody.
func caller(ctx context.Context, def string) fulfillment.Actor {
	a := opsevents.ActorFromIncoming(ctx, opsevents.Service(def))
	return fulfillment.Actor{Kind: a.Kind, ID: a.ID}
}

// parseParent returns the order id of "orders/{order}" ("" for "orders/-").
// The shape is enforced by protovalidate.
func parseParent(parent string) string {
	order := strings.TrimPrefix(parent, "orders/")
	if order == "-" {
		return ""
	}
	return order
}

// parseName splits "orders/{order}/{collection}/{id}"; order is "" for "-".
func parseName(name string) (order, id string) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 {
		return "", ""
	}
	order, id = parts[1], parts[3]
	if order == "-" {
		order = ""
	}
	return order, id
}

// The filters of the lists, as the proto documents them.
var (
	requestSchema = aip.Schema{
		{Name: "state", Kind: aip.KindEnum, Enum: fulfillmentv1.FulfillmentRequest_State_value, EnumPrefix: "STATE_"},
		{Name: "warehouse_id"},
		{Name: "customer_id"},
		{Name: "create_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpGe, aip.OpLt}},
	}
	shipmentSchema = aip.Schema{
		{Name: "state", Kind: aip.KindEnum, Enum: fulfillmentv1.Shipment_State_value, EnumPrefix: "STATE_"},
		{Name: "warehouse_id"},
		{Name: "customer_id"},
		{Name: "fulfillment_request_id"},
		{Name: "tracking_number"},
		{Name: "update_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpGe, aip.OpLt}},
	}
	receiptSchema = aip.Schema{
		{Name: "return_authorization_id"},
		{Name: "warehouse_id"},
		{Name: "customer_id"},
		{Name: "receive_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpGe, aip.OpLt}},
	}
)

// listRequest is what every list request carries.
type listRequest interface {
	GetParent() string
	GetPageSize() int32
	GetPageToken() string
	GetFilter() string
	GetOrderBy() string
}

// list is a list request read: its filter, the query its page tokens are
// bound to, and the page it asks for (Limit is one more than the page
// size, so KeysetPage sees whether a next page exists).
type list struct {
	filter aip.Filter
	query  aip.Query
	page   fulfillment.Page
}

// size is the number of items on the page.
func (l list) size() int { return l.page.Limit - 1 }

// readList parses req's filter with schema and decodes its page token,
// bound to method and the request's parent, filter and ordering. Errors
// are *aip.FilterError and *aip.PageTokenError.
func readList(method string, schema aip.Schema, req listRequest) (list, error) {
	f, err := schema.Parse(req.GetFilter())
	if err != nil {
		return list{}, err
	}
	l := list{
		filter: f,
		query:  aip.Query{Method: method, Filter: req.GetFilter(), OrderBy: req.GetOrderBy(), Params: []string{req.GetParent()}},
		page: fulfillment.Page{
			Limit: int(aip.ClampPageSize(req.GetPageSize(), aip.DefaultPageSize, aip.MaxPageSize)) + 1,
			Desc:  strings.HasSuffix(req.GetOrderBy(), " desc"),
		},
	}
	if err := aip.DecodePageToken(req.GetPageToken(), l.query, &l.page.AfterTime, &l.page.AfterID); err != nil {
		return list{}, err
	}
	return l, nil
}

// text sets *dst to the value of the filter's `field = value` term, if any.
func (l list) text(field string, dst *string) {
	if v, ok := l.filter.Find(field, aip.OpEq); ok {
		*dst = v.Text
	}
}

// time sets *dst to the value of the filter's `field op value` term, if
// any.
func (l list) time(field string, op aip.Op, dst *time.Time) {
	if v, ok := l.filter.Find(field, op); ok {
		*dst = v.Time
	}
}

// enum returns the number of the filter's `field = NAME` term (0 without).
func (l list) enum(field string) int32 {
	v, _ := l.filter.Find(field, aip.OpEq)
	return v.Enum
}

func requestQueryFromProto(req *fulfillmentv1.ListFulfillmentRequestsRequest) (fulfillment.RequestQuery, list, error) {
	l, err := readList(fulfillmentv1.FulfillmentService_ListFulfillmentRequests_FullMethodName, requestSchema, req)
	if err != nil {
		return fulfillment.RequestQuery{}, list{}, err
	}
	q := fulfillment.RequestQuery{Page: l.page, OrderID: parseParent(req.GetParent()), State: fulfillment.RequestState(l.enum("state"))}
	l.text("warehouse_id", &q.WarehouseID)
	l.text("customer_id", &q.CustomerID)
	l.time("create_time", aip.OpGe, &q.CreatedFrom)
	l.time("create_time", aip.OpLt, &q.CreatedBefore)
	return q, l, nil
}

func shipmentQueryFromProto(req *fulfillmentv1.ListShipmentsRequest) (fulfillment.ShipmentQuery, list, error) {
	l, err := readList(fulfillmentv1.FulfillmentService_ListShipments_FullMethodName, shipmentSchema, req)
	if err != nil {
		return fulfillment.ShipmentQuery{}, list{}, err
	}
	q := fulfillment.ShipmentQuery{
		Page: l.page, OrderID: parseParent(req.GetParent()), State: fulfillment.ShipmentState(l.enum("state")),
		ByUpdateTime: strings.HasPrefix(req.GetOrderBy(), "update_time"),
	}
	l.text("warehouse_id", &q.WarehouseID)
	l.text("customer_id", &q.CustomerID)
	l.text("fulfillment_request_id", &q.RequestID)
	l.text("tracking_number", &q.TrackingNumber)
	l.time("update_time", aip.OpGe, &q.UpdatedFrom)
	l.time("update_time", aip.OpLt, &q.UpdatedBefore)
	return q, l, nil
}

// requestKey and shipmentKey are the keyset of a listed item: its sort
// time and id.
func requestKey(r *fulfillment.Request) []aip.Key {
	return []aip.Key{aip.KeyOf(r.CreateTime), aip.KeyOf(r.ID)}
}

func shipmentKey(byUpdateTime bool) func(*fulfillment.Shipment) []aip.Key {
	return func(s *fulfillment.Shipment) []aip.Key {
		if byUpdateTime {
			return []aip.Key{aip.KeyOf(s.UpdateTime), aip.KeyOf(s.ID)}
		}
		return []aip.Key{aip.KeyOf(s.CreateTime), aip.KeyOf(s.ID)}
	}
}

func receiptQueryFromProto(req *fulfillmentv1.ListReturnReceiptsRequest) (fulfillment.ReturnReceiptQuery, list, error) {
	l, err := readList(fulfillmentv1.FulfillmentService_ListReturnReceipts_FullMethodName, receiptSchema, req)
	if err != nil {
		return fulfillment.ReturnReceiptQuery{}, list{}, err
	}
	q := fulfillment.ReturnReceiptQuery{Page: l.page, OrderID: parseParent(req.GetParent())}
	l.text("return_authorization_id", &q.ReturnAuthorizationID)
	l.text("warehouse_id", &q.WarehouseID)
	l.text("customer_id", &q.CustomerID)
	l.time("receive_time", aip.OpGe, &q.ReceivedFrom)
	l.time("receive_time", aip.OpLt, &q.ReceivedBefore)
	return q, l, nil
}

func receiptKey(r *fulfillment.ReturnReceipt) []aip.Key {
	return []aip.Key{aip.KeyOf(r.ReceiveTime), aip.KeyOf(r.ID)}
}
