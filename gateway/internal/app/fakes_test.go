package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
)

// In-process fakes of the process APIs the gateway composes. They hold a
// small deterministic data set and can be told to fail, so component tests
// exercise the gateway's composition, mapping and fallbacks over real gRPC.

const (
	fakeCatalogVersion = 7
	fakePriceVersion   = 3
)

// failer makes a fake answer every call with an error while set.
type failer struct {
	mu  sync.Mutex
	err error
}

func (f *failer) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *failer) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

type fakeCatalog struct {
	catalogv1.UnimplementedCatalogServiceServer
	products map[string]*catalogv1.Product
}

func newFakeCatalog() *fakeCatalog {
	c := &fakeCatalog{products: map[string]*catalogv1.Product{}}
	add := func(sku, title string, status catalogv1.ProductStatus, channels ...string) {
		c.products[sku] = &catalogv1.Product{
			Name: "products/" + sku, Sku: sku, Title: title, BaseUnit: "EA", PackSize: 1,
			Status: status, Channels: channels, Category: "fasteners/bolts", Brand: "Acme",
			CatalogVersion: fmt.Sprintf("catalogVersions/%d", fakeCatalogVersion),
			Attributes:     []*catalogv1.ProductAttribute{{Key: "thread", Value: "M8"}},
		}
	}
	add("SKU-00001", "Hex bolt M8x40", catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE, "web", "b2b")
	add("SKU-00002", "Hex nut M8", catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE, "web", "b2b")
	add("SKU-00003", "Washer M8", catalogv1.ProductStatus_PRODUCT_STATUS_DISCONTINUED, "web")
	add("SKU-00500", "Rare part", catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE, "web", "b2b")
	add("SKU-B2B01", "Pallet of bolts", catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE, "b2b")
	return c
}

func (c *fakeCatalog) GetProduct(_ context.Context, req *catalogv1.GetProductRequest) (*catalogv1.Product, error) {
	p, ok := c.products[strings.TrimPrefix(req.GetName(), "products/")]
	if !ok {
		return nil, apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND, "product not found", nil)
	}
	return p, nil
}

