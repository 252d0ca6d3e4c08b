package order

import (
	"testing"
	"time"
)

// TestIdempotencyDigests pins the payload digests stored in
// idempotency_keys (the values the sha256-of-JSON code before
// platform/fingerprint computed): a build that computed other digests would refuse every
// retry spanning its deploy as a reused request id.
func TestIdempotencyDigests(t *testing.T) {
	t.Parallel()
	create := CreateParams{
		RequestID: "r-1", CustomerID: "C0001", Channel: "web", Currency: "EUR",
		ShipTo: Address{Recipient: "ACME", Lines: []string{"Hafenstr. 1"}, Locality: "Hamburg", RegionCode: "DE"},
		Lines:  []QuoteLine{{SKU: "SKU-00001", Quantity: 2}}, CustomerPONumber: "PO-7", Notes: "n",
		HasExpectedTotal: true, ExpectedTotalMinor: 200, ExpectedCurrency: "EUR",
	}
	progress := ProgressParams{
		OrderID: "O-1", EventID: "ev-1", ShipmentID: "S-1", FulfillmentRequestID: "F-1", WarehouseID: "WH-HAM",
		Milestone: MilestoneShipped, TrackingNumber: "T-1", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Lines: []ShipmentLine{{LineID: "1", Quantity: 2}},
	}
	for _, tc := range []struct{ name, got, want string }{
		{"create", create.payloadHash(), "e919b58c61540430d437dd82ab9170d5a84d6c7baf4dbc0c3517330557612a42"},
		{"progress", progress.hash(), "c5f68548e036ef6a896a60d48830bd8156f7beec653954a5fec6bedb06173858"},
		{"cancel", CancelParams{OrderID: "O-1", Reason: "r", Etag: `W/"2"`}.hash(), "5797e448650500de6c0d32bb83b605a34ff59870edf8db90253b818b503d373a"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s digest = %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}
