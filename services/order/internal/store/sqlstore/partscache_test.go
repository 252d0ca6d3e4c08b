package sqlstore_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
	"github.com/transload/transload/services/order/internal/store/sqlstore"
	"github.com/transload/transload/services/order/internal/store/storetest"
)

// TestPartsCacheReadsWhatTheTablesHold: an order read with the parts the
// store cached when it wrote them equals the order read from the tables,
// also when the written order held what the tables store differently
// (times with nanoseconds and in another zone, empty and missing lists),
// and the cached read runs one query instead of five. A version written
// by another store (another replica) is read from the tables.
func TestPartsCacheReadsWhatTheTablesHold(t *testing.T) {
	t.Parallel()
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s, other := sqlstore.New(db, orderpb.Encoder{}), sqlstore.New(db, orderpb.Encoder{})
		fresh := sqlstore.NewUncached(db, orderpb.Encoder{})
		berlin := time.FixedZone("CET", 3600)
		created := time.Date(2026, 11, 26, 10, 0, 0, 123456789, berlin)
		o := storetest.NewOrder("O-pc", "C0001", created)
		o.Lines[1].Allocations[0].Allocated = 1
		c := order.Claim{Kind: order.KindCreateOrder, RequestID: "req-pc", PayloadHash: "h", Owner: "me",
			LeaseUntil: time.Now().Add(time.Minute), OrderID: o.ID}
		if res, err := s.ClaimRequest(ctx, c); err != nil || !res.Acquired {
			t.Fatalf("claim: %+v, %v", res, err)
		}
		if err := s.CreateOrder(ctx, order.ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: c.Owner}, o, order.Effects{}); err != nil {
			t.Fatal(err)
		}
		same := func(what string) {
			t.Helper()
			hits, _ := s.PartsCacheStats()
			prepared, reused := db.StatementStats()
			got, err := s.GetOrder(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := s.PartsCacheStats(); after != hits+1 {
				t.Errorf("%s: the read did not take the cached parts", what)
			}
			if p, r := db.StatementStats(); db.Dialect() == sqldb.SQLite && p+r-prepared-reused != 1 {
				t.Errorf("%s: %d statements for a cached read, want 1 (the order row)", what, p+r-prepared-reused)
			}
			want, err := fresh.GetOrder(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s: cached read differs from the tables (-tables +cached):\n%s", what, d)
			}
		}
		same("created")
		at := created.Add(time.Minute + 7)
		update := func(st *sqlstore.Store, fn func(o *order.Order)) {
			t.Helper()
			if _, err := st.UpdateOrder(ctx, o.ID, nil, func(o *order.Order) (order.Effects, error) {
				fn(o)
				return order.Effects{}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		update(s, func(o *order.Order) {
			o.Shipments = append(o.Shipments,
				order.Shipment{ID: "S1", WarehouseID: "WH-HAM", Lines: []order.ShipmentLine{}, UpdatedAt: at},
				order.Shipment{ID: "S2", WarehouseID: "WH-MUC", UpdatedAt: at.Add(1)},
				order.Shipment{ID: "S3", WarehouseID: "WH-HAM", Lines: []order.ShipmentLine{{LineID: "1", Quantity: 2}}, UpdatedAt: at})
			o.Lines[0].Shipped, o.Lines[0].Allocations[0].Shipped = 2, 2
			o.History = append(o.History, order.StateChange{From: o.State, To: order.StateConfirmed, At: at, Reason: "r"})
			o.State = order.StateConfirmed
		})
		same("shipments with empty and missing lines")
		update(s, func(o *order.Order) { o.Shipments = o.Shipments[1:]; o.Lines[1].Returned = 1 })
		same("a shipment removed, a line returned")

		// Another replica's change: this store's cached version is no
		// longer the stored one, so it reads the tables.
		update(other, func(o *order.Order) { o.Lines[0].Delivered, o.Lines[0].Allocations[0].Delivered = 2, 2 })
		_, misses := s.PartsCacheStats()
		got, err := s.GetOrder(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, after := s.PartsCacheStats(); after != misses+1 {
			t.Errorf("a version another store wrote was served from the cache")
		}
		if got.Lines[0].Delivered != 2 {
			t.Errorf("read after another store's change: line delivered %d, want 2", got.Lines[0].Delivered)
		}
	})
}
