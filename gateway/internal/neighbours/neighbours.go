// Package neighbours dials the process APIs the gateway composes
// (catalog-pricing, inventory, order, fulfillment) through
// platform/grpcclient: a default deadline on every call, one circuit breaker
// per target, and retries only for reads and for mutations carrying a
// request id the callee de-duplicates on.
package neighbours

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/breaker"
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
)

// Addrs are the dial targets.
type Addrs struct {
	Catalog, Inventory, Order, Fulfillment string
}

// Clients are the stubs of every neighbour.
type Clients struct {
	Catalog     catalogv1.CatalogServiceClient
	Pricing     catalogv1.PricingServiceClient
	Inventory   inventoryv1.InventoryServiceClient
	Orders      orderv1.OrderServiceClient
	Fulfillment fulfillmentv1.FulfillmentServiceClient

	conns []*grpc.ClientConn
}

// Options are what every connection shares.
type Options struct {
	// Registry receives client and breaker metrics (optional).
	Registry prometheus.Registerer
	// Logger logs breaker state changes (default slog.Default()).
	Logger *slog.Logger
	// Breaker sets the breakers' thresholds (default breaker.DefaultSettings()).
	Breaker *breaker.Settings
	// Client are extra grpcclient options for every connection (deadline,
	// dialer, tracing).
	Client []grpcclient.Option
}

// Dial creates one connection per target (catalog and pricing share the
// catalog-pricing connection and its breaker), each with its own breaker.
// The breakers count failures with grpcclient.IsTargetFailure: an
// UNAVAILABLE answer in which a neighbour names a failing dependency of its
// own (DEPENDENCY_UNAVAILABLE, or CIRCUIT_OPEN relayed from its breaker,
// e.g. the order service while the ERP is down) proves the neighbour is up,
// so it does not open the gateway's breaker and cut off the neighbour's
// calls that still work (order reads). Like grpc.NewClient it does not
// connect until the first call, so the gateway starts while neighbours are
// down.
func Dial(a Addrs, o Options) (*Clients, error) {
	c := &Clients{}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	settings := breaker.DefaultSettings()
	if o.Breaker != nil {
		settings = *o.Breaker
	}
	dial := func(target string, idempotent []string) (*grpc.ClientConn, error) {
		opts := []grpcclient.Option{
			grpcclient.WithIdempotentMethods(idempotent...),
			grpcclient.WithLogger(o.Logger),
			grpcclient.WithBreakerSettings(settings),
		}
		if o.Registry != nil {
			opts = append(opts, grpcclient.WithRegistry(o.Registry))
		}
		conn, err := grpcclient.Dial(target, append(opts, o.Client...)...)
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
	var cat, inv, ord, ful *grpc.ClientConn
	if cat, err = dial(a.Catalog, catalogIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: catalog: %w", err)
	}
	if inv, err = dial(a.Inventory, inventoryIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: inventory: %w", err)
	}
	if ord, err = dial(a.Order, orderIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: order: %w", err)
	}
	if ful, err = dial(a.Fulfillment, fulfillmentIdempotent); err != nil {
		return nil, fmt.Errorf("neighbours: fulfillment: %w", err)
	}
	c.Catalog = catalogv1.NewCatalogServiceClient(cat)
	c.Pricing = catalogv1.NewPricingServiceClient(cat)
	c.Inventory = inventoryv1.NewInventoryServiceClient(inv)
	c.Orders = orderv1.NewOrderServiceClient(ord)
	c.Fulfillment = fulfillmentv1.NewFulfillmentServiceClient(ful)
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
