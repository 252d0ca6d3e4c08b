package order

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// Milestone is what a shipment progress report records.
type Milestone int

// Milestones (values match order.v1 ShipmentMilestone).
const (
	MilestoneShipped   Milestone = 1
	MilestoneDelivered Milestone = 2
)

// ProgressParams is a RecordShipmentProgress report.
type ProgressParams struct {
	OrderID              string
	EventID              string
	ShipmentID           string
	FulfillmentRequestID string
	WarehouseID          string
	Milestone            Milestone
	Lines                []ShipmentLine
	TrackingNumber       string
	OccurredAt           time.Time
	Actor                Actor
	CorrelationID        string
}

func (p ProgressParams) hash() string {
	parts := []string{p.OrderID, p.ShipmentID, p.FulfillmentRequestID, p.WarehouseID,
		strconv.Itoa(int(p.Milestone)), p.TrackingNumber, p.OccurredAt.UTC().Format(time.RFC3339Nano)}
	for _, l := range p.Lines {
		parts = append(parts, l.LineID, strconv.FormatInt(l.Quantity, 10))
	}
	return fingerprint.Of(parts)
}

// ProgressResult is the outcome of RecordShipmentProgress.
type ProgressResult struct {
	Order     *Order
	Duplicate bool
	Entered   []State
}

// RecordShipmentProgress applies a shipment report idempotently on
// p.EventID; see the order.v1 contract. The first report of a shipment
// stores the shipment's invoice in the same transaction (shipmentInvoice).
func (s *Service) RecordShipmentProgress(ctx context.Context, p ProgressParams) (ProgressResult, error) {
	var entered []State
	key := &IdempotencyKey{Kind: "shipment_progress", Key: p.EventID, PayloadHash: p.hash()}
	o, err := s.d.Store.UpdateOrder(ctx, p.OrderID, key, func(o *Order) (Effects, error) {
		before, now := o.Clone(), s.now()
		var err error
		entered, err = applyProgress(o, p, now)
		if err != nil {
			return Effects{}, err
		}
		docs, err := shipmentInvoice(before, o, p, now)
		if err != nil {
			return Effects{}, err
		}
		return Effects{
			Events:    progressEvents(o, p, entered),
			Audits:    []Audit{orderAudit(AuditOrderShip, p.Actor, before, o.Clone(), now)},
			Documents: docs,
		}, nil
	})
	if errors.Is(err, ErrDuplicateEvent) {
		o, err := s.d.Store.GetOrder(ctx, p.OrderID)
		if err != nil {
			return ProgressResult{}, err
		}
		return ProgressResult{Order: o, Duplicate: true}, nil
	}
	if err != nil {
		return ProgressResult{}, err
	}
	// The report is visible on the order from here on: the propagation
	// time runs from the WMS event (the report's occur time).
	if !p.OccurredAt.IsZero() {
		s.d.Metrics.ObserveShipmentPropagation(max(s.now().Sub(p.OccurredAt), 0))
	}
	s.published()
	return ProgressResult{Order: o, Entered: entered}, nil
}

// progressEventTypes are the events of the states a shipment report enters.
var progressEventTypes = map[State]EventType{
	StatePartiallyShipped: EventPartiallyShipped,
	StateShipped:          EventShipped,
	StateDelivered:        EventDelivered,
}

// progressEvents are the events of the states a report made o enter, one
// per state, each with the order as it was right after entering it.
func progressEvents(o *Order, p ProgressParams, entered []State) []Event {
	var evs []Event
	prev := o.History[len(o.History)-len(entered):]
	for i, st := range entered {
		if typ, ok := progressEventTypes[st]; ok {
			evs = append(evs, Event{Type: typ, Order: snapshotAt(o, st), PreviousState: prev[i].From,
				ShipmentID: p.ShipmentID, WarehouseID: p.WarehouseID, ShipmentLines: p.Lines})
		}
	}
	return evs
}

// snapshotAt returns a copy of o as it was right after entering st: the
// quantities are final, the state and history stop at st.
func snapshotAt(o *Order, st State) *Order {
	c := o.Clone()
	for i := len(c.History) - 1; i >= 0; i-- {
		if c.History[i].To == st {
			c.History = c.History[:i+1]
			break
		}
	}
	c.State = st
	return c
}

// applyProgress records the shipment's absolute quantities on o and moves it
// through the states they imply. It returns the states entered, in order.
func applyProgress(o *Order, p ProgressParams, now time.Time) ([]State, error) {
	if err := checkProgress(o, p); err != nil {
		return nil, err
	}
	if err := recordShipment(o, p, now); err != nil {
		return nil, err
	}
	if err := sumShipments(o); err != nil {
		return nil, err
	}
	o.UpdatedAt = now
	return advance(o, p, now)
}

// checkProgress rejects a report o cannot take: o is not shipping, the
// warehouse holds none of it, or a line is unknown or reported twice.
func checkProgress(o *Order, p ProgressParams) error {
	if !slices.Contains([]State{StateConfirmed, StatePartiallyShipped, StateShipped}, o.State) {
		target := StateShipped
		if p.Milestone == MilestoneDelivered {
			target = StateDelivered
		}
		return &InvalidTransitionError{From: o.State, To: target}
	}
	if !slices.ContainsFunc(o.Lines, func(l Line) bool { return l.allocation(p.WarehouseID) != nil }) {
		return &WarehouseNotAllocatedError{WarehouseID: p.WarehouseID}
	}
	seen := map[string]bool{}
	for _, l := range p.Lines {
		if o.line(l.LineID) == nil {
			return &UnknownLineError{LineID: l.LineID}
		}
		if seen[l.LineID] {
			return &InvalidArgumentError{Field: "lines", Message: "line " + l.LineID + " appears more than once"}
		}
		seen[l.LineID] = true
	}
	return nil
}

