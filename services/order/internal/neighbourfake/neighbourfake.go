// Package neighbourfake holds in-memory gRPC implementations of the order
// service's neighbours (ERP adapter, catalog-pricing, inventory) for
// component tests: they speak the real contracts over real gRPC (bufconn),
// record what they were asked, and can be switched down.
package neighbourfake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
)

// switchable is the lock and the availability switch of every fake: a fake
// that is down answers each call with UNAVAILABLE.
type switchable struct {
	mu   sync.Mutex
	down bool
}

// SetDown switches the fake's availability.
func (s *switchable) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// locked returns get() read under the fake's lock.
func locked[T any](s *switchable, get func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return get()
}

func unavailable(what string) error {
	return apierr.Error(codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE, what+" is down", nil)
}

// ERP is a fake ErpAdapterService.
type ERP struct {
	erpv1.UnimplementedErpAdapterServiceServer

	switchable
	customers map[string]*erpv1.Customer
	// reject makes SubmitSalesOrder reject orders of these customers.
	reject map[string]erpv1.SalesOrderRejectionReason
	// outcomes per order id (idempotency).
	outcomes    map[string]*erpv1.SubmitSalesOrderResponse
	accepted    []string
	submitCalls []string
	cancels     []string
	next        int
	// customerReads counts GetCustomer calls.
	customerReads int
	// fail makes SubmitSalesOrder of these customers fail with the code.
	fail map[string]codes.Code
	// delay, when set, is how long each SubmitSalesOrder and
	// CancelSalesOrder waits before it answers, outside the lock.
	delay func() time.Duration
	// calls logs per customer the queue calls ("submit:id", "cancel:id")
	// in the order they started; customerOf maps submitted order ids to
	// customers (for cancellations).
	calls      map[string][]string
	customerOf map[string]string
	// inFlight counts queue calls being answered, per customer and in
	// all; maxInFlight is the most at once; overlaps counts calls that
	// started while a call of the same customer was in flight.
	inFlight    map[string]int
	inFlightAll int
	maxInFlight int
	overlaps    int
}

// NewERP returns a fake ERP knowing customers C0001..C0010 (active, EUR,
// web and b2b) and C0020 (credit hold).
func NewERP() *ERP {
	e := &ERP{customers: map[string]*erpv1.Customer{}, reject: map[string]erpv1.SalesOrderRejectionReason{},
		outcomes: map[string]*erpv1.SubmitSalesOrderResponse{}, fail: map[string]codes.Code{},
		calls: map[string][]string{}, customerOf: map[string]string{}, inFlight: map[string]int{}}
	for i := 1; i <= 10; i++ {
		e.AddCustomer(fmt.Sprintf("C%04d", i), erpv1.Customer_ACCOUNT_STATE_ACTIVE)
	}
	e.AddCustomer("C0020", erpv1.Customer_ACCOUNT_STATE_CREDIT_HOLD)
	return e
}

// AddCustomer adds or replaces a customer with a 1,000,000.00 EUR limit.
func (e *ERP) AddCustomer(id string, state erpv1.Customer_AccountState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.customers[id] = &erpv1.Customer{
		Name: "customers/" + id, DisplayName: "Customer " + id, AccountState: state,
		CreditLimit:         &commonv1.Money{AmountMinor: 100_000_000, CurrencyCode: "EUR"},
		AvailableCredit:     &commonv1.Money{AmountMinor: 100_000_000, CurrencyCode: "EUR"},
		DefaultCurrencyCode: "EUR", AllowedChannels: []string{"web", "b2b"},
	}
}

// RejectCustomer makes submissions of the customer's orders rejected.
func (e *ERP) RejectCustomer(id string, r erpv1.SalesOrderRejectionReason) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reject[id] = r
}

// FailCustomer makes submissions of the customer's orders fail with code
// (codes.OK: succeed again).
func (e *ERP) FailCustomer(id string, code codes.Code) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if code == codes.OK {
		delete(e.fail, id)
		return
	}
	e.fail[id] = code
}

// SetDelay makes each SubmitSalesOrder and CancelSalesOrder wait delay()
// before it answers (nil: answer at once), without holding the fake's
// lock, so concurrent calls overlap.
func (e *ERP) SetDelay(delay func() time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.delay = delay
}

