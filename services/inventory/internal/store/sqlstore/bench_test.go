package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/store/sqlstore"
	"github.com/transload/transload/services/inventory/internal/store/storetest"
)

// benchService loads 500 SKUs × 3 warehouses (1000 units each).
func benchService(b *testing.B, db *sqldb.DB) *inventory.Service {
	b.Helper()
	if err := sqlstore.Migrate(b.Context(), db); err != nil {
		b.Fatal(err)
	}
	st := sqlstore.New(db)
	snap := inventory.Snapshot{ID: "bench"}
	for n := 1; n <= 500; n++ {
		for _, wh := range []string{"WH-HAM", "WH-MUC", "WH-BER"} {
			snap.Rows = append(snap.Rows, inventory.InitialStock{SKU: fmt.Sprintf("SKU-%05d", n), WarehouseCode: wh, OnHand: 1_000_000})
		}
	}
	if _, err := st.LoadInitial(b.Context(), storetest.Warehouses(), snap, time.Now()); err != nil {
		b.Fatal(err)
	}
	svc := inventory.NewService(st)
	svc.MarkLoaded()
	return svc
}

func engines(b *testing.B, fn func(b *testing.B, db *sqldb.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, sqldbtest.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, sqldbtest.OpenPostgres(b)) })
}

// BenchmarkReserveRelease measures one three-line reservation and its
// release (two write transactions with row locks and outbox events).
func BenchmarkReserveRelease(b *testing.B) {
	engines(b, func(b *testing.B, db *sqldb.DB) {
		svc := benchService(b, db)
		i := 0
		for b.Loop() {
			i++
			r, _, err := svc.Reserve(b.Context(), inventory.ReserveParams{
				RequestID: fmt.Sprintf("b-%d", i), ReferenceID: fmt.Sprintf("o-%d", i), Channel: "web", AllowSplit: true,
				Lines: []inventory.ReserveLine{{SKU: "SKU-00001", Quantity: 1}, {SKU: "SKU-00002", Quantity: 2}, {SKU: "SKU-00003", Quantity: 3}},
			})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Release(b.Context(), inventory.ReleaseParams{ID: r.ID, RequestID: fmt.Sprintf("rel-%d", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheckAvailability measures a 20-SKU availability check (the
// checkout hot path before caching).
func BenchmarkCheckAvailability(b *testing.B) {
	engines(b, func(b *testing.B, db *sqldb.DB) {
		svc := benchService(b, db)
		var skus []string
		for n := 1; n <= 20; n++ {
			skus = append(skus, fmt.Sprintf("SKU-%05d", n*7))
		}
		for b.Loop() {
			if _, _, err := svc.CheckAvailability(b.Context(), inventory.AvailabilityQuery{SKUs: skus, Channel: "web"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
