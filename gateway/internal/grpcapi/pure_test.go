package grpcapi

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"

	"github.com/transload/transload/gateway/internal/auth"
)

func wh(code string, avail, inbound int64, next *date.Date) *inventoryv1.WarehouseAvailability {
	return &inventoryv1.WarehouseAvailability{WarehouseCode: code, Available: avail, InboundTotal: inbound, NextInboundDate: next}
}

func TestPromise(t *testing.T) {
	t.Parallel()
	monday := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	d := func(y, m, dd int32) *date.Date { return &date.Date{Year: y, Month: m, Day: dd} }
	stock := &inventoryv1.SkuAvailability{TotalAvailable: 10, TotalInbound: 50, Warehouses: []*inventoryv1.WarehouseAvailability{
		wh("WH-HAM", 4, 0, nil), wh("WH-MUC", 0, 50, d(2026, 12, 3)), wh("WH-BER", 6, 0, nil),
	}}
	for name, tc := range map[string]struct {
		qty   int64
		stock *inventoryv1.SkuAvailability
		want  *storefrontv1.DeliveryPromise
	}{
		"in stock from the first warehouse": {3, stock, &storefrontv1.DeliveryPromise{
			Status: storefrontv1.DeliveryPromise_STATUS_IN_STOCK, ShipDate: d(2026, 11, 23), SourceWarehouses: []string{"WH-HAM"}}},
		"split across warehouses": {8, stock, &storefrontv1.DeliveryPromise{
			Status: storefrontv1.DeliveryPromise_STATUS_IN_STOCK, ShipDate: d(2026, 11, 23), SourceWarehouses: []string{"WH-HAM", "WH-BER"}}},
		"partial with inbound": {15, stock, &storefrontv1.DeliveryPromise{
			Status: storefrontv1.DeliveryPromise_STATUS_PARTIAL, ShipDate: d(2026, 11, 23), SourceWarehouses: []string{"WH-HAM", "WH-BER"},
			BackorderQuantity: 5, BackorderShipDate: d(2026, 12, 3)}},
		"backorder": {2, &inventoryv1.SkuAvailability{TotalInbound: 5, Warehouses: []*inventoryv1.WarehouseAvailability{wh("WH-MUC", 0, 5, d(2026, 12, 1))}},
			&storefrontv1.DeliveryPromise{Status: storefrontv1.DeliveryPromise_STATUS_BACKORDER, BackorderQuantity: 2, BackorderShipDate: d(2026, 12, 1)}},
		"unavailable": {1, &inventoryv1.SkuAvailability{}, &storefrontv1.DeliveryPromise{Status: storefrontv1.DeliveryPromise_STATUS_UNAVAILABLE}},
		"unknown sku": {1, nil, &storefrontv1.DeliveryPromise{Status: storefrontv1.DeliveryPromise_STATUS_UNAVAILABLE}},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, promise(tc.qty, tc.stock, monday), protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestShipDate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 23, 13, 59, 0, 0, time.UTC), "2026-11-23"}, // Monday before the cutoff
		{time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC), "2026-11-24"},  // at the cutoff
		{time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC), "2026-11-30"},  // Friday after the cutoff → Monday
		{time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), "2026-11-30"},   // Saturday
	} {
		d := shipDate(tc.now)
		if got := time.Date(int(d.Year), time.Month(d.Month), int(d.Day), 0, 0, 0, 0, time.UTC).Format(time.DateOnly); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.now, got, tc.want)
		}
	}
}

