package order

// EventType names an order event (see order.v1 events.proto).
type EventType int

// Event types.
const (
	EventAccepted EventType = iota + 1
	EventConfirmed
	EventRejected
	EventCancelled
	EventPartiallyShipped
	EventShipped
	EventDelivered
)

// Event is an order event; Order is the order after the change.
type Event struct {
	Type          EventType
	Order         *Order
	PreviousState State
	// Shipment events.
	ShipmentID    string
	WarehouseID   string
	ShipmentLines []ShipmentLine
	// Cancelled.
	Reason string
	Actor  Actor
}