// CallsByCustomer returns per customer the submissions ("submit:<order
// id>") and cancellations ("cancel:<order id>") that reached the ERP while
// it was up, in the order they started.
func (e *ERP) CallsByCustomer() map[string][]string {
	return locked(&e.switchable, func() map[string][]string {
		out := make(map[string][]string, len(e.calls))
		for c, calls := range e.calls {
			out[c] = slices.Clone(calls)
		}
		return out
	})
}

// Concurrency returns the most submissions and cancellations that were
// being answered at once, and how many started while another call of the
// same customer was being answered.
func (e *ERP) Concurrency() (maxInFlight, sameCustomerOverlaps int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxInFlight, e.overlaps
}

// begin records the start of a queue call of customer (under e.mu) and
// returns the delay to wait outside the lock and the func that records
// its end.
func (e *ERP) begin(customer, call string) (time.Duration, func()) {
	e.calls[customer] = append(e.calls[customer], call)
	if e.inFlight[customer] > 0 {
		e.overlaps++
	}
	e.inFlight[customer]++
	e.inFlightAll++
	e.maxInFlight = max(e.maxInFlight, e.inFlightAll)
	var d time.Duration
	if e.delay != nil {
		d = e.delay()
	}
	return d, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.inFlight[customer]--
		e.inFlightAll--
	}
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Accepted returns the order ids the ERP created sales orders for, in
// creation order (each at most once by construction of the fake's
// idempotency).
func (e *ERP) Accepted() []string {
	return locked(&e.switchable, func() []string { return slices.Clone(e.accepted) })
}

// SubmitCalls returns the order id of every SubmitSalesOrder call that
// reached the ERP while it was up, duplicates included.
func (e *ERP) SubmitCalls() []string {
	return locked(&e.switchable, func() []string { return slices.Clone(e.submitCalls) })
}

// Cancels returns the cancelled order ids.
func (e *ERP) Cancels() []string {
	return locked(&e.switchable, func() []string { return slices.Clone(e.cancels) })
}

// CustomerReads returns how many GetCustomer calls arrived.
func (e *ERP) CustomerReads() int {
	return locked(&e.switchable, func() int { return e.customerReads })
}

// GetCustomer implements erpv1.ErpAdapterServiceServer.
func (e *ERP) GetCustomer(_ context.Context, r *erpv1.GetCustomerRequest) (*erpv1.Customer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.customerReads++
	if e.down {
		return nil, unavailable("erp")
	}
	c, ok := e.customers[strings.TrimPrefix(r.GetName(), "customers/")]
	if !ok {
		return nil, apierr.Error(codes.NotFound, erpv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND, "no such customer", nil)
	}
	return c, nil
}

// ListCustomers implements erpv1.ErpAdapterServiceServer: pages of two,
// ordered by name (all customers share one update time).
func (e *ERP) ListCustomers(_ context.Context, r *erpv1.ListCustomersRequest) (*erpv1.ListCustomersResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return nil, unavailable("erp")
	}
	q := aip.Query{Method: erpv1.ErpAdapterService_ListCustomers_FullMethodName}
	offset := 0
	if err := aip.DecodePageToken(r.GetPageToken(), q, &offset); err != nil {
		return nil, err
	}
	ids := slices.Sorted(maps.Keys(e.customers))
	page, next := aip.OffsetPage(ids, offset, 2, q)
	out := &erpv1.ListCustomersResponse{NextPageToken: next}
	for _, id := range page {
		out.Customers = append(out.Customers, e.customers[id])
	}
	return out, nil
}

