// Package order is the order domain: the Order aggregate and its state
// machine, order placement with idempotent request ids, cancellation,
// shipment progress, and the durable ERP submission queue. It knows nothing
// about gRPC, SQL or NATS; storage and neighbours are interfaces it owns
// (Store, Customers, Pricer, Inventory, ERP).
package order

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// State is an order's lifecycle state. The numeric values match
// transload.order.v1.Order.State so conversions stay obvious.
type State int

// Order states.
const (
	StateUnspecified        State = 0
	StateAcceptedPendingERP State = 1
	StateConfirmed          State = 2
	StateRejected           State = 3
	StatePartiallyShipped   State = 4
	StateShipped            State = 5
	StateDelivered          State = 6
	StateCancelled          State = 7
)

var stateNames = map[State]string{
	StateUnspecified:        "STATE_UNSPECIFIED",
	StateAcceptedPendingERP: "STATE_ACCEPTED_PENDING_ERP",
	StateConfirmed:          "STATE_CONFIRMED",
	StateRejected:           "STATE_REJECTED",
	StatePartiallyShipped:   "STATE_PARTIALLY_SHIPPED",
	StateShipped:            "STATE_SHIPPED",
	StateDelivered:          "STATE_DELIVERED",
	StateCancelled:          "STATE_CANCELLED",
}

// String returns the contract's enum value name, e.g. "STATE_CONFIRMED".
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Valid reports whether s is a defined, non-zero state.
func (s State) Valid() bool { return s >= StateAcceptedPendingERP && s <= StateCancelled }

// Terminal reports whether no further transition is possible.
func (s State) Terminal() bool {
	return s == StateRejected || s == StateDelivered || s == StateCancelled
}

// transitions is the state machine of order.v1 Order.State.
var transitions = map[State][]State{
	StateAcceptedPendingERP: {StateConfirmed, StateRejected, StateCancelled},
	StateConfirmed:          {StatePartiallyShipped, StateShipped, StateCancelled},
	StatePartiallyShipped:   {StateShipped},
	StateShipped:            {StateDelivered},
}

// CanTransition reports whether from -> to is allowed.
func CanTransition(from, to State) bool { return slices.Contains(transitions[from], to) }

// Address is a postal address.
type Address struct {
	Recipient          string   `json:"recipient,omitempty"`
	Lines              []string `json:"lines,omitempty"`
	Locality           string   `json:"locality,omitempty"`
	AdministrativeArea string   `json:"administrative_area,omitempty"`
	PostalCode         string   `json:"postal_code,omitempty"`
	RegionCode         string   `json:"region_code,omitempty"`
}

// Order is the order aggregate. Amounts are minor units of Currency.
type Order struct {
	ID               string
	CustomerID       string
	Channel          string
	Currency         string
	ShipTo           Address
	Lines            []Line
	SubtotalMinor    int64
	TaxMinor         int64
	TotalMinor       int64
	State            State
	Rejection        *Rejection
	ERPOrderRef      string
	CreateRequestID  string
	CustomerPONumber string
	ReservationID    string
	Notes            string
	// PromotionCodes are the codes entered at placement (upper-cased);
	// AppliedPromotions the promotions ("promotions/{id}") the placement
	// quote applied and the order holds one use of (see coupons.go).
	PromotionCodes    []string
	AppliedPromotions []string
	ERP               ERPSubmission
	CreatedAt         time.Time
	UpdatedAt         time.Time
	ConfirmedAt       time.Time
	// Version increases with every stored change; the etag is derived
	// from it.
	Version   int64
	History   []StateChange
	Shipments []Shipment
}

// Etag is the order's opaque version tag: a strong validator (one
// version has one representation), bare, so the gateway can send it as the
// entity tag `"<etag>"` and a client's If-Match, which HTTP compares
// strongly, can match it.
func (o *Order) Etag() string { return strconv.FormatInt(o.Version, 10) }

// Line is one SKU of an order.
type Line struct {
	ID             string
	SKU            string
	Quantity       int64
	Unit           string
	UnitPriceMinor int64
	ExtendedMinor  int64
	PriceRuleID    string
	PriceQuoteID   string
	Allocations    []Allocation
	Shipped        int64
	Delivered      int64
	Returned       int64
}

