package grpcapi

import (
	"errors"
	"strings"
	"time"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// orderIDFromName returns the {order} of "orders/{order}" (the pattern is
// enforced by protovalidate).
func orderIDFromName(name string) string { return strings.TrimPrefix(name, "orders/") }

func createFromProto(r *orderv1.CreateOrderRequest, actor order.Actor, corr string) order.CreateParams {
	p := order.CreateParams{
		RequestID: r.GetRequestId(), IdempotencyScope: r.GetIdempotencyScope(), CustomerID: r.GetCustomerId(), Channel: r.GetChannel(),
		Currency: r.GetCurrencyCode(), ShipTo: orderpb.AddressFromProto(r.GetShipTo()),
		CustomerPONumber: r.GetCustomerPoNumber(), Notes: r.GetNotes(), Actor: actor, CorrelationID: corr,
		PromotionCodes: r.GetPromotionCodes(),
	}
	for _, l := range r.GetLines() {
		p.Lines = append(p.Lines, order.QuoteLine{SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	if et := r.GetExpectedTotal(); et != nil {
		p.HasExpectedTotal = true
		p.ExpectedTotalMinor = et.GetAmountMinor()
		p.ExpectedCurrency = et.GetCurrencyCode()
	}
	return p
}

func progressFromProto(r *orderv1.RecordShipmentProgressRequest, actor order.Actor, corr string) order.ProgressParams {
	p := order.ProgressParams{
		OrderID: orderIDFromName(r.GetName()), EventID: r.GetEventId(), ShipmentID: r.GetShipmentId(),
		FulfillmentRequestID: r.GetFulfillmentRequestId(), WarehouseID: r.GetWarehouseId(),
		Milestone: order.Milestone(r.GetMilestone()), TrackingNumber: r.GetTrackingNumber(),
		OccurredAt: r.GetOccurTime().AsTime(), Actor: actor, CorrelationID: corr,
	}
	for _, l := range r.GetLines() {
		p.Lines = append(p.Lines, order.ShipmentLine{LineID: l.GetLineId(), Quantity: l.GetQuantity()})
	}
	return p
}

// timeOps are the comparisons the time fields of a filter allow.
var timeOps = []aip.Op{aip.OpLt, aip.OpLe, aip.OpGt, aip.OpGe}

// listFilter declares the fields ListOrders filters on (order.v1
// ListOrdersRequest.filter, and what the storefront's filter promises).
var listFilter = aip.Schema{
	{Name: "customer_id"},
	{Name: "channel"},
	{Name: "state", Kind: aip.KindEnum, Enum: orderv1.Order_State_value, EnumPrefix: "STATE_", Ops: []aip.Op{aip.OpEq, aip.OpNe}},
	{Name: "purchase_order_number", Check: func(t aip.Term) error {
		// An empty value would read as "no filter" and list every order.
		if t.Value.Text == "" {
			return errors.New("purchase_order_number must not be empty")
		}
		return nil
	}},
	{Name: "create_time", Kind: aip.KindTime, Ops: timeOps},
	{Name: "update_time", Kind: aip.KindTime, Ops: timeOps},
}

// listOrderBy maps the accepted ListOrders order_by values to their
// canonical form (the one page tokens are bound to).
var listOrderBy = map[string]string{
	"":                 "create_time desc",
	"create_time desc": "create_time desc",
	"create_time asc":  "create_time",
	"create_time":      "create_time",
	"update_time desc": "update_time desc",
	"update_time asc":  "update_time",
	"update_time":      "update_time",
}

// listQuery is a parsed ListOrders request.
type listQuery struct {
	order.ListQuery
	// size is the page size; ListQuery.Limit asks for one more row, which
	// tells whether there is a next page.
	size int
	// page is the query the page tokens are bound to.
	page aip.Query
}

// listFromProto parses the filter and order_by and decodes the page token
// of a ListOrders request made by caller (errors are *aip.FilterError,
// *aip.PageTokenError and *order.InvalidArgumentError for order_by).
func listFromProto(r *orderv1.ListOrdersRequest, caller string) (listQuery, error) {
	f, err := listFilter.Parse(r.GetFilter())
	if err != nil {
		return listQuery{}, err
	}
	var q listQuery
	if v, ok := f.Find("customer_id", aip.OpEq); ok {
		q.CustomerID = v.Text
	}
	if v, ok := f.Find("channel", aip.OpEq); ok {
		q.Channel = v.Text
	}
	if v, ok := f.Find("state", aip.OpEq); ok {
		q.State = orderpb.StateFromProto(orderv1.Order_State(v.Enum))
	}
	if v, ok := f.Find("state", aip.OpNe); ok {
		q.NotState = orderpb.StateFromProto(orderv1.Order_State(v.Enum))
	}
	if v, ok := f.Find("purchase_order_number", aip.OpEq); ok {
		q.PurchaseOrderNumber = v.Text
	}
	q.Created = timeBounds(f, "create_time")
	q.Updated = timeBounds(f, "update_time")
	orderBy, ok := listOrderBy[strings.Join(strings.Fields(r.GetOrderBy()), " ")]
	if !ok {
		return listQuery{}, &order.InvalidArgumentError{Field: "order_by",
			Message: "use create_time desc (the default), create_time, update_time desc or update_time"}
	}
	q.ByUpdateTime = strings.HasPrefix(orderBy, "update_time")
	q.Ascending = !strings.HasSuffix(orderBy, " desc")
	q.page = aip.Query{Method: orderv1.OrderService_ListOrders_FullMethodName, Caller: caller, Filter: f.String(), OrderBy: orderBy}
	q.size, q.Limit, err = pageWindow(r.GetPageToken(), r.GetPageSize(), q.page, &q.AfterTime, &q.AfterID)
	return q, err
}

// timeBounds collects the comparisons of a parsed filter on the time
// field.
func timeBounds(f aip.Filter, field string) order.TimeBounds {
	var b order.TimeBounds
	for op, dst := range map[aip.Op]*time.Time{aip.OpGe: &b.From, aip.OpGt: &b.After, aip.OpLt: &b.Before, aip.OpLe: &b.Through} {
		if v, ok := f.Find(field, op); ok {
			*dst = v.Time
		}
	}
	return b
}

// pageWindow decodes a page token bound to page into the cursor fields
// and returns the page size and the row limit to fetch (one more, which
// tells whether there is a next page).
func pageWindow(token string, pageSize int32, page aip.Query, cursor ...any) (size, limit int, err error) {
	if err := aip.DecodePageToken(token, page, cursor...); err != nil {
		return 0, 0, err
	}
	size = int(aip.ClampPageSize(pageSize, aip.DefaultPageSize, aip.MaxPageSize))
	return size, size + 1, nil
}

// listPage keeps the first q.size of orders (fetched with q.Limit) and
// returns the token of the next page, "" on the last.
func listPage(q listQuery, orders []*order.Order) ([]*order.Order, string) {
	return aip.KeysetPage(orders, q.size, q.page, func(o *order.Order) []aip.Key {
		at := o.CreatedAt
		if q.ByUpdateTime {
			at = o.UpdatedAt
		}
		return []aip.Key{aip.KeyOf(at), aip.KeyOf(o.ID)}
	})
}

// queueEntryIDFromName returns the {erp_queue_entry} (the order id) of
// "erpQueueEntries/{erp_queue_entry}" (the pattern is enforced by
// protovalidate).
func queueEntryIDFromName(name string) string { return strings.TrimPrefix(name, "erpQueueEntries/") }

// queueFilter declares the fields ListErpQueueEntries filters on (order.v1
// ListErpQueueEntriesRequest.filter).
var queueFilter = aip.Schema{
	{Name: "state", Kind: aip.KindEnum, Enum: orderv1.ErpQueueEntry_State_value, EnumPrefix: "STATE_"},
	{Name: "customer_id"},
	{Name: "enqueue_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpGe, aip.OpLt}},
}

// queueListQuery is a parsed ListErpQueueEntries request.
type queueListQuery struct {
	order.QueueQuery
	// size is the page size; QueueQuery.Limit asks for one more row.
	size int
	// page is the query the page tokens are bound to.
	page aip.Query
}

// queueListFromProto parses the filter and decodes the page token of a
// ListErpQueueEntries request made by caller (errors are *aip.FilterError
// and *aip.PageTokenError).
func queueListFromProto(r *orderv1.ListErpQueueEntriesRequest, caller string) (queueListQuery, error) {
	f, err := queueFilter.Parse(r.GetFilter())
	if err != nil {
		return queueListQuery{}, err
	}
	var q queueListQuery
	if v, ok := f.Find("state", aip.OpEq); ok {
		q.State = orderpb.QueueEntryStateFromProto(orderv1.ErpQueueEntry_State(v.Enum))
	}
	if v, ok := f.Find("customer_id", aip.OpEq); ok {
		q.CustomerID = v.Text
	}
	if v, ok := f.Find("enqueue_time", aip.OpGe); ok {
		q.EnqueuedFrom = v.Time
	}
	if v, ok := f.Find("enqueue_time", aip.OpLt); ok {
		q.EnqueuedBefore = v.Time
	}
	q.page = aip.Query{Method: orderv1.OrderService_ListErpQueueEntries_FullMethodName, Caller: caller, Filter: f.String()}
	q.size, q.Limit, err = pageWindow(r.GetPageToken(), r.GetPageSize(), q.page, &q.AfterSeq)
	return q, err
}

// queueListPage keeps the first q.size of entries (fetched with q.Limit)
// and returns the token of the next page, "" on the last.
func queueListPage(q queueListQuery, entries []order.QueueEntry) ([]order.QueueEntry, string) {
	return aip.KeysetPage(entries, q.size, q.page, func(e order.QueueEntry) []aip.Key {
		return []aip.Key{aip.KeyOf(e.Seq)}
	})
}
