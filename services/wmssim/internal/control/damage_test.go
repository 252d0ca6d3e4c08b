package control_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/services/wmssim/internal/control"
	"github.com/transload/transload/services/wmssim/internal/faults"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// delayedFixture is the control API on a simulator with a fake clock that
// receives returns on its own after delay.
func delayedFixture(t *testing.T, delay time.Duration) (*wms.Service, *fakeclock.Clock, string) {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(fakeclock.Start)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	set := &faults.Set{}
	svc := wms.NewService(sqlstore.New(db), wms.WithClock(clock), wms.WithReturnReceiptDelay(delay), wms.WithFaults(set), wms.WithLogger(logger))
	srv := httptest.NewServer(control.New(svc, set, logger))
	t.Cleanup(srv.Close)
	return svc, clock, srv.URL
}

// A damaged receipt through the control API (condition DAMAGED,
// disposition SCRAP) of part of a return that wmssim would receive on its
// own later: the event carries the damage, an unknown disposition is 409,
// and the automatic receipt no longer happens once the control API took
// over.
func TestReceiveDamagedEndsTheAutomaticReceipt(t *testing.T) {
	t.Parallel()
	svc, clock, url := delayedFixture(t, time.Minute)
	notice := wms.ReturnNotice{OrderID: "O-1", Warehouse: "WH-HAM", Lines: []wms.ReturnLine{{LineID: "r1", SKU: "SKU-00001", Quantity: 2}}}
	if _, err := svc.RegisterExpectedReturn(context.Background(), "RMA-D", notice); err != nil {
		t.Fatal(err)
	}
	if code := do(t, "POST", url+"/control/returns/RMA-D:receive",
		`{"lines":[{"lineId":"r1","quantity":1,"condition":"DAMAGED","disposition":"BURN"}]}`, nil); code != http.StatusConflict {
		t.Fatalf("unknown disposition: %d, want 409", code)
	}
	var ev wms.ReturnEvent
	code := do(t, "POST", url+"/control/returns/RMA-D:receive",
		`{"lines":[{"lineId":"r1","quantity":1,"condition":"DAMAGED","disposition":"SCRAP","note":"crushed"}]}`, &ev)
	if code != http.StatusOK || ev.ReceiptComplete || len(ev.Lines) != 1 || ev.Lines[0].Condition != wms.ConditionDamaged ||
		ev.Lines[0].Disposition != wms.DispositionScrap || ev.Lines[0].Note != "crushed" || ev.Lines[0].Quantity != 1 {
		t.Fatalf("damaged receipt: %d %+v", code, ev)
	}
	clock.Advance(2 * time.Minute)
	if n, err := svc.ProcessDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("after a control receipt: %d automatic receipts, %v; want none", n, err)
	}
	if r, _ := svc.GetExpectedReturn(context.Background(), "RMA-D"); r.State != wms.ReturnPartiallyReceived {
		t.Fatalf("state %s, want PARTIALLY_RECEIVED", r.State)
	}
}

// holdReturns (POST /control/faults) keeps due automatic receipts waiting
// until it is cleared, so a test can receive through the control API
// without racing them.
func TestHoldReturns(t *testing.T) {
	t.Parallel()
	svc, clock, url := delayedFixture(t, time.Second)
	var f faults.Faults
	if code := do(t, "POST", url+"/control/faults", `{"holdReturns":true}`, &f); code != http.StatusOK || !f.HoldReturns {
		t.Fatalf("hold: %d %+v", code, f)
	}
	notice := wms.ReturnNotice{OrderID: "O-1", Warehouse: "WH-HAM", Lines: []wms.ReturnLine{{LineID: "r1", SKU: "SKU-00001", Quantity: 1}}}
	if _, err := svc.RegisterExpectedReturn(context.Background(), "RMA-H", notice); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if n, err := svc.ProcessDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("while held: %d receipts, %v", n, err)
	}
	if code := do(t, "POST", url+"/control/faults", `{"holdReturns":false}`, &f); code != http.StatusOK || f.HoldReturns {
		t.Fatalf("release: %d %+v", code, f)
	}
	if n, err := svc.ProcessDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("after the hold: %d receipts, %v; want 1", n, err)
	}
}