func (c *fakeCatalog) ListProducts(_ context.Context, req *catalogv1.ListProductsRequest) (*catalogv1.ListProductsResponse, error) {
	// Supports the filter the gateway sends: channel = "x" [AND category = "y"].
	var out []*catalogv1.Product
	for _, p := range c.products {
		if strings.Contains(req.GetFilter(), `channel = "`) {
			ok := false
			for _, ch := range p.GetChannels() {
				if strings.Contains(req.GetFilter(), `channel = "`+ch+`"`) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *catalogv1.Product) int { return strings.Compare(a.GetSku(), b.GetSku()) })
	return &catalogv1.ListProductsResponse{Products: out}, nil
}

type fakePricing struct {
	catalogv1.UnimplementedPricingServiceServer
	failer
	calls  atomic.Int64
	prices map[string]int64 // unit list price in EUR minor units
}

func newFakePricing() *fakePricing {
	return &fakePricing{prices: map[string]int64{"SKU-00001": 1250, "SKU-00002": 99, "SKU-00500": 50000, "SKU-B2B01": 90000}}
}

func (p *fakePricing) QuotePrices(_ context.Context, req *catalogv1.QuotePricesRequest) (*catalogv1.QuotePricesResponse, error) {
	p.calls.Add(1)
	if err := p.get(); err != nil {
		return nil, err
	}
	cur := req.GetCurrencyCode()
	resp := &catalogv1.QuotePricesResponse{CatalogVersion: fakeCatalogVersion, PriceVersion: fakePriceVersion, PriceTime: timestamppb.Now()}
	var list, total int64
	for i, l := range req.GetLines() {
		unit, ok := p.prices[l.GetSku()]
		ql := &catalogv1.QuoteLine{LineIndex: int32(i), Sku: l.GetSku(), Quantity: l.GetQuantity()}
		if !ok {
			ql.ErrorReason = catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND
			resp.Lines = append(resp.Lines, ql)
			continue
		}
		price := unit
		rule := &catalogv1.PriceRule{Kind: catalogv1.RuleKind_RULE_KIND_LIST_PRICE, Rule: "priceLists/web-eur/prices/" + l.GetSku(), Explanation: "list price"}
		if req.GetCustomerId() != "" {
			price = unit * 90 / 100
			rule = &catalogv1.PriceRule{Kind: catalogv1.RuleKind_RULE_KIND_CUSTOMER_CONTRACT, Rule: "customerContracts/" + req.GetCustomerId(), Explanation: "contract: 10 % off list"}
		}
		ql.UnitPrice = &commonv1.Money{AmountMinor: price, CurrencyCode: cur}
		ql.ExtendedPrice = &commonv1.Money{AmountMinor: price * l.GetQuantity(), CurrencyCode: cur}
		ql.ListPrice = &commonv1.Money{AmountMinor: unit, CurrencyCode: cur}
		ql.WinningRule = rule
		resp.Lines = append(resp.Lines, ql)
		list += unit * l.GetQuantity()
		total += price * l.GetQuantity()
	}
	resp.ListTotal = &commonv1.Money{AmountMinor: list, CurrencyCode: cur}
	resp.Total = &commonv1.Money{AmountMinor: total, CurrencyCode: cur}
	return resp, nil
}

type fakeInventory struct {
	inventoryv1.UnimplementedInventoryServiceServer
	failer
	calls atomic.Int64
	mu    sync.Mutex
	stock map[string][]*inventoryv1.WarehouseAvailability
	seq   int64
	// publish, when set, receives the StockChangedEvent of every change
	// made by setAvailable (as inventory's outbox would publish it).
	publish func(*inventoryv1.StockChangedEvent)
}

// fakeWarehouses are the fake's warehouses in allocation priority order;
// every level below is in them.
var fakeWarehouses = []*inventoryv1.Warehouse{
	{Name: "warehouses/WH-HAM", Code: "WH-HAM", Priority: 1, Channels: []string{"b2b", "web"}, Active: true},
	{Name: "warehouses/WH-MUC", Code: "WH-MUC", Priority: 2, Channels: []string{"b2b", "web"}, Active: true},
	{Name: "warehouses/WH-BER", Code: "WH-BER", Priority: 3, Channels: []string{"b2b", "web"}, Active: true},
}

func newFakeInventory() *fakeInventory {
	wh := func(code string, n int64) *inventoryv1.WarehouseAvailability {
		return &inventoryv1.WarehouseAvailability{WarehouseCode: code, Available: n, OnHand: n, Revision: 1}
	}
	return &fakeInventory{seq: 1, stock: map[string][]*inventoryv1.WarehouseAvailability{
		"SKU-00001": {wh("WH-HAM", 300), wh("WH-MUC", 200), wh("WH-BER", 100)},
		"SKU-00002": {wh("WH-HAM", 50)},
		"SKU-00500": {wh("WH-HAM", 4), wh("WH-MUC", 3), wh("WH-BER", 3)},
	}}
}

// setAvailable changes one warehouse's stock, bumps its revision and the
// sequence, and publishes the change when a publisher is set.
func (f *fakeInventory) setAvailable(sku, warehouse string, n int64) {
	f.mu.Lock()
	f.seq++
	var ev *inventoryv1.StockChangedEvent
	for _, w := range f.stock[sku] {
		if w.GetWarehouseCode() == warehouse {
			w.Available, w.OnHand = n, n
			w.Revision++
			ev = &inventoryv1.StockChangedEvent{
				Metadata: &commonv1.EventMetadata{Sequence: w.GetRevision(), AggregateType: "stock_level", AggregateId: sku + "@" + warehouse},
				Sku:      sku, WarehouseCode: warehouse,
				NewQuantities: &inventoryv1.StockQuantities{OnHand: n, Available: n},
			}
		}
	}
	publish := f.publish
	f.mu.Unlock()
	if publish != nil && ev != nil {
		publish(ev)
	}
}

func (f *fakeInventory) ListWarehouses(context.Context, *inventoryv1.ListWarehousesRequest) (*inventoryv1.ListWarehousesResponse, error) {
	if err := f.get(); err != nil {
		return nil, err
	}
	return &inventoryv1.ListWarehousesResponse{Warehouses: fakeWarehouses}, nil
}

func (f *fakeInventory) CheckAvailability(_ context.Context, req *inventoryv1.CheckAvailabilityRequest) (*inventoryv1.CheckAvailabilityResponse, error) {
	f.calls.Add(1)
	if err := f.get(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &inventoryv1.CheckAvailabilityResponse{ReadTime: timestamppb.Now()}
	for _, sku := range req.GetSkus() {
		whs, ok := f.stock[sku]
		sa := &inventoryv1.SkuAvailability{Sku: sku, Known: ok, StockSequence: f.seq}
		for _, w := range whs {
			sa.TotalAvailable += w.GetAvailable()
			sa.Warehouses = append(sa.Warehouses, proto.Clone(w).(*inventoryv1.WarehouseAvailability))
		}
		resp.Skus = append(resp.Skus, sa)
	}
	return resp, nil
}

type createRecord struct {
	req   *orderv1.CreateOrderRequest
	order *orderv1.Order
}

type fakeOrders struct {
	orderv1.UnimplementedOrderServiceServer
	failer
	createFail failer // CreateOrder only
	mu         sync.Mutex
	orders     map[string]*orderv1.Order
	byRequest  map[string]createRecord
	// onCreate, when set, runs inside every CreateOrder (as the order
	// service reserves stock before it answers).
	onCreate func(*orderv1.CreateOrderRequest)
	creates  []*orderv1.CreateOrderRequest
	actors   []string
	next     int
}

func newFakeOrders() *fakeOrders {
	return &fakeOrders{orders: map[string]*orderv1.Order{}, byRequest: map[string]createRecord{}}
}

func (f *fakeOrders) CreateOrder(ctx context.Context, req *orderv1.CreateOrderRequest) (*orderv1.CreateOrderResponse, error) {
	if err := f.get(); err != nil {
		return nil, err
	}
	if err := f.createFail.get(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onCreate != nil {
		f.onCreate(req)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	f.actors = append(f.actors, strings.Join(md.Get("x-transload-actor"), ","))
	f.creates = append(f.creates, proto.Clone(req).(*orderv1.CreateOrderRequest))
	if rec, ok := f.byRequest[req.GetRequestId()]; ok {
		if !proto.Equal(rec.req, req) {
			return nil, apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "request id reused", nil)
		}
		return &orderv1.CreateOrderResponse{Order: rec.order, Replayed: true}, nil
	}
	f.next++
	id := fmt.Sprintf("O-%04d", f.next)
	o := &orderv1.Order{
		Name: "orders/" + id, OrderId: id, CustomerId: req.GetCustomerId(), Channel: req.GetChannel(),
		CurrencyCode: req.GetCurrencyCode(), ShipTo: req.GetShipTo(), State: orderv1.Order_STATE_ACCEPTED_PENDING_ERP,
		CreateRequestId: req.GetRequestId(), CustomerPoNumber: req.GetCustomerPoNumber(), Notes: req.GetNotes(),
		CreateTime: timestamppb.Now(), UpdateTime: timestamppb.Now(), Etag: "e1",
	}
	var sub int64
	for i, l := range req.GetLines() {
		o.Lines = append(o.Lines, &orderv1.OrderLine{
			LineId: fmt.Sprint(i + 1), Sku: l.GetSku(), Quantity: l.GetQuantity(), Unit: "EA",
			UnitPrice:     &commonv1.Money{AmountMinor: 1000, CurrencyCode: req.GetCurrencyCode()},
			ExtendedPrice: &commonv1.Money{AmountMinor: 1000 * l.GetQuantity(), CurrencyCode: req.GetCurrencyCode()},
			PriceRuleId:   "priceLists/web-eur/prices/" + l.GetSku(),
		})
		sub += 1000 * l.GetQuantity()
	}
	o.Totals = &orderv1.OrderTotals{
		Subtotal: &commonv1.Money{AmountMinor: sub, CurrencyCode: req.GetCurrencyCode()},
		Tax:      &commonv1.Money{AmountMinor: sub * 19 / 100, CurrencyCode: req.GetCurrencyCode()},
		Total:    &commonv1.Money{AmountMinor: sub + sub*19/100, CurrencyCode: req.GetCurrencyCode()},
	}
	f.orders[id] = o
	f.byRequest[req.GetRequestId()] = createRecord{req: proto.Clone(req).(*orderv1.CreateOrderRequest), order: o}
	return &orderv1.CreateOrderResponse{Order: o}, nil
}

func (f *fakeOrders) lastCreate() *orderv1.CreateOrderRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.creates) == 0 {
		return nil
	}
	return f.creates[len(f.creates)-1]
}

func (f *fakeOrders) GetOrder(_ context.Context, req *orderv1.GetOrderRequest) (*orderv1.Order, error) {
	if err := f.get(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[strings.TrimPrefix(req.GetName(), "orders/")]
	if !ok {
		return nil, apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_FOUND, "order not found", nil)
	}
	return o, nil
}

func (f *fakeOrders) ListOrders(_ context.Context, req *orderv1.ListOrdersRequest) (*orderv1.ListOrdersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &orderv1.ListOrdersResponse{}
	for _, o := range f.orders {
		if !strings.Contains(req.GetFilter(), `channel = "`+o.GetChannel()+`"`) {
			continue
		}
		if strings.Contains(req.GetFilter(), "customer_id") && !strings.Contains(req.GetFilter(), `customer_id = "`+o.GetCustomerId()+`"`) {
			continue
		}
		resp.Orders = append(resp.Orders, o)
	}
	slices.SortFunc(resp.Orders, func(a, b *orderv1.Order) int { return strings.Compare(b.GetOrderId(), a.GetOrderId()) })
	return resp, nil
}

func (f *fakeOrders) CancelOrder(_ context.Context, req *orderv1.CancelOrderRequest) (*orderv1.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[strings.TrimPrefix(req.GetName(), "orders/")]
	if !ok {
		return nil, apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_FOUND, "order not found", nil)
	}
	if req.GetEtag() != "" && req.GetEtag() != o.GetEtag() { // as the order service checks it, in its transaction
		return nil, apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION, "etag mismatch", nil)
	}
	if o.GetState() != orderv1.Order_STATE_ACCEPTED_PENDING_ERP && o.GetState() != orderv1.Order_STATE_CONFIRMED {
		return nil, apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_CANCELLABLE, "not cancellable",
			map[string]string{"order_id": o.GetOrderId(), "state": o.GetState().String()})
	}
	o.State = orderv1.Order_STATE_CANCELLED
	o.StateHistory = append(o.StateHistory, &orderv1.OrderStateChange{State: orderv1.Order_STATE_CANCELLED, Reason: req.GetReason()})
	return o, nil
}