// SubmitSalesOrder implements erpv1.ErpAdapterServiceServer.
func (e *ERP) SubmitSalesOrder(ctx context.Context, r *erpv1.SubmitSalesOrderRequest) (*erpv1.SubmitSalesOrderResponse, error) {
	e.mu.Lock()
	if e.down {
		e.mu.Unlock()
		return nil, unavailable("erp")
	}
	id, customer := r.GetSalesOrderId(), r.GetSalesOrder().GetCustomerId()
	e.customerOf[id] = customer
	d, end := e.begin(customer, "submit:"+id)
	e.mu.Unlock()
	defer end()
	pause(ctx, d)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.submitCalls = append(e.submitCalls, id)
	if code, ok := e.fail[customer]; ok {
		return nil, status.Error(code, "the fake ERP refuses orders of "+customer)
	}
	if prev, ok := e.outcomes[id]; ok {
		return &erpv1.SubmitSalesOrderResponse{Outcome: prev.GetOutcome(), RejectionReason: prev.GetRejectionReason(),
			RejectionMessage: prev.GetRejectionMessage(), ErpOrderNumber: prev.GetErpOrderNumber(), Duplicate: true}, nil
	}
	var res *erpv1.SubmitSalesOrderResponse
	if reason, ok := e.reject[r.GetSalesOrder().GetCustomerId()]; ok {
		res = &erpv1.SubmitSalesOrderResponse{Outcome: erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED,
			RejectionReason: reason, RejectionMessage: "credit limit exceeded in the ERP"}
	} else {
		e.next++
		res = &erpv1.SubmitSalesOrderResponse{Outcome: erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED,
			ErpOrderNumber: fmt.Sprintf("SO-%06d", e.next)}
		e.accepted = append(e.accepted, id)
	}
	e.outcomes[id] = res
	return res, nil
}

// CancelSalesOrder implements erpv1.ErpAdapterServiceServer.
func (e *ERP) CancelSalesOrder(ctx context.Context, r *erpv1.CancelSalesOrderRequest) (*erpv1.SalesOrder, error) {
	e.mu.Lock()
	if e.down {
		e.mu.Unlock()
		return nil, unavailable("erp")
	}
	id := strings.TrimPrefix(r.GetName(), "salesOrders/")
	d, end := e.begin(e.customerOf[id], "cancel:"+id)
	e.mu.Unlock()
	defer end()
	pause(ctx, d)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.outcomes[id]; !ok {
		return nil, apierr.Error(codes.NotFound, erpv1.ErrorReason_ERROR_REASON_SALES_ORDER_NOT_FOUND, "never submitted", nil)
	}
	e.cancels = append(e.cancels, id)
	return &erpv1.SalesOrder{Name: r.GetName(), State: erpv1.SalesOrder_STATE_CANCELLED}, nil
}

// Pricing is a fake PricingService: every SKU "SKU-nnnnn" with nnnnn <= 500
// costs 100 × nnnnn EUR cents; others are unknown.
type Pricing struct {
	catalogv1.UnimplementedPricingServiceServer
	switchable
	calls int
	// Coupons (see AddCoupon): by code, and reservations by id.
	coupons      map[string]*fakeCoupon
	reservations map[string]*fakePromoReservation
}

// PriceOf returns the fake's unit price of sku and whether it is known.
func PriceOf(sku string) (int64, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(sku, "SKU-"))
	if !strings.HasPrefix(sku, "SKU-") || err != nil || n < 1 || n > 500 {
		return 0, false
	}
	return int64(n) * 100, true
}

// QuotePrices implements catalogv1.PricingServiceServer.
func (p *Pricing) QuotePrices(_ context.Context, r *catalogv1.QuotePricesRequest) (*catalogv1.QuotePricesResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.down {
		return nil, status.Error(codes.Unavailable, "pricing is down")
	}
	res := &catalogv1.QuotePricesResponse{Etag: "quote-" + strconv.Itoa(p.calls)}
	var total int64
	for i, l := range r.GetLines() {
		price, ok := PriceOf(l.GetSku())
		ql := &catalogv1.QuoteLine{LineIndex: int32(i), Sku: l.GetSku(), Quantity: l.GetQuantity()}
		if !ok {
			if !r.GetAllowPartial() {
				return nil, apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND, "unknown SKU",
					map[string]string{"sku": l.GetSku(), "line_index": strconv.Itoa(i)})
			}
			ql.ErrorReason = catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND
		} else {
			ql.UnitPrice = &commonv1.Money{AmountMinor: price, CurrencyCode: r.GetCurrencyCode()}
			ql.ExtendedPrice = &commonv1.Money{AmountMinor: price * l.GetQuantity(), CurrencyCode: r.GetCurrencyCode()}
			ql.WinningRule = &catalogv1.PriceRule{Kind: catalogv1.RuleKind_RULE_KIND_LIST_PRICE, Rule: "priceLists/web-eur/prices/" + l.GetSku()}
			total += price * l.GetQuantity()
		}
		res.Lines = append(res.Lines, ql)
	}
	res.Total = &commonv1.Money{AmountMinor: total, CurrencyCode: r.GetCurrencyCode()}
	p.applyCoupons(r.GetPromotionCodes(), res)
	return res, nil
}

