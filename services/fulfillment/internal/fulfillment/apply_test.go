package fulfillment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func testRequest() *Request {
	return &Request{
		ID: "FR-O-1-WH-HAM", OrderID: "O-1", CustomerID: "C0001", WarehouseID: "WH-HAM", ReservationID: "R-1",
		State: RequestAcknowledged,
		Lines: []Line{{OrderLineID: "1", SKU: "SKU-1", Quantity: 3}, {OrderLineID: "2", SKU: "SKU-2", Quantity: 1}},
	}
}

func ev(id string, state ShipmentState, ref string, lines ...ShipmentLine) ShipmentEvent {
	return ShipmentEvent{EventID: id, RequestID: "FR-O-1-WH-HAM", WarehouseID: "WH-HAM", WMSReference: ref,
		State: state, Lines: lines, OccurTime: t0}
}

var allLines = []ShipmentLine{{OrderLineID: "1", SKU: "SKU-1", Quantity: 3}, {OrderLineID: "2", SKU: "SKU-2", Quantity: 1}}

// apply applies events in order, failing the test on any error.
func apply(t *testing.T, req *Request, evs ...ShipmentEvent) (*Request, *Shipment, []ShipmentOutcome) {
	t.Helper()
	var (
		sh   *Shipment
		outs []ShipmentOutcome
	)
	for i, e := range evs {
		out, err := ApplyShipmentEvent(req, sh, e, t0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatalf("event %s: %v", e.EventID, err)
		}
		req, sh = out.Request, out.Shipment
		outs = append(outs, out)
	}
	return req, sh, outs
}

func TestApplyShipmentEventProgression(t *testing.T) {
	orig := testRequest()
	req, sh, outs := apply(t, orig,
		ev("e1", ShipmentPicked, "", allLines...),
		ev("e2", ShipmentPacked, "P1"),
		ShipmentEvent{EventID: "e3", WarehouseID: "WH-HAM", WMSReference: "P1", State: ShipmentShipped, Carrier: "DHL", TrackingNumber: "T1", OccurTime: t0},
		ev("e4", ShipmentDelivered, "P1"),
	)
	if !outs[0].Created || outs[1].Created {
		t.Fatal("only the first event creates the shipment")
	}
	if outs[2].PreviousState != ShipmentPacked || !outs[2].ShippedNow || outs[2].DeliveredNow {
		t.Fatalf("ship outcome = %+v", outs[2])
	}
	if !outs[3].DeliveredNow || outs[3].ShippedNow {
		t.Fatalf("deliver outcome = %+v", outs[3])
	}
	if sh.State != ShipmentDelivered || sh.WMSReference != "P1" || sh.Carrier != "DHL" || sh.TrackingNumber != "T1" ||
		len(sh.History) != 4 || sh.ShipTime.IsZero() || sh.DeliveryTime.IsZero() || sh.ReservationID != "R-1" {
		t.Fatalf("shipment = %+v", sh)
	}
	if req.State != RequestCompleted || req.Lines[0].ShippedQuantity != 3 || req.Lines[1].ShippedQuantity != 1 {
		t.Fatalf("request = %+v", req)
	}
	if orig.State != RequestAcknowledged || orig.Lines[0].ShippedQuantity != 0 {
		t.Fatal("ApplyShipmentEvent modified its input request")
	}
}

