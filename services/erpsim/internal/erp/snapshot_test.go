package erp_test

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/store/sqlstore"
)

func newStore(t *testing.T) erp.Store {
	t.Helper()
	db := sqldbtest.OpenSQLite(t, sqldb.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	if _, err := s.Seed(t.Context(), erp.DemoSeed(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return s
}

func move(t *testing.T, svc *erp.Service) {
	t.Helper()
	if _, err := svc.RecordStockEvent(t.Context(), erp.StockEvent{SKU: "SKU-00001", WarehouseCode: "WH-HAM", Kind: erp.StockReceipt, Quantity: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestResumeStockSnapshot(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	clock := fakeclock.New(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	svc := erp.NewService(store, erp.WithClock(clock.Now))
	f := erp.StockFilter{SKUs: []string{"SKU-00001"}}

	snap, err := svc.StockSnapshot(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	move(t, svc)
	clock.Advance(20 * time.Minute)
	held, err := svc.ResumeStockSnapshot(t.Context(), snap.ID, f)
	if err != nil || held.Rows[0].OnHand != snap.Rows[0].OnHand || !held.AsOf.Equal(snap.AsOf) {
		t.Fatalf("resume after 20 min = %+v, %v; want the original rows", held, err)
	}
	clock.Advance(11 * time.Minute)
	if _, err := svc.ResumeStockSnapshot(t.Context(), snap.ID, f); !errors.Is(err, erp.ErrSnapshotExpired) {
		t.Errorf("resume after %s: err = %v, want ErrSnapshotExpired", erp.SnapshotTTL+time.Minute, err)
	}

	// A restarted simulator (new Service, empty cache) re-creates a snapshot
	// from its id while stock has not moved, and refuses once it has.
	snap2, err := svc.StockSnapshot(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	restarted := erp.NewService(store, erp.WithClock(clock.Now))
	got, err := restarted.ResumeStockSnapshot(t.Context(), snap2.ID, f)
	if err != nil || got.ID != snap2.ID || !got.AsOf.Equal(snap2.AsOf) || got.Rows[0].OnHand != snap2.Rows[0].OnHand {
		t.Errorf("resume after restart = %+v, %v", got, err)
	}
	move(t, restarted)
	if _, err := restarted.ResumeStockSnapshot(t.Context(), snap2.ID, f); !errors.Is(err, erp.ErrSnapshotExpired) {
		t.Errorf("resume after restart and a stock move: err = %v, want ErrSnapshotExpired", err)
	}
	if _, err := svc.ResumeStockSnapshot(t.Context(), snap2.ID, erp.StockFilter{}); !errors.Is(err, erp.ErrSnapshotExpired) {
		t.Errorf("resume with other filters: err = %v, want ErrSnapshotExpired", err)
	}
}

func TestHeldSnapshotsAreBounded(t *testing.T) {
	t.Parallel()
	svc := erp.NewService(newStore(t))
	f := erp.StockFilter{SKUs: []string{"SKU-00002"}}
	first, err := svc.StockSnapshot(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	for range 16 {
		if _, err := svc.StockSnapshot(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	move(t, svc)
	if _, err := svc.ResumeStockSnapshot(t.Context(), first.ID, f); !errors.Is(err, erp.ErrSnapshotExpired) {
		t.Errorf("oldest of 17 snapshots after a stock move: err = %v, want ErrSnapshotExpired (evicted)", err)
	}
}
