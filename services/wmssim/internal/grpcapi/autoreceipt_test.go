package grpcapi_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// With a receipt delay, an expected return is received on its own once the
// delay passed (everything outstanding, NEW, RESTOCK, stamped with the due
// time), once; a return received or cancelled through the control API
// before is not received again; without a delay nothing happens.
func TestExpectedReturnReceivedAfterTheDelay(t *testing.T) {
	t.Parallel()
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		clock := fakeclock.New(fakeclock.Start)
		store := sqlstore.New(db)
		const delay = 30 * time.Second
		svc := wms.NewService(store, wms.WithClock(clock), wms.WithStep(step), wms.WithReturnReceiptDelay(delay),
			wms.WithLogger(slog.New(slog.DiscardHandler)))
		manual := wms.NewService(store, wms.WithClock(clock), wms.WithStep(step), wms.WithLogger(slog.New(slog.DiscardHandler)))
		notice := wms.ReturnNotice{OrderID: "O-1", Warehouse: "WH-HAM", Lines: []wms.ReturnLine{
			{LineID: "r1", SKU: "SKU-00001", Quantity: 2}, {LineID: "r2", SKU: "SKU-00002", Quantity: 1},
		}}
		registeredAt := clock.Now().UTC().Truncate(time.Microsecond)
		for _, id := range []string{"RMA-AUTO", "RMA-PARTIAL", "RMA-CANCELLED"} {
			if _, err := svc.RegisterExpectedReturn(ctx, id, notice); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := manual.RegisterExpectedReturn(ctx, "RMA-MANUAL", notice); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ReceiveReturn(ctx, "RMA-PARTIAL", []wms.ReceiptLine{{LineID: "r1", Quantity: 1, Disposition: wms.DispositionScrap}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CancelExpectedReturn(ctx, "RMA-CANCELLED", "kept"); err != nil {
			t.Fatal(err)
		}

		clock.Advance(delay - time.Second)
		if n, err := svc.ProcessDue(ctx); err != nil || n != 0 {
			t.Fatalf("before the delay: %d receipts, %v", n, err)
		}
		clock.Advance(time.Minute) // the ticker was late: the receipt keeps its due time
		if n, err := svc.ProcessDue(ctx); err != nil || n != 1 {
			t.Fatalf("after the delay: %d receipts, %v; want 1", n, err)
		}
		if n, err := svc.ProcessDue(ctx); err != nil || n != 0 {
			t.Fatalf("again: %d receipts, %v; want none", n, err)
		}
		page, err := svc.ListReturnEvents(ctx, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 2 {
			t.Fatalf("return feed has %d events, want the manual partial receipt and the automatic one", len(page.Events))
		}
		auto := page.Events[1]
		if auto.ExpectedReturn != "RMA-AUTO" || !auto.ReceiptComplete || !auto.OccurTime.Equal(registeredAt.Add(delay)) || len(auto.Lines) != 2 {
			t.Fatalf("automatic receipt = %+v", auto)
		}
		for _, l := range auto.Lines {
			if l.Condition != wms.ConditionNew || l.Disposition != wms.DispositionRestock || l.Quantity != map[string]int64{"r1": 2, "r2": 1}[l.LineID] {
				t.Errorf("automatic receipt line %+v", l)
			}
		}
		for id, want := range map[string]wms.ReturnState{
			"RMA-AUTO": wms.ReturnReceived, "RMA-PARTIAL": wms.ReturnPartiallyReceived,
			"RMA-CANCELLED": wms.ReturnCancelled, "RMA-MANUAL": wms.ReturnExpected,
		} {
			r, err := svc.GetExpectedReturn(ctx, id)
			if err != nil || r.State != want || !r.ReceiveAt.IsZero() && id != "RMA-MANUAL" {
				t.Errorf("%s: state %s receiveAt %v, %v; want %s and no pending receipt", id, r.State, r.ReceiveAt, err, want)
			}
		}
	})
}
