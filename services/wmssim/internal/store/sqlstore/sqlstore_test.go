package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/store/storetest"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		// Migrating again is a no-op.
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		storetest.Run(t, func(*testing.T) wms.Store { return sqlstore.New(db) })
	})
}

// fixedClock is a settable clock for the progression.
type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time { return c.now }

// TestProgressionCommitsOncePerRound: a progression round that moves 20
// requests through a milestone each commits once (it committed once per
// request), and the feed holds one event per request.
func TestProgressionCommitsOncePerRound(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	clock := &fixedClock{now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	svc := wms.NewService(sqlstore.New(db), wms.WithClock(clock), wms.WithStep(time.Second))
	const n = 20
	for i := range n {
		order := wms.ShipmentOrder{OrderID: fmt.Sprint("O-", i), Warehouse: "WH-HAM",
			ShipTo: wms.Address{Recipient: "A", Lines: []string{"Street 1"}, RegionCode: "DE"},
			Lines:  []wms.OrderLine{{LineID: "1", SKU: "SKU-00001", Quantity: 1}}}
		if _, err := svc.CreateShipmentRequest(t.Context(), fmt.Sprint("FR-", i), order); err != nil {
			t.Fatal(err)
		}
	}
	clock.now = clock.now.Add(time.Second)
	before, _ := db.CommitStats()
	got, err := svc.ProcessDue(t.Context())
	if err != nil || got != n {
		t.Fatalf("ProcessDue = %d, %v; want %d events", got, err, n)
	}
	after, _ := db.CommitStats()
	if after-before != 1 {
		t.Fatalf("a round of %d milestones took %d commits, want 1", n, after-before)
	}
	for i := range n {
		r, err := svc.GetShipmentRequest(t.Context(), fmt.Sprint("FR-", i))
		if err != nil || r.State != wms.StatePicked {
			t.Fatalf("FR-%d = %s, %v; want PICKED", i, r.State, err)
		}
	}
}