type fakeFulfillment struct {
	fulfillmentv1.UnimplementedFulfillmentServiceServer
	mu        sync.Mutex
	shipments []*fulfillmentv1.Shipment
}

func (f *fakeFulfillment) add(orderID, customerID, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shipments = append(f.shipments, &fulfillmentv1.Shipment{
		Name: "orders/" + orderID + "/shipments/" + id, ShipmentId: id, OrderId: orderID, CustomerId: customerID,
		WarehouseId: "WH-HAM", Carrier: "DHL", TrackingNumber: "TRK-" + id, State: fulfillmentv1.Shipment_STATE_SHIPPED,
		Lines: []*fulfillmentv1.ShipmentLine{{OrderLineId: "1", Sku: "SKU-00001", Quantity: 2}},
	})
}

func (f *fakeFulfillment) ListShipments(_ context.Context, req *fulfillmentv1.ListShipmentsRequest) (*fulfillmentv1.ListShipmentsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &fulfillmentv1.ListShipmentsResponse{}
	for _, s := range f.shipments {
		if req.GetParent() != "orders/-" && req.GetParent() != "orders/"+s.GetOrderId() {
			continue
		}
		if strings.Contains(req.GetFilter(), "customer_id") && !strings.Contains(req.GetFilter(), `"`+s.GetCustomerId()+`"`) {
			continue
		}
		resp.Shipments = append(resp.Shipments, s)
	}
	return resp, nil
}