// recordShipment keeps the report as its shipment's latest content; a
// shipment stays in the warehouse that first reported it.
func recordShipment(o *Order, p ProgressParams, now time.Time) error {
	idx := slices.IndexFunc(o.Shipments, func(sh Shipment) bool { return sh.ID == p.ShipmentID })
	if idx < 0 {
		o.Shipments = append(o.Shipments, Shipment{ID: p.ShipmentID, WarehouseID: p.WarehouseID})
		idx = len(o.Shipments) - 1
	}
	sh := &o.Shipments[idx]
	if sh.WarehouseID != p.WarehouseID {
		return &InvalidArgumentError{Field: "warehouse_id",
			Message: fmt.Sprintf("shipment %s was reported from warehouse %s", p.ShipmentID, sh.WarehouseID)}
	}
	sh.FulfillmentRequestID = p.FulfillmentRequestID
	if p.TrackingNumber != "" {
		sh.TrackingNumber = p.TrackingNumber
	}
	sh.Lines = append([]ShipmentLine(nil), p.Lines...)
	sh.Delivered = sh.Delivered || p.Milestone == MilestoneDelivered
	sh.UpdatedAt = now
	return nil
}

// sumShipments recomputes the shipped and delivered quantities of every
// line and allocation from all shipments' latest reports; no warehouse may
// ship more of a line than it holds.
func sumShipments(o *Order) error {
	for i := range o.Lines {
		l := &o.Lines[i]
		shipped, delivered := map[string]int64{}, map[string]int64{}
		for _, s := range o.Shipments {
			for _, sl := range s.Lines {
				if sl.LineID != l.ID {
					continue
				}
				shipped[s.WarehouseID] += sl.Quantity
				if s.Delivered {
					delivered[s.WarehouseID] += sl.Quantity
				}
			}
		}
		for wh, q := range shipped {
			a := l.allocation(wh)
			if a == nil {
				return &QuantityExceedsAllocatedError{LineID: l.ID, WarehouseID: wh, Requested: q, Allowed: 0}
			}
			if q > a.Allocated {
				return &QuantityExceedsAllocatedError{LineID: l.ID, WarehouseID: wh, Requested: q, Allowed: a.Allocated}
			}
		}
		l.Shipped, l.Delivered = 0, 0
		for j := range l.Allocations {
			a := &l.Allocations[j]
			a.Shipped, a.Delivered = shipped[a.WarehouseID], delivered[a.WarehouseID]
			l.Shipped += a.Shipped
			l.Delivered += a.Delivered
		}
	}
	return nil
}

// advance moves o through the states its quantities imply (several in one
// report when needed) and returns the states entered, in order.
func advance(o *Order, p ProgressParams, now time.Time) ([]State, error) {
	anyShipped, allShipped, allDelivered := false, true, true
	for _, l := range o.Lines {
		anyShipped = anyShipped || l.Shipped > 0
		allShipped = allShipped && l.Shipped >= l.Quantity
		allDelivered = allDelivered && l.Delivered >= l.Quantity
	}
	reason := "shipment " + p.ShipmentID
	if p.TrackingNumber != "" {
		reason += " tracking " + p.TrackingNumber
	}
	var entered []State
	for _, step := range []struct {
		from []State
		to   State
		when bool
	}{
		{[]State{StateConfirmed}, StatePartiallyShipped, anyShipped && !allShipped},
		{[]State{StateConfirmed, StatePartiallyShipped}, StateShipped, allShipped},
		{[]State{StateShipped}, StateDelivered, allDelivered},
	} {
		if !step.when || !slices.Contains(step.from, o.State) {
			continue
		}
		if err := o.transition(step.to, now, p.Actor, reason, p.CorrelationID); err != nil {
			return nil, err
		}
		entered = append(entered, step.to)
	}
	return entered, nil
}

// shipmentInvoice returns the invoice of the shipment p reports when this
// report is the shipment's first (before, o: the order before and after
// applying it): one line per order line shipped, with the quantity, unit
// price and tax share as on the order. Later reports of the same shipment
// (delivered, repeated) issue nothing; a repeated report with the same
// event id never reaches here, and the invoice id (InvoiceID) is a
// function of the shipment, so even a re-derived invoice is stored once.
// A later report that changes a shipment's quantities is not invoiced
// again: corrections go through credit memos (order.v1 PostingLine).
func shipmentInvoice(before, o *Order, p ProgressParams, now time.Time) ([]Document, error) {
	if slices.ContainsFunc(before.Shipments, func(sh Shipment) bool { return sh.ID == p.ShipmentID }) {
		return nil, nil
	}
	d := Document{ID: InvoiceID(o.ID, p.ShipmentID), Kind: DocumentInvoice, OrderID: o.ID, CustomerID: o.CustomerID,
		SourceID: p.ShipmentID, Currency: o.Currency, CreatedAt: now}
	for _, sl := range p.Lines {
		if sl.Quantity <= 0 {
			continue
		}
		l, err := NewInvoiceLine(o, *o.line(sl.LineID), sl.Quantity)
		if err != nil {
			return nil, fmt.Errorf("invoice of shipment %s: %w", p.ShipmentID, err)
		}
		d.Lines = append(d.Lines, l)
	}
	if len(d.Lines) == 0 {
		return nil, nil
	}
	return []Document{d}, nil
}
