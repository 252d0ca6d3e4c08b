package inventory

import (
	"testing"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// TestStoredFingerprints pins the request fingerprints and the feed batch
// id that are stored (reservations.request_hash, reservation_requests,
// stock_event_batches, stock_event_batches.request_id): they were computed
// as hex SHA-256 of the JSON encoding before platform/fingerprint existed,
// and a retry spanning an upgrade must still match. A change of a JSON
// name or of the encoding fails here, and so would an actor (who calls is
// no part of the payload: a retry by another principal is the same
// request).
func TestStoredFingerprints(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"reserve", ReserveParams{RequestID: "req-1", ReferenceID: "order-1", Channel: "web", AllowSplit: true, HoldTTL: 15 * time.Minute,
			Lines: []ReserveLine{{SKU: "SKU-1", Quantity: 2}, {SKU: "SKU-2", Quantity: 1}}, DestinationRegion: "de-north",
			Actor: Actor{Kind: "api_key", ID: "key-1"}}.Fingerprint(),
			"00f14b7f65c52f5780e42b67957455c4d673b8daa696c0d0f99f3926535d6b67"},
		{"release", fingerprint.Of(ReleaseParams{ID: "r1", RequestID: "rel", Reason: "order_cancelled",
			Lines: []ReleaseLine{{SKU: "SKU-1", Quantity: 1, WarehouseCode: "WH-HAM"}}, Actor: Actor{Kind: "operator", ID: "key-2"}}),
			"059b90b1d54fd093db237ebc33d2d090b6a1cdc849af20f4f93ffdaff4aa9063"},
		{"stock events", fingerprint.Of(ApplyStockEventsParams{RequestID: "b1", SourceSystem: "wms", Invalid: map[int]string{},
			Events: []StockEvent{{EventID: "e1", SKU: "SKU-1", WarehouseCode: "WH-HAM", Sequence: 3, Kind: KindReceipt, Quantity: 5, OccurTime: at}}}),
			"56e951f79eb736d49864e048ebfdb7cdecbcafc5ea8726b569465d237da37741"},
		{"feed batch id", feedRequestID("erp", "c0", "c2"), "feed:erp:eff318fd40fa4bee6609c02553dd967aa4d538a0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}