// Inventory is a fake InventoryService with priority allocation over
// WH-HAM, WH-MUC, WH-BER, idempotent on request ids.
type Inventory struct {
	inventoryv1.UnimplementedInventoryServiceServer
	switchable
	stock        map[string]map[string]int64
	byRequest    map[string]*inventoryv1.Reservation
	reservations map[string]*inventoryv1.Reservation
	releases     []string
	reserveCalls int
	reserveDelay time.Duration
	n            int
}

// SetReserveDelay makes ReserveStock take d before answering (a slow
// inventory).
func (v *Inventory) SetReserveDelay(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reserveDelay = d
}

// ReserveCalls returns how many ReserveStock calls arrived.
func (v *Inventory) ReserveCalls() int {
	return locked(&v.switchable, func() int { return v.reserveCalls })
}

// Warehouses in priority order.
var Warehouses = []string{"WH-HAM", "WH-MUC", "WH-BER"}

// NewInventory returns a fake with 100 units of every SKU per warehouse,
// except SKU-00500 (4 + 3 + 3 units).
func NewInventory() *Inventory {
	return &Inventory{stock: map[string]map[string]int64{
		"SKU-00500": {"WH-HAM": 4, "WH-MUC": 3, "WH-BER": 3},
	}, byRequest: map[string]*inventoryv1.Reservation{}, reservations: map[string]*inventoryv1.Reservation{}}
}

func (v *Inventory) available(sku, wh string) int64 {
	if _, ok := PriceOf(sku); !ok {
		return 0
	}
	m, ok := v.stock[sku]
	if !ok {
		m = map[string]int64{"WH-HAM": 100, "WH-MUC": 100, "WH-BER": 100}
		v.stock[sku] = m
	}
	return m[wh]
}

// Releases returns the released reservation ids, in call order.
func (v *Inventory) Releases() []string {
	return locked(&v.switchable, func() []string { return slices.Clone(v.releases) })
}

// ReservationCount returns how many distinct reservations were created.
func (v *Inventory) ReservationCount() int {
	return locked(&v.switchable, func() int { return len(v.reservations) })
}

// Available returns the fake's free stock of sku in wh.
func (v *Inventory) Available(sku, wh string) int64 {
	return locked(&v.switchable, func() int64 { return v.available(sku, wh) })
}

// ReserveStock implements inventoryv1.InventoryServiceServer.
func (v *Inventory) ReserveStock(ctx context.Context, r *inventoryv1.ReserveStockRequest) (*inventoryv1.ReserveStockResponse, error) {
	v.mu.Lock()
	v.reserveCalls++
	delay := v.reserveDelay
	v.mu.Unlock()
	if delay > 0 {
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(delay):
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return nil, status.Error(codes.Unavailable, "inventory is down")
	}
	if res, ok := v.byRequest[r.GetRequestId()]; ok {
		return &inventoryv1.ReserveStockResponse{Reservation: res, FullyAllocated: true}, nil
	}
	res := &inventoryv1.Reservation{ReferenceId: r.GetReferenceId(), Channel: r.GetChannel(), State: inventoryv1.Reservation_STATE_CONFIRMED}
	type take struct {
		sku, wh string
		q       int64
	}
	var takes []take
	for _, l := range r.GetLines() {
		var total int64
		for _, wh := range Warehouses {
			total += v.available(l.GetSku(), wh)
		}
		if total < l.GetQuantity() {
			return nil, apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_INSUFFICIENT_STOCK, "insufficient stock",
				map[string]string{"sku": l.GetSku(), "requested": strconv.FormatInt(l.GetQuantity(), 10), "available": strconv.FormatInt(total, 10)})
		}
		rl := &inventoryv1.ReservationLine{Sku: l.GetSku(), RequestedQuantity: l.GetQuantity(), AllocatedQuantity: l.GetQuantity()}
		need := l.GetQuantity()
		for _, wh := range Warehouses {
			q := min(need, v.available(l.GetSku(), wh))
			if q > 0 {
				rl.Allocations = append(rl.Allocations, &inventoryv1.Allocation{WarehouseCode: wh, Quantity: q, OpenQuantity: q})
				takes = append(takes, take{l.GetSku(), wh, q})
				need -= q
			}
		}
		res.Lines = append(res.Lines, rl)
	}
	for _, tk := range takes {
		v.stock[tk.sku][tk.wh] -= tk.q
	}
	v.n++
	res.Name = fmt.Sprintf("reservations/res-%d", v.n)
	v.byRequest[r.GetRequestId()] = res
	v.reservations[res.GetName()] = res
	return &inventoryv1.ReserveStockResponse{Reservation: res, FullyAllocated: true}, nil
}