func TestOrderFilter(t *testing.T) {
	t.Parallel()
	channel := auth.Principal{Channel: "web"}
	bound := auth.Principal{Channel: "web", CustomerID: "C0001"}
	for name, tc := range map[string]struct {
		p      auth.Principal
		filter string
		want   string
		code   codes.Code
	}{
		"empty channel key":  {channel, "", `channel = "web"`, codes.OK},
		"empty bound key":    {bound, "", `channel = "web" AND customer_id = "C0001"`, codes.OK},
		"state and customer": {channel, `state = STATE_SHIPPED AND customer_id = "C0002"`, `channel = "web" AND state = SHIPPED AND customer_id = "C0002"`, codes.OK},
		"bare customer":      {channel, `customer_id = C0002`, `channel = "web" AND customer_id = "C0002"`, codes.OK},
		"quotes in values":   {channel, `customer_id = "C\"1\\"`, `channel = "web" AND customer_id = "C\"1\\"`, codes.OK},
		"time range":         {bound, `create_time >= "2026-01-01T00:00:00Z" AND create_time < "2026-02-01T00:00:00Z"`, `channel = "web" AND create_time >= "2026-01-01T00:00:00Z" AND create_time < "2026-02-01T00:00:00Z" AND customer_id = "C0001"`, codes.OK},
		"own customer":       {bound, `customer_id = "C0001"`, `channel = "web" AND customer_id = "C0001"`, codes.OK},
		"other customer":     {bound, `customer_id = "C0002"`, "", codes.PermissionDenied},
		"unknown state":      {channel, `state = STATE_LOST`, "", codes.InvalidArgument},
		"unsupported field":  {channel, `total_amount = "x"`, "", codes.InvalidArgument},
		"state not":          {channel, `state != STATE_CANCELLED`, `channel = "web" AND state != CANCELLED`, codes.OK},
		"purchase order":     {bound, `purchase_order_number = "PO-1"`, `channel = "web" AND purchase_order_number = "PO-1" AND customer_id = "C0001"`, codes.OK},
		"update time":        {channel, `update_time <= "2026-01-01T00:00:00Z" AND create_time > "2025-01-01T00:00:00Z"`, `channel = "web" AND update_time <= "2026-01-01T00:00:00Z" AND create_time > "2025-01-01T00:00:00Z"`, codes.OK},
		"garbage":            {channel, `((`, "", codes.InvalidArgument},
		"lower-case and":     {channel, `state = STATE_SHIPPED and customer_id = "C0002"`, "", codes.InvalidArgument},
		"state twice":        {channel, `state = STATE_SHIPPED AND state = STATE_DELIVERED`, "", codes.InvalidArgument},
		"not a time":         {channel, `create_time >= "yesterday"`, "", codes.InvalidArgument},
		"time operator":      {channel, `create_time = "2026-01-01T00:00:00Z"`, "", codes.InvalidArgument},
		"unspecified state":  {channel, `state = STATE_UNSPECIFIED`, "", codes.InvalidArgument},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := orderFilter(tc.p, tc.filter)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v, want %v (%v)", status.Code(err), tc.code, err)
			}
			if tc.code == codes.InvalidArgument {
				if vs := apierr.FieldViolations(err); len(vs) != 1 || vs[0].Field != "filter" || apierr.ReasonOf(err) != "ERROR_REASON_VALIDATION_FAILED" {
					t.Errorf("violations %v reason %q, want one on filter with VALIDATION_FAILED", vs, apierr.ReasonOf(err))
				}
			}
			if got != tc.want {
				t.Errorf("filter %q, want %q", got, tc.want)
			}
			if got != "" {
				// The order service parses it with the same grammar.
				if _, err := aip.ParseFilter(got); err != nil {
					t.Errorf("the order filter %q does not parse: %v", got, err)
				}
			}
		})
	}
}

func TestFillRequestID(t *testing.T) {
	t.Parallel()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(MetadataIdempotencyKey, "k-1"))
	req := &storefrontv1.CreateOrderRequest{}
	if err := fillRequestID(ctx, req); err != nil || req.GetRequestId() != "k-1" {
		t.Fatalf("fill: %q %v", req.GetRequestId(), err)
	}
	same := &storefrontv1.CancelOrderRequest{RequestId: "k-1"}
	if err := fillRequestID(ctx, same); err != nil {
		t.Errorf("equal ids: %v", err)
	}
	other := &storefrontv1.CancelOrderRequest{RequestId: "k-2"}
	if err := fillRequestID(ctx, other); status.Code(err) != codes.InvalidArgument {
		t.Errorf("differing ids: %v", err)
	}
	noField := &storefrontv1.GetOrderRequest{Name: "orders/x"}
	if err := fillRequestID(ctx, noField); err != nil || noField.GetName() != "orders/x" {
		t.Errorf("request without request_id: %v", err)
	}
	none := &storefrontv1.CreateOrderRequest{}
	if err := fillRequestID(context.Background(), none); err != nil || none.GetRequestId() != "" {
		t.Errorf("no metadata: %v %q", err, none.GetRequestId())
	}
}

func TestQuoteLineOtherRulesCheapestFirst(t *testing.T) {
	t.Parallel()
	eur := func(n int64) *commonv1.Money { return &commonv1.Money{AmountMinor: n, CurrencyCode: "EUR"} }
	l := &catalogv1.QuoteLine{
		UnitPrice: eur(800), ExtendedPrice: eur(1600), ListPrice: eur(1000),
		WinningRule: &catalogv1.PriceRule{Kind: catalogv1.RuleKind_RULE_KIND_PROMOTION, Rule: "promotions/p1"},
		Candidates: []*catalogv1.PriceCandidate{
			{Rule: &catalogv1.PriceRule{Rule: "channelRules/c"}, UnitPrice: eur(950), Outcome: catalogv1.PriceCandidate_OUTCOME_BEATEN},
			{Rule: &catalogv1.PriceRule{Rule: "customerContracts/k"}, UnitPrice: eur(900), Outcome: catalogv1.PriceCandidate_OUTCOME_BEATEN},
			{Rule: &catalogv1.PriceRule{Rule: "promotions/p2"}, Outcome: catalogv1.PriceCandidate_OUTCOME_NOT_APPLICABLE},
		},
	}
	got := quoteLineToProto("SKU-1", 2, l)
	if got.GetWinningRule().GetRuleKind() != storefrontv1.PriceExplanation_RULE_KIND_PROMOTION || got.GetWinningRule().GetListUnitPrice().GetAmountMinor() != 1000 {
		t.Errorf("winning rule %v", got.GetWinningRule())
	}
	if len(got.GetOtherRules()) != 2 || got.GetOtherRules()[0].GetRuleId() != "customerContracts/k" {
		t.Errorf("other rules %v", got.GetOtherRules())
	}
}

