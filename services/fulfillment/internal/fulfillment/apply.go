package fulfillment

import (
	"slices"
	"strconv"
	"time"
)

// ShipmentEvent is one shipment milestone reported by the WMS, independent
// of the adapter contract's wire shape.
type ShipmentEvent struct {
	// EventID is the WMS's event id, unique per source.
	EventID string
	// RequestID is the fulfilment request the shipment serves.
	RequestID string
	// WarehouseID is the shipping warehouse.
	WarehouseID string
	// WMSReference is the WMS's parcel or consignment id; empty before
	// packing.
	WMSReference string
	// State is the milestone reached.
	State ShipmentState
	// Carrier, ServiceLevel, TrackingNumber and TrackingURL are kept from
	// earlier events when empty.
	Carrier        string
	ServiceLevel   string
	TrackingNumber string
	TrackingURL    string
	// Lines are the quantities of the shipment; they replace earlier
	// quantities until the shipment ships. Zero quantities are ignored.
	Lines []ShipmentLine
	// Detail is free text (exception description).
	Detail string
	// OccurTime is when the milestone happened.
	OccurTime time.Time
}

// ShipmentOutcome is the result of applying a ShipmentEvent.
type ShipmentOutcome struct {
	// Request and Shipment are the request and shipment after the event.
	Request  *Request
	Shipment *Shipment
	// Created is true when the event created the shipment.
	Created bool
	// PreviousState is the shipment state before the event (0 when new).
	PreviousState ShipmentState
	// Stale is true when the event reported a state older than the
	// current one; it was only recorded in the history.
	Stale bool
	// ShippedNow is true when the shipment left the warehouse with this
	// event: its reservation must be committed and the order told.
	ShippedNow bool
	// DeliveredNow is true when the shipment was delivered with this event.
	DeliveredNow bool
	// RequestChanged is true when the request's quantities or state changed.
	RequestChanged bool
}

// ApplyShipmentEvent applies ev to the shipment sh of request req (sh nil
// for a shipment not seen before) at now. It returns copies; req and sh are
// not modified. A *RejectionError means the event does not fit the request
// (warehouse, lines, quantities, cancelled request); nothing changed then.
// When the lines do not match the allocation its Mismatch says how.
func ApplyShipmentEvent(req *Request, sh *Shipment, ev ShipmentEvent, now time.Time) (ShipmentOutcome, error) {
	out, err := applyShipmentEvent(req, sh, ev, now)
	if rj := AsRejection(err); rj != nil && rj.Mismatch != nil {
		m := rj.Mismatch
		m.RequestID, m.OrderID, m.WMSReference = req.ID, req.OrderID, ev.WMSReference
		if sh != nil {
			m.ShipmentID = sh.ID
		}
	}
	return out, err
}

func applyShipmentEvent(req *Request, sh *Shipment, ev ShipmentEvent, now time.Time) (ShipmentOutcome, error) {
	if ev.WarehouseID != "" && ev.WarehouseID != req.WarehouseID {
		return ShipmentOutcome{}, reject(RejectWarehouseMismatch, "event warehouse differs from the request's",
			map[string]string{"fulfillment_request_id": req.ID, "expected_warehouse_id": req.WarehouseID, "warehouse_id": ev.WarehouseID})
	}
	if req.State == RequestCancelled {
		return ShipmentOutcome{}, reject(RejectInvalidStateTransition, "shipment event for a cancelled request",
			map[string]string{"from": "STATE_CANCELLED", "to": "STATE_" + ev.State.String()})
	}
	lines, err := normalizeLines(req, ev.Lines)
	if err != nil {
		return ShipmentOutcome{}, err
	}

	r := req.clone()
	out := ShipmentOutcome{Request: r}
	var s *Shipment
	if sh == nil {
		s = &Shipment{
			ID:            NewShipmentID(),
			OrderID:       r.OrderID,
			CustomerID:    r.CustomerID,
			RequestID:     r.ID,
			WarehouseID:   r.WarehouseID,
			ReservationID: r.ReservationID,
			CreateTime:    now,
		}
		out.Created = true
	} else {
		s = sh.clone()
		out.PreviousState = s.State
	}
	out.Shipment = s
	if s.WMSReference == "" && ev.WMSReference != "" {
		s.WMSReference = ev.WMSReference
	}

	stale := !out.Created && (s.State == ShipmentDelivered ||
		(ev.State != ShipmentException && ev.State.progress() < s.MaxProgress.progress()))
	out.Stale = stale

	if len(lines) > 0 && !s.Shipped() && !stale {
		s.Lines = lines
	}
	setIfNotEmpty(&s.Carrier, ev.Carrier)
	setIfNotEmpty(&s.ServiceLevel, ev.ServiceLevel)
	setIfNotEmpty(&s.TrackingNumber, ev.TrackingNumber)
	setIfNotEmpty(&s.TrackingURL, ev.TrackingURL)
	s.History = append(s.History, StateChange{
		State: ev.State, OccurTime: ev.OccurTime, RecordTime: now,
		WMSEventID: ev.EventID, Detail: ev.Detail, Stale: stale,
	})
	s.UpdateTime = now

	if stale {
		return out, nil
	}
	s.State = ev.State
	if ev.State == ShipmentException {
		s.ExceptionDetail = ev.Detail
	} else {
		s.ExceptionDetail = ""
		if ev.State.progress() > s.MaxProgress.progress() {
			s.MaxProgress = ev.State
		}
	}

	if ev.State.shipped() && !s.Shipped() {
		if len(s.Lines) == 0 {
			// A WMS that reports the ship milestone without quantities
			// ships what is left of the request.
			for _, l := range r.Lines {
				if rest := l.Quantity - l.ShippedQuantity; rest > 0 {
					s.Lines = append(s.Lines, ShipmentLine{OrderLineID: l.OrderLineID, SKU: l.SKU, Quantity: rest})
				}
			}
		}
		for _, sl := range s.Lines {
			l := r.line(sl.OrderLineID)
			if sl.Quantity > l.Quantity-l.ShippedQuantity { // not shipped+quantity, which a hostile quantity wraps
				rj := reject(RejectQuantityExceedsRequested, "shipment exceeds the requested quantity",
					map[string]string{
						"fulfillment_request_id": r.ID, "order_line_id": sl.OrderLineID,
						"requested": strconv.FormatInt(l.ShippedQuantity+sl.Quantity, 10),
						"allowed":   strconv.FormatInt(l.Quantity, 10),
					})
				rj.Mismatch = &ShipmentMismatch{OrderLineID: sl.OrderLineID, SKU: sl.SKU, Expected: l.Quantity, Reported: l.ShippedQuantity + sl.Quantity}
				return ShipmentOutcome{}, rj
			}
			l.ShippedQuantity += sl.Quantity
		}
		s.ShipTime = ev.OccurTime
		if s.ShipTime.IsZero() {
			s.ShipTime = now
		}
		out.ShippedNow = true
		out.RequestChanged = true
		if r.fullyShipped() && r.State != RequestCompleted {
			r.State = RequestCompleted
		}
		r.UpdateTime = now
	}
	if ev.State == ShipmentDelivered && s.DeliveryTime.IsZero() {
		s.DeliveryTime = ev.OccurTime
		if s.DeliveryTime.IsZero() {
			s.DeliveryTime = now
		}
		out.DeliveredNow = true
	}
	return out, nil
}