// Allocation is the part of a line reserved in one warehouse.
type Allocation struct {
	WarehouseID string
	Allocated   int64
	Shipped     int64
	Delivered   int64
}

// Rejection says why the ERP rejected an order.
type Rejection struct {
	Reason  RejectionReason
	Message string
	ERPCode string
}

// RejectionReason mirrors order.v1 OrderRejection.Reason.
type RejectionReason int

// Rejection reasons.
const (
	RejectionUnspecified     RejectionReason = 0
	RejectionCustomerOnHold  RejectionReason = 1
	RejectionCreditLimit     RejectionReason = 2
	RejectionCustomerBlocked RejectionReason = 3
	RejectionProductBlocked  RejectionReason = 4
	RejectionPriceMismatch   RejectionReason = 5
	RejectionInvalidShipTo   RejectionReason = 6
	RejectionOther           RejectionReason = 7
)

// ERPSubmission is the state of the asynchronous ERP submission.
type ERPSubmission struct {
	Attempts      int
	LastAttemptAt time.Time
	NextAttemptAt time.Time
	LastError     string
}

// StateChange is one entry of an order's append-only state history.
type StateChange struct {
	From          State
	To            State
	At            time.Time
	Actor         Actor
	Reason        string
	CorrelationID string
}

// Actor is who caused a change.
type Actor struct {
	Kind string // "api_key", "operator", "service", "system"
	ID   string
}

// SystemActor is the actor of changes made by the ERP queue worker.
var SystemActor = Actor{Kind: "system", ID: "erp-queue"}

// Shipment is the last reported content of one fulfilment shipment.
type Shipment struct {
	ID                   string
	FulfillmentRequestID string
	WarehouseID          string
	TrackingNumber       string
	Delivered            bool
	Lines                []ShipmentLine
	UpdatedAt            time.Time
}

// ShipmentLine is the quantity of one order line in a shipment.
type ShipmentLine struct {
	LineID   string `json:"line_id"`
	Quantity int64  `json:"quantity"`
}

// Clone returns a deep copy of o, so events can carry snapshots.
func (o *Order) Clone() *Order {
	c := *o
	c.ShipTo.Lines = slices.Clone(o.ShipTo.Lines)
	c.Lines = make([]Line, len(o.Lines))
	for i, l := range o.Lines {
		l.Allocations = slices.Clone(l.Allocations)
		c.Lines[i] = l
	}
	if o.Rejection != nil {
		r := *o.Rejection
		c.Rejection = &r
	}
	c.History = slices.Clone(o.History)
	c.PromotionCodes, c.AppliedPromotions = slices.Clone(o.PromotionCodes), slices.Clone(o.AppliedPromotions)
	c.Shipments = make([]Shipment, len(o.Shipments))
	for i, s := range o.Shipments {
		s.Lines = slices.Clone(s.Lines)
		c.Shipments[i] = s
	}
	return &c
}

// transition moves o to state to, appending to its history; it fails with
// InvalidTransitionError when the state machine does not allow it.
func (o *Order) transition(to State, at time.Time, actor Actor, reason, correlationID string) error {
	if !CanTransition(o.State, to) {
		return &InvalidTransitionError{From: o.State, To: to}
	}
	o.History = append(o.History, StateChange{
		From: o.State, To: to, At: at, Actor: actor, Reason: reason, CorrelationID: correlationID,
	})
	o.State = to
	o.UpdatedAt = at
	return nil
}

// allocation returns the line's allocation in warehouse wh, or nil.
func (l *Line) allocation(wh string) *Allocation {
	for i := range l.Allocations {
		if l.Allocations[i].WarehouseID == wh {
			return &l.Allocations[i]
		}
	}
	return nil
}

// line returns the line with id, or nil.
func (o *Order) line(id string) *Line {
	for i := range o.Lines {
		if o.Lines[i].ID == id {
			return &o.Lines[i]
		}
	}
	return nil
}
