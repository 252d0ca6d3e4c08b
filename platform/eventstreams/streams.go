package eventstreams

// Subjects of the order service's events (transload/order/v1/events.proto).
const (
	OrderAccepted         = "transload.order.accepted"
	OrderConfirmed        = "transload.order.confirmed"
	OrderRejected         = "transload.order.rejected"
	OrderCancelled        = "transload.order.cancelled"
	OrderPartiallyShipped = "transload.order.partially_shipped"
	OrderShipped          = "transload.order.shipped"
	OrderDelivered        = "transload.order.delivered"

	// Return authorization (RMA) events, each return with its own
	// sequence (aggregate type return_authorization).
	OrderReturnRequested  = "transload.order.return_requested"
	OrderReturnAuthorized = "transload.order.return_authorized"
	OrderReturnRejected   = "transload.order.return_rejected"
	OrderReturnReceived   = "transload.order.return_received"
	OrderReturnCredited   = "transload.order.return_credited"
	OrderReturnClosed     = "transload.order.return_closed"
)

// Order is the stream of the order service's events.
var Order = Stream{
	Name:        "TRANSLOAD_ORDER",
	Subjects:    []string{"transload.order.>"},
	Description: "Order events of the Transload order service",
	Events: []string{
		OrderAccepted, OrderConfirmed, OrderRejected, OrderCancelled,
		OrderPartiallyShipped, OrderShipped, OrderDelivered,
		OrderReturnRequested, OrderReturnAuthorized, OrderReturnRejected,
		OrderReturnReceived, OrderReturnCredited, OrderReturnClosed,
	},
}

// Subjects of the inventory service's events
// (transload/inventory/v1/events.proto).
const (
	StockChanged            = "transload.inventory.stock_changed"
	ReservationCreated      = "transload.inventory.reservation_created"
	ReservationReleased     = "transload.inventory.reservation_released"
	ReservationCommitted    = "transload.inventory.reservation_committed"
	ReservationExpired      = "transload.inventory.reservation_expired"
	VarianceDetected        = "transload.inventory.variance_detected"
	BackorderAllocated      = "transload.inventory.backorder_allocated"
	ReconciliationCompleted = "transload.inventory.reconciliation_completed"
)

// Inventory is the stream of the inventory service's events.
var Inventory = Stream{
	Name:        "TRANSLOAD_INVENTORY",
	Subjects:    []string{"transload.inventory.>"},
	Description: "Transload inventory events (stock changes, reservations)",
	Events: []string{
		StockChanged, ReservationCreated, ReservationReleased, ReservationCommitted,
		ReservationExpired, VarianceDetected, BackorderAllocated, ReconciliationCompleted,
	},
}

// Subjects of the fulfillment service's events
// (transload/fulfillment/v1/events.proto).
const (
	ShipmentUpdated             = "transload.fulfillment.shipment_updated"
	FulfillmentRequestFailed    = "transload.fulfillment.fulfillment_request_failed"
	FulfillmentRequestCancelled = "transload.fulfillment.fulfillment_request_cancelled"
)

// Fulfillment is the stream of the fulfillment service's events.
var Fulfillment = Stream{
	Name:        "TRANSLOAD_FULFILLMENT",
	Subjects:    []string{"transload.fulfillment.>"},
	Description: "Fulfillment events of the Transload fulfillment service (shipments, failed and cancelled requests)",
	Events:      []string{ShipmentUpdated, FulfillmentRequestFailed, FulfillmentRequestCancelled},
}

// Subjects of the catalog-pricing service's events
// (transload/catalog/v1/events.proto).
const (
	CatalogPublished = "transload.catalog.catalog_published"
	PricesChanged    = "transload.catalog.prices_changed"
)

// Catalog is the stream of the catalog-pricing service's events.
var Catalog = Stream{
	Name:        "TRANSLOAD_CATALOG",
	Subjects:    []string{"transload.catalog.>"},
	Description: "catalog-pricing events: catalog published, prices changed",
	Events:      []string{CatalogPublished, PricesChanged},
}

// Subjects of the operations events every service writes through its own
// outbox (transload/ops/v1/events.proto).
const (
	ExceptionRaised = "transload.ops.exception_raised"
	AuditRecorded   = "transload.ops.audit_recorded"
)

// Ops is the stream of operations events: exceptions raised and audit
// records written by every service, projected by the ops service into the
// exception desk and the audit index. Every service's relay publishes to
// it, next to its own domain stream.
var Ops = Stream{
	Name:        "TRANSLOAD_OPS",
	Subjects:    []string{"transload.ops.>"},
	Description: "Transload operations events: exceptions raised and audit records, from every service",
	Events:      []string{ExceptionRaised, AuditRecorded},
}

// All returns every declared stream.
func All() []Stream { return []Stream{Order, Inventory, Fulfillment, Catalog, Ops} }