func TestApplyShipmentEventStaleAndException(t *testing.T) {
	_, sh, outs := apply(t, testRequest(),
		ev("e1", ShipmentShipped, "P1", allLines...),
		ev("e2", ShipmentPicked, "P1"), // late, out of order
		ShipmentEvent{EventID: "e3", WMSReference: "P1", State: ShipmentException, Detail: "CARRIER_DELAY", OccurTime: t0},
		ev("e4", ShipmentPacked, "P1"), // older than the progress before the exception
		ev("e5", ShipmentInTransit, "P1"),
		ev("e6", ShipmentDelivered, "P1"),
		ev("e7", ShipmentException, "P1"), // nothing moves a delivered shipment
	)
	var stale []bool
	for _, o := range outs {
		stale = append(stale, o.Stale)
	}
	if diff := cmp.Diff([]bool{false, true, false, true, false, false, true}, stale); diff != "" {
		t.Fatalf("stale flags (-want +got):\n%s", diff)
	}
	if outs[2].Shipment.ExceptionDetail != "CARRIER_DELAY" || outs[4].Shipment.ExceptionDetail != "" {
		t.Fatal("exception detail is set in EXCEPTION and cleared after")
	}
	if sh.State != ShipmentDelivered || len(sh.History) != 7 || !sh.History[1].Stale {
		t.Fatalf("shipment = %+v", sh)
	}
	shipped := 0
	for _, o := range outs {
		if o.ShippedNow {
			shipped++
		}
	}
	if shipped != 1 {
		t.Fatalf("shipped %d times", shipped)
	}
}

func TestApplyShipmentEventDeliveredFirstImpliesShipped(t *testing.T) {
	req, _, outs := apply(t, testRequest(), ev("e1", ShipmentDelivered, "P1"))
	if !outs[0].ShippedNow || !outs[0].DeliveredNow {
		t.Fatalf("outcome = %+v", outs[0])
	}
	// Without lines the shipment takes what is left of the request.
	if got := outs[0].Shipment.Lines; len(got) != 2 || got[0].Quantity != 3 {
		t.Fatalf("lines = %+v", got)
	}
	if req.State != RequestCompleted {
		t.Fatalf("request state %s", req.State)
	}
}

func TestApplyShipmentEventPartialShipments(t *testing.T) {
	req := testRequest()
	out1, err := ApplyShipmentEvent(req, nil, ev("e1", ShipmentShipped, "P1", ShipmentLine{OrderLineID: "1", SKU: "SKU-1", Quantity: 2}), t0)
	if err != nil {
		t.Fatal(err)
	}
	if out1.Request.State != RequestAcknowledged || out1.Request.Lines[0].ShippedQuantity != 2 {
		t.Fatalf("after first parcel: %+v", out1.Request)
	}
	// A second parcel exceeding the rest is refused.
	_, err = ApplyShipmentEvent(out1.Request, nil, ev("e2", ShipmentShipped, "P2", ShipmentLine{OrderLineID: "1", SKU: "SKU-1", Quantity: 2}), t0)
	if r := AsRejection(err); r == nil || r.Reason != RejectQuantityExceedsRequested || r.Metadata["allowed"] != "3" {
		t.Fatalf("over-shipment: %v", err)
	}
	out2, err := ApplyShipmentEvent(out1.Request, nil, ev("e3", ShipmentShipped, "P3",
		ShipmentLine{OrderLineID: "1", SKU: "SKU-1", Quantity: 1}, ShipmentLine{OrderLineID: "2", Quantity: 1}), t0)
	if err != nil {
		t.Fatal(err)
	}
	if out2.Request.State != RequestCompleted {
		t.Fatalf("after last parcel: %s", out2.Request.State)
	}
}