func TestOrderToProto(t *testing.T) {
	t.Parallel()
	eur := func(n int64) *commonv1.Money { return &commonv1.Money{AmountMinor: n, CurrencyCode: "EUR"} }
	o := &orderv1.Order{
		Name: "orders/O-1", OrderId: "O-1", CurrencyCode: "EUR", State: orderv1.Order_STATE_CANCELLED,
		Totals:       &orderv1.OrderTotals{Subtotal: eur(2000), Tax: eur(380)},
		Lines:        []*orderv1.OrderLine{{Sku: "A", Quantity: 2, UnitPrice: eur(1000), PriceRuleId: "customerContracts/C1"}},
		StateHistory: []*orderv1.OrderStateChange{{State: orderv1.Order_STATE_ACCEPTED_PENDING_ERP}, {State: orderv1.Order_STATE_CANCELLED, Reason: "no longer needed"}},
	}
	got := orderToProto(o, map[string]*commonv1.Money{"A": eur(1000)})
	if got.GetState() != storefrontv1.Order_STATE_CANCELLED || got.GetCancelReason() != "no longer needed" {
		t.Errorf("state %v reason %q", got.GetState(), got.GetCancelReason())
	}
	if got.GetTax() != nil || got.GetTotal().GetAmountMinor() != 2000 {
		t.Errorf("tax %v total %v: tax must stay unset before the ERP confirms", got.GetTax(), got.GetTotal())
	}
	l := got.GetLines()[0]
	if l.GetCancelledQuantity() != 2 || l.GetPriceChanged() || l.GetPriceExplanation().GetRuleKind() != storefrontv1.PriceExplanation_RULE_KIND_CUSTOMER_CONTRACT {
		t.Errorf("line %v", l)
	}
	o.State, o.ErpOrderReference = orderv1.Order_STATE_CONFIRMED, "SO-9"
	got = orderToProto(o, nil)
	if got.GetTax().GetAmountMinor() != 380 || got.GetTotal().GetAmountMinor() != 2380 || got.GetErpOrderNumber() != "SO-9" {
		t.Errorf("confirmed: tax %v total %v", got.GetTax(), got.GetTotal())
	}
}

// TestOrderStateParity fails when a state is added to order.v1 or
// storefront.v1 without a mapping between them: the storefront shows every
// order state, and a storefront state filter must name an order state.
func TestOrderStateParity(t *testing.T) {
	t.Parallel()
	for n, name := range orderv1.Order_State_name {
		if s := orderv1.Order_State(n); s != orderv1.Order_STATE_UNSPECIFIED && orderStateToProto(s) == storefrontv1.Order_STATE_UNSPECIFIED {
			t.Errorf("order state %s has no storefront state", name)
		}
	}
	for n, name := range storefrontv1.Order_State_name {
		if s := storefrontv1.Order_State(n); s != storefrontv1.Order_STATE_UNSPECIFIED && orderStateFilterValue(s) == "" {
			t.Errorf("storefront state %s has no order state to filter on", name)
		}
	}
	if err := listOrdersFilter.Validate(); err != nil {
		t.Errorf("ListOrders filter schema: %v", err)
	}
}

// TestRejectionAndRuleKindParity fails when order.v1 adds a rejection
// reason or catalog.v1 a rule kind that the storefront does not map.
func TestRejectionAndRuleKindParity(t *testing.T) {
	t.Parallel()
	for n, name := range orderv1.OrderRejection_Reason_name {
		r := orderv1.OrderRejection_Reason(n)
		if got := rejectionToProto(r); r != orderv1.OrderRejection_REASON_UNSPECIFIED &&
			(got == storefrontv1.Order_REJECTION_REASON_UNSPECIFIED || got == storefrontv1.Order_REJECTION_REASON_OTHER && r != orderv1.OrderRejection_REASON_OTHER) {
			t.Errorf("rejection reason %s maps to %v", name, got)
		}
	}
	for n, name := range catalogv1.RuleKind_name {
		if k := catalogv1.RuleKind(n); k != catalogv1.RuleKind_RULE_KIND_UNSPECIFIED && ruleKindToProto(k) == storefrontv1.PriceExplanation_RULE_KIND_UNSPECIFIED {
			t.Errorf("rule kind %s has no storefront rule kind", name)
		}
	}
}

func TestIfMatchNamesOneStrongTag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{nil, ""},
		{[]string{`"e1"`}, "e1"},
		{[]string{` "e1" `}, "e1"},
		{[]string{`W/"e1"`}, ""},
		{[]string{`*`}, ""},
		{[]string{`"e1", "e2"`}, ""},
		{[]string{`e1`}, ""},
		{[]string{`"e1"`, `"e2"`}, ""},
	} {
		md := metadata.MD{}
		for _, v := range tc.values {
			md.Append(MetadataIfMatch, v)
		}
		if got := ifMatch(metadata.NewIncomingContext(context.Background(), md)); got != tc.want {
			t.Errorf("If-Match %q: %q, want %q", tc.values, got, tc.want)
		}
	}
}
