// Package wms is the warehouse the simulator pretends to be: it accepts
// shipment requests for its warehouses, moves them through picked, packed,
// shipped and delivered on a timer, records every milestone as a shipment
// event in a durable feed, and registers and receives customer returns.
//
// The package holds the domain types, the use cases (Service) and the Store
// interface they need; it imports no gRPC, generated or SQL code.
package wms

import (
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// State is the lifecycle state of a shipment request, named like the
// contract's ShipmentRequest.State values without the prefix.
type State string

// Shipment request states.
const (
	StateAccepted  State = "ACCEPTED"
	StateRejected  State = "REJECTED"
	StateCancelled State = "CANCELLED"
	StatePicked    State = "PICKED"
	StatePacked    State = "PACKED"
	StateShipped   State = "SHIPPED"
	StateInTransit State = "IN_TRANSIT"
	StateDelivered State = "DELIVERED"
	StateException State = "EXCEPTION"
)

// hasShipped reports whether goods have left the warehouse in state s.
func (s State) hasShipped() bool {
	return s == StateShipped || s == StateInTransit || s == StateDelivered
}

// next is the milestone the simulated warehouse reaches after s, or "" when
// s is final or not part of the automatic progression.
func (s State) next() State {
	switch s {
	case StateAccepted:
		return StatePicked
	case StatePicked:
		return StatePacked
	case StatePacked:
		return StateShipped
	case StateShipped:
		return StateDelivered
	case StateDelivered, StateRejected, StateCancelled, StateInTransit, StateException:
		return ""
	}
	return ""
}

// RejectionReason says why the simulator refused a shipment request or an
// expected return, named like the contract's rejection reason values
// without the prefix.
type RejectionReason string

// Rejection reasons the simulator produces.
const (
	RejectionUnknownWarehouse RejectionReason = "UNKNOWN_WAREHOUSE"
	RejectionCapacity         RejectionReason = "CAPACITY"
	RejectionOther            RejectionReason = "OTHER"
)

// Date is a calendar date; the zero value means unset.
type Date struct {
	Year  int `json:"year,omitempty"`
	Month int `json:"month,omitempty"`
	Day   int `json:"day,omitempty"`
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// DateOf returns the UTC calendar date of t.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{Year: y, Month: int(m), Day: d}
}

// Address is a delivery address.
type Address struct {
	Recipient          string   `json:"recipient,omitempty"`
	Lines              []string `json:"lines,omitempty"`
	Locality           string   `json:"locality,omitempty"`
	AdministrativeArea string   `json:"administrativeArea,omitempty"`
	PostalCode         string   `json:"postalCode,omitempty"`
	RegionCode         string   `json:"regionCode,omitempty"`
}

// OrderLine is one line of a shipment request as the caller sent it.
type OrderLine struct {
	LineID   string `json:"lineId"`
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// ShipmentOrder is the caller's payload of a shipment request: everything
// CreateShipmentRequest sends except output-only fields. Its fingerprint
// detects an idempotency key reused with a different payload.
type ShipmentOrder struct {
	OrderID           string      `json:"orderId"`
	Warehouse         string      `json:"warehouse"`
	ShipTo            Address     `json:"shipTo"`
	RecipientPhone    string      `json:"recipientPhone,omitempty"`
	RecipientEmail    string      `json:"recipientEmail,omitempty"`
	Lines             []OrderLine `json:"lines"`
	CarrierPreference string      `json:"carrierPreference,omitempty"`
	// ServiceLevel is the contract's ServiceLevel value name without the
	// prefix ("STANDARD", "OVERNIGHT", ...), empty when unspecified.
	ServiceLevel      string `json:"serviceLevel,omitempty"`
	RequestedShipDate Date   `json:"requestedShipDate,omitzero"`
	CustomerReference string `json:"customerReference,omitempty"`
}

// Fingerprint is a stable hash of the order payload (stored with the
// request: new fields need omitempty or omitzero to keep old digests).
func (o ShipmentOrder) Fingerprint() string { return fingerprint.Of(o) }

// ShipmentRequest is a shipment request as the simulated WMS holds it.
type ShipmentRequest struct {
	// ID is the Transload fulfilment request id (the idempotency key).
	ID string `json:"id"`
	// Number is the WMS's own sequential outbound order number, assigned by
	// the Store on creation.
	Number      int64         `json:"number"`
	Order       ShipmentOrder `json:"order"`
	Fingerprint string        `json:"fingerprint"`
	State       State         `json:"state"`

	RejectionReason  RejectionReason `json:"rejectionReason,omitempty"`
	RejectionMessage string          `json:"rejectionMessage,omitempty"`
	CancelReason     string          `json:"cancelReason,omitempty"`

	// Set from PACKED (shipment id, carrier) and SHIPPED (tracking) on.
	ShipmentID     string `json:"shipmentId,omitempty"`
	Carrier        string `json:"carrier,omitempty"`
	CarrierService string `json:"carrierService,omitempty"`
	TrackingNumber string `json:"trackingNumber,omitempty"`
	TrackingURL    string `json:"trackingUrl,omitempty"`

	// EventCount is the sequence of the request's latest shipment event.
	EventCount int64 `json:"eventCount"`
	// Submissions counts CreateShipmentRequest calls received for the id,
	// the original included.
	Submissions int64     `json:"submissions"`
	CreateTime  time.Time `json:"createTime"`
	UpdateTime  time.Time `json:"updateTime"`
	// NextStepAt is when the next milestone is due; zero when none is.
	NextStepAt time.Time `json:"nextStepAt,omitzero"`
}

// WMSReference is the WMS's outbound order number for an accepted request,
// "" for a rejected one.
func (r *ShipmentRequest) WMSReference() string {
	if r.State == StateRejected {
		return ""
	}
	return fmt.Sprintf("OB-%s-%07d", warehouseShortCode(r.Order.Warehouse), r.Number)
}

// Shipped reports whether the request's goods have left the warehouse.
func (r *ShipmentRequest) Shipped() bool { return r.State.hasShipped() }

// FulfillmentComplete reports whether the WMS will ship nothing further.
func (r *ShipmentRequest) FulfillmentComplete() bool {
	return r.State.hasShipped() || r.State == StateCancelled || r.State == StateRejected
}

// EventLine is the quantity of one request line a shipment event covers.
type EventLine struct {
	LineID   string `json:"lineId"`
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// ShipmentEvent is one milestone of a shipment request in the feed.
type ShipmentEvent struct {
	// Position is the event's place in the feed, assigned by the Store.
	Position            int64       `json:"-"`
	EventID             string      `json:"eventId"`
	ShipmentRequestID   string      `json:"shipmentRequestId"`
	OrderID             string      `json:"orderId"`
	Warehouse           string      `json:"warehouse"`
	Sequence            int64       `json:"sequence"`
	State               State       `json:"state"`
	ShipmentID          string      `json:"shipmentId,omitempty"`
	Carrier             string      `json:"carrier,omitempty"`
	CarrierService      string      `json:"carrierService,omitempty"`
	TrackingNumber      string      `json:"trackingNumber,omitempty"`
	TrackingURL         string      `json:"trackingUrl,omitempty"`
	Lines               []EventLine `json:"lines,omitempty"`
	EstimatedDelivery   Date        `json:"estimatedDelivery,omitzero"`
	FulfillmentComplete bool        `json:"fulfillmentComplete,omitempty"`
	OccurTime           time.Time   `json:"occurTime"`
}

// advance moves r to its next milestone at r.NextStepAt and returns the
// event recording it; ok is false when nothing is due by now.
func (r *ShipmentRequest) advance(now time.Time, step time.Duration) (ShipmentEvent, bool) {
	if r.NextStepAt.IsZero() || r.NextStepAt.After(now) {
		return ShipmentEvent{}, false
	}
	next := r.State.next()
	if next == "" {
		r.NextStepAt = time.Time{}
		return ShipmentEvent{}, false
	}
	at := r.NextStepAt
	r.State = next
	r.UpdateTime = at
	r.EventCount++
	ev := ShipmentEvent{
		EventID:           fmt.Sprintf("SE-%08d-%d", r.Number, r.EventCount),
		ShipmentRequestID: r.ID,
		OrderID:           r.Order.OrderID,
		Warehouse:         r.Order.Warehouse,
		Sequence:          r.EventCount,
		State:             next,
		OccurTime:         at,
	}
	// Only these milestones set fields of the request.
	//exhaustive:ignore
	switch next {
	case StatePacked:
		r.ShipmentID = fmt.Sprintf("PCL-%08d-1", r.Number)
		r.Carrier, r.CarrierService = chooseCarrier(r.Order)
	case StateShipped:
		r.TrackingNumber, r.TrackingURL = tracking(r.Carrier, r.Number)
	}
	if next == StatePacked || next.hasShipped() {
		ev.ShipmentID, ev.Carrier, ev.CarrierService = r.ShipmentID, r.Carrier, r.CarrierService
	}
	if next.hasShipped() {
		ev.TrackingNumber, ev.TrackingURL = r.TrackingNumber, r.TrackingURL
		ev.EstimatedDelivery = estimatedDelivery(r.Order.ServiceLevel, at)
		ev.FulfillmentComplete = true
	}
	if next == StatePicked || next == StatePacked || next == StateShipped {
		for _, l := range r.Order.Lines {
			ev.Lines = append(ev.Lines, EventLine(l))
		}
	}
	if next.next() == "" {
		r.NextStepAt = time.Time{}
	} else {
		r.NextStepAt = at.Add(step)
	}
	return ev, true
}

func estimatedDelivery(serviceLevel string, shipped time.Time) Date {
	days := 2
	switch serviceLevel {
	case "OVERNIGHT":
		days = 1
	case "ECONOMY", "FREIGHT":
		days = 4
	}
	return DateOf(shipped.AddDate(0, 0, days))
}

// Warehouse is a warehouse the simulated WMS operates.
type Warehouse struct {
	Code string
	// Carrier is the carrier the warehouse hands parcels to unless the
	// request prefers another known carrier.
	Carrier string
}

// Warehouses are the warehouses the simulator knows, matching the ERP demo
// data.
var Warehouses = []Warehouse{
	{Code: "WH-HAM", Carrier: "DHL"},
	{Code: "WH-MUC", Carrier: "UPS"},
	{Code: "WH-BER", Carrier: "DHL"},
}

func findWarehouse(code string) (Warehouse, bool) {
	for _, w := range Warehouses {
		if w.Code == code {
			return w, true
		}
	}
	return Warehouse{}, false
}

func warehouseShortCode(code string) string {
	return strings.TrimPrefix(code, "WH-")
}

// chooseCarrier picks the carrier and its service: the preferred carrier
// when the simulator knows it, else the warehouse's.
func chooseCarrier(o ShipmentOrder) (carrier, service string) {
	carrier = strings.ToUpper(strings.TrimSpace(o.CarrierPreference))
	if carrier != "DHL" && carrier != "UPS" {
		w, _ := findWarehouse(o.Warehouse)
		carrier = w.Carrier
	}
	switch carrier {
	case "UPS":
		switch o.ServiceLevel {
		case "EXPEDITED":
			return carrier, "UPS Express Saver"
		case "OVERNIGHT":
			return carrier, "UPS Express"
		case "FREIGHT":
			return carrier, "UPS Freight"
		default:
			return carrier, "UPS Standard"
		}
	default:
		switch o.ServiceLevel {
		case "EXPEDITED", "OVERNIGHT":
			return "DHL", "DHL Express"
		case "FREIGHT":
			return "DHL", "DHL Freight"
		default:
			return "DHL", "DHL Paket"
		}
	}
}

// tracking returns a tracking number unique per outbound order number and
// the carrier's public tracking URL for it.
func tracking(carrier string, number int64) (trackingNumber, url string) {
	if carrier == "UPS" {
		n := fmt.Sprintf("1ZTL%014d", number)
		return n, "https://www.ups.com/track?tracknum=" + n
	}
	n := fmt.Sprintf("JJD00%015d", number)
	return n, "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode=" + n
}