func TestApplyShipmentEventRejections(t *testing.T) {
	cancelled := testRequest()
	cancelled.State = RequestCancelled
	tests := []struct {
		name string
		req  *Request
		ev   ShipmentEvent
		want RejectReason
	}{
		{"other warehouse", testRequest(), ShipmentEvent{EventID: "x", WarehouseID: "WH-MUC", State: ShipmentPicked}, RejectWarehouseMismatch},
		{"unknown line", testRequest(), ev("x", ShipmentPicked, "", ShipmentLine{OrderLineID: "9", SKU: "SKU-1", Quantity: 1}), RejectUnknownOrderLine},
		{"wrong sku", testRequest(), ev("x", ShipmentPicked, "", ShipmentLine{OrderLineID: "1", SKU: "SKU-2", Quantity: 1}), RejectUnknownOrderLine},
		{"too much", testRequest(), ev("x", ShipmentShipped, "P", ShipmentLine{OrderLineID: "1", SKU: "SKU-1", Quantity: 4}), RejectQuantityExceedsRequested},
		{"cancelled request", cancelled, ev("x", ShipmentPicked, ""), RejectInvalidStateTransition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ApplyShipmentEvent(tt.req, nil, tt.ev, t0)
			if r := AsRejection(err); r == nil || r.Reason != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestApplyShipmentEventZeroAndRepeatedLines(t *testing.T) {
	out, err := ApplyShipmentEvent(testRequest(), nil, ev("e1", ShipmentPicked, "",
		ShipmentLine{OrderLineID: "1", SKU: "SKU-1", Quantity: 1}, ShipmentLine{OrderLineID: "1", SKU: "SKU-1", Quantity: 1},
		ShipmentLine{OrderLineID: "2", SKU: "SKU-2", Quantity: 0}), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []ShipmentLine{{OrderLineID: "1", SKU: "SKU-1", Quantity: 2}}
	if diff := cmp.Diff(want, out.Shipment.Lines); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
}

func TestCommitAndProgressSumLines(t *testing.T) {
	occur := t0.Add(time.Hour)
	s := &Shipment{
		ID: "S-1", OrderID: "O-1", RequestID: "FR-O-1-WH-HAM", WarehouseID: "WH-HAM", ReservationID: "R-1", TrackingNumber: "T",
		Lines: []ShipmentLine{{OrderLineID: "1", SKU: "A", Quantity: 1}, {OrderLineID: "2", SKU: "B", Quantity: 2}, {OrderLineID: "1", SKU: "A", Quantity: 3}, {OrderLineID: "3", SKU: "A", Quantity: 1}},
	}
	wantCommit := Commit{ReservationID: "R-1", RequestID: "commit-S-1", WarehouseID: "WH-HAM", ShipmentID: "S-1",
		Lines: []ShipmentLine{{SKU: "A", Quantity: 5}, {SKU: "B", Quantity: 2}}}
	if diff := cmp.Diff(wantCommit, s.Commit()); diff != "" {
		t.Fatalf("Commit (-want +got):\n%s", diff)
	}
	wantProgress := Progress{OrderID: "O-1", EventID: "ev-9", ShipmentID: "S-1", RequestID: "FR-O-1-WH-HAM", WarehouseID: "WH-HAM",
		Delivered: true, TrackingNumber: "T", OccurTime: occur,
		Lines: []ShipmentLine{{OrderLineID: "1", Quantity: 4}, {OrderLineID: "2", Quantity: 2}, {OrderLineID: "3", Quantity: 1}}}
	if diff := cmp.Diff(wantProgress, s.Progress(true, "ev-9", occur)); diff != "" {
		t.Fatalf("Progress (-want +got):\n%s", diff)
	}
}

func TestRequestTransitions(t *testing.T) {
	r := testRequest()
	r.State = RequestPending
	r.DeliveryFailed("down", t0, t0.Add(time.Second))
	if r.State != RequestPending || r.LastError != "down" || !r.NextAttemptTime.Equal(t0.Add(time.Second)) {
		t.Fatalf("after failed delivery: %+v", r)
	}
	r.Acknowledge("W1", t0)
	if r.State != RequestAcknowledged || r.LastError != "" || r.WMSReference != "W1" || !r.AcknowledgeTime.Equal(t0) {
		t.Fatalf("after acknowledge: %+v", r)
	}
	if !r.CancelByWMS("wms", t0) || r.State != RequestCancelled {
		t.Fatalf("cancel: %+v", r)
	}
	r.State = RequestCompleted
	if r.CancelByWMS("wms", t0) {
		t.Fatal("a completed request was cancelled")
	}
}
