package wms

import (
	"errors"
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pos := range []int64{0, 1, 42, 1 << 40} {
		c := encodeCursor(shipmentCursorPrefix, pos)
		got, err := decodeCursor(c, shipmentCursorPrefix, FeedShipmentEvents, 1<<40)
		if err != nil || got != pos {
			t.Errorf("decode(encode(%d)) = %d, %v", pos, got, err)
		}
	}
	if got, err := decodeCursor("", shipmentCursorPrefix, FeedShipmentEvents, 0); err != nil || got != 0 {
		t.Errorf("empty cursor = %d, %v", got, err)
	}
}

func TestCursorRejects(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]string{
		"not base64":     "***",
		"other feed":     encodeCursor(returnCursorPrefix, 1),
		"beyond head":    encodeCursor(shipmentCursorPrefix, 11),
		"negative":       encodeCursor(shipmentCursorPrefix, -1),
		"leading zero":   "d21zc2ltLnNlLnYxOjAx", // "wmssim.se.v1:01"
		"no number":      encodeCursor(shipmentCursorPrefix, 0)[:10],
		"padded base64":  encodeCursor(shipmentCursorPrefix, 1) + "=",
		"prefix only":    "d21zc2ltLnNlLnYxOg", // "wmssim.se.v1:"
		"trailing stuff": encodeCursor(shipmentCursorPrefix, 1) + "AA",
	} {
		_, err := decodeCursor(c, shipmentCursorPrefix, FeedShipmentEvents, 10)
		var ic *InvalidCursorError
		if !errors.As(err, &ic) || ic.Feed != FeedShipmentEvents {
			t.Errorf("%s (%q): err = %v, want InvalidCursorError", name, c, err)
		}
	}
}

func TestChooseCarrier(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		warehouse, preference, level string
		carrier, service             string
	}{
		{"WH-HAM", "", "", "DHL", "DHL Paket"},
		{"WH-MUC", "", "STANDARD", "UPS", "UPS Standard"},
		{"WH-BER", "", "OVERNIGHT", "DHL", "DHL Express"},
		{"WH-HAM", "ups", "EXPEDITED", "UPS", "UPS Express Saver"},
		{"WH-MUC", "DHL", "FREIGHT", "DHL", "DHL Freight"},
		{"WH-MUC", "FedEx", "", "UPS", "UPS Standard"},
	} {
		carrier, service := chooseCarrier(ShipmentOrder{Warehouse: c.warehouse, CarrierPreference: c.preference, ServiceLevel: c.level})
		if carrier != c.carrier || service != c.service {
			t.Errorf("%+v: got %s / %s", c, carrier, service)
		}
	}
}

func TestTrackingNumbersAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, carrier := range []string{"DHL", "UPS"} {
		for n := int64(1); n <= 1000; n++ {
			num, url := tracking(carrier, n)
			if seen[num] || url == "" {
				t.Fatalf("%s %d: tracking %q url %q repeated or missing", carrier, n, num, url)
			}
			seen[num] = true
		}
	}
}

func TestAdvanceStopsAtDelivered(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := ShipmentRequest{ID: "FR", Number: 7, State: StateAccepted, NextStepAt: t0.Add(time.Second),
		Order: ShipmentOrder{Warehouse: "WH-HAM", Lines: []OrderLine{{LineID: "1", SKU: "S", Quantity: 3}}}}
	if _, ok := r.advance(t0, time.Second); ok {
		t.Fatal("advanced before due")
	}
	var states []State
	for {
		ev, ok := r.advance(t0.Add(time.Hour), time.Second)
		if !ok {
			break
		}
		states = append(states, ev.State)
		if ev.EventID == "" || ev.Sequence != int64(len(states)) {
			t.Fatalf("event %+v", ev)
		}
	}
	if len(states) != 4 || states[3] != StateDelivered || !r.NextStepAt.IsZero() || r.EventCount != 4 {
		t.Fatalf("states %v, request %+v", states, r)
	}
	if r.WMSReference() != "OB-HAM-0000007" || !r.FulfillmentComplete() || !r.Shipped() {
		t.Fatalf("request %+v", r)
	}
}