// ReleaseReservation implements inventoryv1.InventoryServiceServer.
func (v *Inventory) ReleaseReservation(_ context.Context, r *inventoryv1.ReleaseReservationRequest) (*inventoryv1.Reservation, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return nil, status.Error(codes.Unavailable, "inventory is down")
	}
	res, ok := v.reservations[r.GetName()]
	if !ok {
		return nil, apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_NOT_FOUND, "no such reservation", nil)
	}
	if res.GetState() != inventoryv1.Reservation_STATE_RELEASED {
		for _, l := range res.GetLines() {
			for _, a := range l.GetAllocations() {
				v.stock[l.GetSku()][a.GetWarehouseCode()] += a.GetOpenQuantity()
			}
		}
		res.State = inventoryv1.Reservation_STATE_RELEASED
		v.releases = append(v.releases, strings.TrimPrefix(r.GetName(), "reservations/"))
	}
	return res, nil
}

// ListReservations implements inventoryv1.InventoryServiceServer; it
// understands only `reference_id = "..."`.
func (v *Inventory) ListReservations(_ context.Context, r *inventoryv1.ListReservationsRequest) (*inventoryv1.ListReservationsResponse, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return nil, status.Error(codes.Unavailable, "inventory is down")
	}
	f, err := aip.ParseFilter(r.GetFilter())
	if err != nil {
		return nil, err
	}
	ref, ok := f.Find("reference_id", aip.OpEq)
	if !ok || len(f.Terms) != 1 {
		return nil, status.Error(codes.InvalidArgument, "unsupported filter")
	}
	out := &inventoryv1.ListReservationsResponse{}
	for _, res := range v.reservations {
		if res.GetReferenceId() == ref.Text {
			out.Reservations = append(out.Reservations, res)
		}
	}
	return out, nil
}

// Fulfillment is a fake FulfillmentService that only cancels fulfilment.
type Fulfillment struct {
	fulfillmentv1.UnimplementedFulfillmentServiceServer
	switchable
	picked  map[string]bool
	cancels []string
}

// SetPicked marks an order as picked at the WMS, so it cannot be cancelled.
func (f *Fulfillment) SetPicked(orderID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.picked == nil {
		f.picked = map[string]bool{}
	}
	f.picked[orderID] = true
}

// Cancels returns the order ids whose fulfilment was cancelled.
func (f *Fulfillment) Cancels() []string {
	return locked(&f.switchable, func() []string { return slices.Clone(f.cancels) })
}

// CancelFulfillment implements fulfillmentv1.FulfillmentServiceServer.
func (f *Fulfillment) CancelFulfillment(_ context.Context, r *fulfillmentv1.CancelFulfillmentRequest) (*fulfillmentv1.CancelFulfillmentResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "fulfillment is down")
	}
	id := strings.TrimPrefix(r.GetParent(), "orders/")
	if f.picked[id] {
		return nil, apierr.Error(codes.FailedPrecondition, fulfillmentv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED, "already picked", nil)
	}
	f.cancels = append(f.cancels, id)
	return &fulfillmentv1.CancelFulfillmentResponse{}, nil
}