// CancelByWMS records that the WMS cancelled the request on its own. A
// completed request stays completed.
func (r *Request) CancelByWMS(reason string, now time.Time) bool {
	return r.Cancel(reason, now)
}

// Cancel moves the request to CANCELLED with reason; it reports false (and
// changes nothing) for a completed or already cancelled request.
func (r *Request) Cancel(reason string, now time.Time) bool {
	if r.State == RequestCompleted || r.State == RequestCancelled {
		return false
	}
	r.State = RequestCancelled
	r.CancelReason = reason
	r.UpdateTime = now
	return true
}

// normalizeLines checks event lines against the request and merges
// repeated order lines; zero quantities are dropped.
func normalizeLines(req *Request, in []ShipmentLine) ([]ShipmentLine, error) {
	var out []ShipmentLine
	idx := map[string]int{}
	for _, l := range in {
		if l.Quantity <= 0 {
			continue
		}
		rl := req.line(l.OrderLineID)
		if rl == nil || (l.SKU != "" && l.SKU != rl.SKU) {
			rj := reject(RejectUnknownOrderLine, "event line is not part of the request",
				map[string]string{"order_line_id": l.OrderLineID, "sku": l.SKU})
			rj.Mismatch = &ShipmentMismatch{OrderLineID: l.OrderLineID, SKU: l.SKU, Reported: l.Quantity}
			return nil, rj
		}
		if i, ok := idx[l.OrderLineID]; ok {
			out[i].Quantity = min(out[i].Quantity, 1<<63-1-l.Quantity) + l.Quantity // saturates; refused below as exceeding the request
			continue
		}
		idx[l.OrderLineID] = len(out)
		out = append(out, ShipmentLine{OrderLineID: l.OrderLineID, SKU: rl.SKU, Quantity: l.Quantity})
	}
	return out, nil
}

func setIfNotEmpty(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func (r *Request) clone() *Request {
	c := *r
	c.Lines = slices.Clone(r.Lines)
	c.ShipTo.Lines = slices.Clone(r.ShipTo.Lines)
	return &c
}

func (s *Shipment) clone() *Shipment {
	c := *s
	c.Lines = slices.Clone(s.Lines)
	c.History = slices.Clone(s.History)
	return &c
}

// Commit returns the inventory commit of the shipment's quantities, per
// SKU in first-seen order. Its request id derives from the shipment id, so
// the commit is idempotent per (reservation, shipment).
func (s *Shipment) Commit() Commit {
	return Commit{
		ReservationID: s.ReservationID, RequestID: "commit-" + s.ID, WarehouseID: s.WarehouseID, ShipmentID: s.ID,
		Lines: sumLines(s.Lines, func(l ShipmentLine) ShipmentLine { return ShipmentLine{SKU: l.SKU} }),
	}
}

// Progress returns the order service report that the shipment shipped (or
// was delivered) at occur, with its quantities per order line in
// first-seen order; eventID is the report's idempotency key.
func (s *Shipment) Progress(delivered bool, eventID string, occur time.Time) Progress {
	return Progress{
		OrderID: s.OrderID, EventID: eventID, ShipmentID: s.ID, RequestID: s.RequestID, WarehouseID: s.WarehouseID,
		Delivered: delivered, TrackingNumber: s.TrackingNumber, OccurTime: occur,
		Lines: sumLines(s.Lines, func(l ShipmentLine) ShipmentLine { return ShipmentLine{OrderLineID: l.OrderLineID} }),
	}
}

// sumLines adds up the quantities of lines with the same key (a line
// without its quantity), in first-seen order.
func sumLines(lines []ShipmentLine, key func(ShipmentLine) ShipmentLine) []ShipmentLine {
	idx := map[ShipmentLine]int{}
	out := []ShipmentLine{}
	for _, l := range lines {
		k := key(l)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, k)
		}
		out[i].Quantity += l.Quantity
	}
	return out
}