func (f *fakeFulfillment) GetShipment(_ context.Context, req *fulfillmentv1.GetShipmentRequest) (*fulfillmentv1.Shipment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.shipments {
		if s.GetName() == req.GetName() {
			return s, nil
		}
	}
	return nil, status.Error(codes.NotFound, "shipment not found")
}

// opsCall is one call the fake ops service received.
type opsCall struct {
	method         string
	actors         []string // x-transload-actor values
	correlationIDs []string // x-correlation-id values
	req            proto.Message
}

// fakeOps serves every ops.v1 method with an empty response of the
// method's type (or the error set with set), recording each call and
// sending header with every answer. Its handlers are built from the
// service descriptor, so a method added to the contract is served, and
// covered by the tests that enumerate the contract, without a change here.
type fakeOps struct {
	failer
	mu     sync.Mutex
	calls  []opsCall
	header metadata.MD
}

// register serves the fake on s as transload.ops.v1.OpsService.
func (f *fakeOps) register(s *grpc.Server) {
	sd := opsv1.OpsService_ServiceDesc
	svc := opsv1.File_transload_ops_v1_ops_service_proto.Services().ByName(protoreflect.FullName(sd.ServiceName).Name())
	desc := grpc.ServiceDesc{ServiceName: sd.ServiceName, HandlerType: (*any)(nil), Metadata: sd.Metadata}
	for _, m := range sd.Methods {
		md := svc.Methods().ByName(protoreflect.Name(m.MethodName))
		full := "/" + sd.ServiceName + "/" + m.MethodName
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: m.MethodName,
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
				if err != nil {
					return nil, err
				}
				out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
				if err != nil {
					return nil, err
				}
				req := in.New().Interface()
				if err := dec(req); err != nil {
					return nil, err
				}
				return f.handle(ctx, full, req, out.New().Interface())
			},
		})
	}
	s.RegisterService(&desc, f)
}

func (f *fakeOps) handle(ctx context.Context, method string, req, resp proto.Message) (proto.Message, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, opsCall{method: method, actors: md.Get("x-transload-actor"),
		correlationIDs: md.Get("x-correlation-id"), req: req})
	header := f.header
	f.mu.Unlock()
	if err := f.get(); err != nil {
		return nil, err
	}
	if header != nil {
		if err := grpc.SetHeader(ctx, header); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// setHeader makes every answer carry md.
func (f *fakeOps) setHeader(md metadata.MD) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.header = md
}

// received returns the calls so far.
func (f *fakeOps) received() []opsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}
