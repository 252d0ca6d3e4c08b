// Package neighbours dials the process APIs the gateway composes
// (catalog-pricing, inventory, order, fulfillment) and the ops service it
// forwards ops.v1 to, through
// platform/grpcclient: each target's own default deadline (from the
// configuration), one circuit breaker per target, and retries only for
// reads and for mutations carrying a request id the callee de-duplicates
// on.
package neighbours

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/grpcclient"
)

// Dependency names used in error metadata ("dependency"), logs and
// CheckAvailability's degraded_dependencies. Dial addresses never reach
// callers.
const (
	Catalog     = "catalog"
	Pricing     = "pricing"
	Inventory   = "inventory"
	Order       = "order"
	Fulfillment = "fulfillment"
	Ops         = "ops"
)

// Idempotent methods per target: safe to retry on UNAVAILABLE. CreateOrder
// and CancelOrder carry a request id the order service de-duplicates on.
var (
	catalogIdempotent = []string{
		catalogv1.CatalogService_GetProduct_FullMethodName,
		catalogv1.CatalogService_BatchGetProducts_FullMethodName,
		catalogv1.CatalogService_ListProducts_FullMethodName,
		catalogv1.CatalogService_GetCatalogVersion_FullMethodName,
		catalogv1.PricingService_QuotePrices_FullMethodName,
	}
	inventoryIdempotent = []string{
		inventoryv1.InventoryService_CheckAvailability_FullMethodName,
	}
	orderIdempotent = []string{
		orderv1.OrderService_GetOrder_FullMethodName,
		orderv1.OrderService_ListOrders_FullMethodName,
		orderv1.OrderService_CreateOrder_FullMethodName,
		orderv1.OrderService_CancelOrder_FullMethodName,
	}
	fulfillmentIdempotent = []string{
		fulfillmentv1.FulfillmentService_GetShipment_FullMethodName,
		fulfillmentv1.FulfillmentService_ListShipments_FullMethodName,
	}
	// Every ops.v1 method is a read or a mutation carrying a request_id
	// the ops service de-duplicates on (a test holds each mutation to it).
	opsIdempotent = fullMethods(&opsv1.OpsService_ServiceDesc)
)

// fullMethods lists the full names of sd's unary methods.
func fullMethods(sd *grpc.ServiceDesc) []string {
	out := make([]string, 0, len(sd.Methods))
	for _, m := range sd.Methods {
		out = append(out, "/"+sd.ServiceName+"/"+m.MethodName)
	}
	return out
}

// Target is one neighbour: where to dial it and the deadline of calls
// whose caller set none.
type Target struct {
	Addr    string
	Timeout time.Duration
}

// Targets are the neighbours to dial.
type Targets struct {
	Catalog, Inventory, Order, Fulfillment, Ops Target
}

// Clients are the stubs of every neighbour.
type Clients struct {
	Catalog     catalogv1.CatalogServiceClient
	Pricing     catalogv1.PricingServiceClient
	Inventory   inventoryv1.InventoryServiceClient
	Orders      orderv1.OrderServiceClient
	Fulfillment fulfillmentv1.FulfillmentServiceClient
	Ops         opsv1.OpsServiceClient

	conns []*grpc.ClientConn
}

// Dial creates one connection per target (catalog and pricing share the
// catalog-pricing connection and its breaker) with opts (typically the
// runtime's logger, registry and tracing and, in tests, a dialer). Each has
// its own breaker with grpcclient's default thresholds, counting failures
// with grpcclient.IsTargetFailure: an
// UNAVAILABLE answer in which a neighbour names a failing dependency of its
// own (DEPENDENCY_UNAVAILABLE, or CIRCUIT_OPEN relayed from its breaker,
// e.g. the order service while the ERP is down) proves the neighbour is up,
// so it does not open the gateway's breaker and cut off the neighbour's
// calls that still work (order reads). Like grpc.NewClient it does not
// connect until the first call, so the gateway starts while neighbours are
// down.
func Dial(t Targets, opts ...grpcclient.Option) (*Clients, error) {
	c := &Clients{}
	dial := func(name string, target Target, idempotent []string) (*grpc.ClientConn, error) {
		conn, err := grpcclient.Dial(target.Addr, append(slices.Clone(opts),
			grpcclient.WithDependency(name),
			grpcclient.WithIdempotentMethods(idempotent...),
			grpcclient.WithDefaultTimeout(target.Timeout),
		)...)
		if err != nil {
			return nil, err
		}
		c.conns = append(c.conns, conn)
		return conn, nil
	}
	var err error
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	var cat, inv, ord, ful, ops *grpc.ClientConn
	if cat, err = dial(Catalog, t.Catalog, catalogIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: catalog: %w", err)
	}
	if inv, err = dial(Inventory, t.Inventory, inventoryIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: inventory: %w", err)
	}
	if ord, err = dial(Order, t.Order, orderIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: order: %w", err)
	}
	if ful, err = dial(Fulfillment, t.Fulfillment, fulfillmentIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: fulfillment: %w", err)
	}
	if ops, err = dial(Ops, t.Ops, opsIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: ops: %w", err)
	}
	c.Catalog = catalogv1.NewCatalogServiceClient(cat)
	c.Pricing = catalogv1.NewPricingServiceClient(cat)
	c.Inventory = inventoryv1.NewInventoryServiceClient(inv)
	c.Orders = orderv1.NewOrderServiceClient(ord)
	c.Fulfillment = fulfillmentv1.NewFulfillmentServiceClient(ful)
	c.Ops = opsv1.NewOpsServiceClient(ops)
	return c, nil
}

// Close closes every connection.
func (c *Clients) Close() error {
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	c.conns = nil
	return errors.Join(errs...)
}
