package order

import (
	"context"
	"errors"
	"fmt"
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
// p.EventID; see the order.v1 contract.
func (s *Service) RecordShipmentProgress(ctx context.Context, p ProgressParams) (ProgressResult, error) {
	var entered []State
	key := &IdempotencyKey{Kind: "shipment_progress", Key: p.EventID, PayloadHash: p.hash()}
	o, err := s.d.Store.UpdateOrder(ctx, p.OrderID, key, func(o *Order) (Effects, error) {
		var err error
		entered, err = applyProgress(o, p, s.now())
		if err != nil {
			return Effects{}, err
		}
		var evs []Event
		prev := o.History[len(o.History)-len(entered):]
		for i, st := range entered {
			from := prev[i].From
			snap := snapshotAt(o, st)
			switch st {
			case StatePartiallyShipped:
				evs = append(evs, Event{Type: EventPartiallyShipped, Order: snap, PreviousState: from,
					ShipmentID: p.ShipmentID, WarehouseID: p.WarehouseID, ShipmentLines: p.Lines})
			case StateShipped:
				evs = append(evs, Event{Type: EventShipped, Order: snap, PreviousState: from,
					ShipmentID: p.ShipmentID, WarehouseID: p.WarehouseID, ShipmentLines: p.Lines})
			case StateDelivered:
				evs = append(evs, Event{Type: EventDelivered, Order: snap, PreviousState: from, ShipmentID: p.ShipmentID})
			}
		}
		return Effects{Events: evs}, nil
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
	if len(entered) > 0 {
		s.tick()
	}
	return ProgressResult{Order: o, Entered: entered}, nil
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
	target := StateShipped
	if p.Milestone == MilestoneDelivered {
		target = StateDelivered
	}
	switch o.State {
	case StateConfirmed, StatePartiallyShipped, StateShipped:
	default:
		return nil, &InvalidTransitionError{From: o.State, To: target}
	}
	allocatedHere := false
	for _, l := range o.Lines {
		for _, a := range l.Allocations {
			if a.WarehouseID == p.WarehouseID {
				allocatedHere = true
			}
		}
	}
	if !allocatedHere {
		return nil, &WarehouseNotAllocatedError{WarehouseID: p.WarehouseID}
	}
	seen := map[string]bool{}
	for _, l := range p.Lines {
		if o.line(l.LineID) == nil {
			return nil, &UnknownLineError{LineID: l.LineID}
		}
		if seen[l.LineID] {
			return nil, &InvalidArgumentError{Field: "lines", Message: "line " + l.LineID + " appears more than once"}
		}
		seen[l.LineID] = true
	}
	idx := -1
	for i, sh := range o.Shipments {
		if sh.ID == p.ShipmentID {
			idx = i
		}
	}
	if idx < 0 {
		o.Shipments = append(o.Shipments, Shipment{ID: p.ShipmentID, WarehouseID: p.WarehouseID})
		idx = len(o.Shipments) - 1
	}
	sh := &o.Shipments[idx]
	if sh.WarehouseID != p.WarehouseID {
		return nil, &InvalidArgumentError{Field: "warehouse_id",
			Message: fmt.Sprintf("shipment %s was reported from warehouse %s", p.ShipmentID, sh.WarehouseID)}
	}
	sh.FulfillmentRequestID = p.FulfillmentRequestID
	if p.TrackingNumber != "" {
		sh.TrackingNumber = p.TrackingNumber
	}
	sh.Lines = append([]ShipmentLine(nil), p.Lines...)
	sh.Delivered = sh.Delivered || p.Milestone == MilestoneDelivered
	sh.UpdatedAt = now

	// Recompute per line and warehouse from all shipments.
	for i := range o.Lines {
		l := &o.Lines[i]
		l.Shipped, l.Delivered = 0, 0
		for j := range l.Allocations {
			a := &l.Allocations[j]
			a.Shipped, a.Delivered = 0, 0
		}
		shippedBy := map[string]int64{}
		deliveredBy := map[string]int64{}
		for _, s := range o.Shipments {
			for _, sl := range s.Lines {
				if sl.LineID != l.ID {
					continue
				}
				shippedBy[s.WarehouseID] += sl.Quantity
				if s.Delivered {
					deliveredBy[s.WarehouseID] += sl.Quantity
				}
			}
		}
		for wh, q := range shippedBy {
			var a *Allocation
			for j := range l.Allocations {
				if l.Allocations[j].WarehouseID == wh {
					a = &l.Allocations[j]
				}
			}
			if a == nil {
				return nil, &QuantityExceedsAllocatedError{LineID: l.ID, WarehouseID: wh, Requested: q, Allowed: 0}
			}
			if q > a.Allocated {
				return nil, &QuantityExceedsAllocatedError{LineID: l.ID, WarehouseID: wh, Requested: q, Allowed: a.Allocated}
			}
			a.Shipped = q
			a.Delivered = deliveredBy[wh]
			l.Shipped += q
			l.Delivered += a.Delivered
		}
	}
	o.UpdatedAt = now

	anyShipped, allShipped, allDelivered := false, true, true
	for _, l := range o.Lines {
		if l.Shipped > 0 {
			anyShipped = true
		}
		if l.Shipped < l.Quantity {
			allShipped = false
		}
		if l.Delivered < l.Quantity {
			allDelivered = false
		}
	}
	reason := "shipment " + p.ShipmentID
	if p.TrackingNumber != "" {
		reason += " tracking " + p.TrackingNumber
	}
	var entered []State
	step := func(to State) error {
		if err := o.transition(to, now, p.Actor, reason, p.CorrelationID); err != nil {
			return err
		}
		entered = append(entered, to)
		return nil
	}
	if o.State == StateConfirmed && anyShipped && !allShipped {
		if err := step(StatePartiallyShipped); err != nil {
			return nil, err
		}
	}
	if (o.State == StateConfirmed || o.State == StatePartiallyShipped) && allShipped {
		if err := step(StateShipped); err != nil {
			return nil, err
		}
	}
	if o.State == StateShipped && allDelivered {
		if err := step(StateDelivered); err != nil {
			return nil, err
		}
	}
	return entered, nil
}
