package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/store/storetest"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

// A parcel the WMS receives after its return authorization was closed
// without receipt (the late-parcel race with a cancellation or expiry) is
// not lost: the receipt is recorded, raised once on the exception desk as
// a WMS_REJECTION naming the closed return, and neither restocked nor
// reported to the order service (which would refuse it). A feed read
// again records nothing twice.
func TestLateParcelAfterCancellationRecordedForTheDesk(t *testing.T) {
	s, db := newStoreDB(t)
	ctx := t.Context()
	expectReturn(t, s, "RMA-L", 2)
	storetest.InTx(t, s, func(tx fulfillment.Tx) error {
		changed, err := tx.CancelExpectedReturn(ctx, "RMA-L", t0)
		if err == nil && !changed {
			t.Error("cancel changed nothing")
		}
		return err
	})
	wms := &fakeWMS{returns: []*wmsv1.ReturnEvent{
		returnEvent("RE-L1", "RMA-L", returnLine("RL-1", "SKU-1", 1, wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK)),
	}}
	now := t0.Add(time.Hour)
	common := worker.Common{Now: func() time.Time { return now }}
	p := worker.NewPoller(s, wms, worker.PollerConfig{Common: common, Source: "wms.returns", Returns: true})
	for range 2 {
		if _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		storetest.InTx(t, s, func(tx fulfillment.Tx) error { return tx.SetCursor(ctx, "wms.returns", "", now) })
	}
	receipts, err := s.ListReturnReceipts(ctx, fulfillment.ReturnReceiptQuery{OrderID: "O-1", Page: fulfillment.Page{Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(receipts) != 1 || receipts[0].ReturnAuthorizationID != "RMA-L" || receipts[0].Lines[0].Quantity != 1 {
		t.Fatalf("receipts %+v, want the late parcel's one", receipts)
	}
	for _, st := range []fulfillment.EffectState{fulfillment.EffectPending, fulfillment.EffectFailed, fulfillment.EffectDone} {
		if n, err := s.CountEffects(ctx, st); err != nil || n != 0 {
			t.Errorf("%s effects %d, %v; want none (no restock, no order report)", st, n, err)
		}
	}
	excs, _ := opsEvents(t, db)
	got := summarize(excs)
	if len(got) != 1 {
		t.Fatalf("exceptions %+v, want one", got)
	}
	e := got[0]
	if e.Kind != opsv1.Exception_KIND_WMS_REJECTION || e.Resource != "returnAuthorizations/RMA-L" ||
		e.Details["wmsCode"] != string(fulfillment.RejectReturnCancelled) || e.Details["wmsEvent"] != "RE-L1" ||
		!strings.Contains(e.Details["wmsMessage"].(string), "closed without receipt") {
		t.Errorf("exception %+v", e)
	}
}

// The registration of an expected return cancelled before the effect
// runner reached it does not call the WMS.
func TestCancelledExpectedReturnNotRegistered(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	er := fulfillment.ExpectedReturn{ID: "RMA-C", ReturnAuthorizationID: "RMA-C", OrderID: "O-1", WarehouseID: "WH-HAM", CreateTime: t0,
		Lines: []fulfillment.ReturnLine{{LineID: "RL-1", OrderLineID: "1", SKU: "SKU-1", Quantity: 1}}}
	storetest.InTx(t, s, func(tx fulfillment.Tx) error {
		if _, err := tx.InsertExpectedReturn(ctx, er); err != nil {
			return err
		}
		if _, err := tx.EnqueueEffect(ctx, fulfillment.RegisterReturnEffect(er, t0)); err != nil {
			return err
		}
		_, err := tx.CancelExpectedReturn(ctx, er.ID, t0)
		return err
	})
	wms := &registerCountingWMS{fakeWMS: &fakeWMS{}}
	r := worker.NewEffectRunner(s, nil, nil, wms, worker.EffectRunnerConfig{Common: worker.Common{Now: func() time.Time { return t0 }}})
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if wms.registered != 0 {
		t.Errorf("registered %d times, want 0", wms.registered)
	}
	if n, err := s.CountEffects(ctx, fulfillment.EffectDone); err != nil || n != 1 {
		t.Errorf("done effects %d, %v; want the skipped registration", n, err)
	}
}

// registerCountingWMS counts RegisterExpectedReturn calls.
type registerCountingWMS struct {
	*fakeWMS
	registered int
}

func (w *registerCountingWMS) RegisterExpectedReturn(ctx context.Context, er fulfillment.ExpectedReturn) (fulfillment.WMSAnswer, error) {
	w.registered++
	return w.fakeWMS.RegisterExpectedReturn(ctx, er)
}

// A receipt recorded before fulfillment learnt that its return was closed
// (the parcel raced the cancellation) is refused by the order service
// (INVALID_STATE_TRANSITION for a CLOSED return): the report is parked,
// and the refusal is raised on the desk instead of only logged.
func TestReceiptRefusedByOrderRaisedForTheDesk(t *testing.T) {
	s, db := newStoreDB(t)
	ctx := t.Context()
	expectReturn(t, s, "RMA-R", 1)
	wms := &fakeWMS{returns: []*wmsv1.ReturnEvent{
		returnEvent("RE-R1", "RMA-R", returnLine("RL-1", "SKU-1", 1, wmsv1.ReturnDisposition_RETURN_DISPOSITION_QUARANTINE)),
	}}
	common := worker.Common{Now: func() time.Time { return t0 }}
	if _, err := worker.NewPoller(s, wms, worker.PollerConfig{Common: common, Source: "wms.returns", Returns: true}).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	receipts, err := s.ListReturnReceipts(ctx, fulfillment.ReturnReceiptQuery{OrderID: "O-1", Page: fulfillment.Page{Limit: 10}})
	if err != nil || len(receipts) != 1 {
		t.Fatalf("receipts %v, %v", receipts, err)
	}
	refused := &fulfillment.DependencyError{Dependency: "order", Rejected: true, Reason: "ERROR_REASON_INVALID_STATE_TRANSITION",
		Err: errors.New("return RMA-R cannot move from STATE_CLOSED to STATE_RECEIVED")}
	rec := &recorder{failOnce: map[string]error{receipts[0].ID: refused}}
	if _, err := worker.NewEffectRunner(s, rec, rec, wms, worker.EffectRunnerConfig{Common: common}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountEffects(ctx, fulfillment.EffectFailed); err != nil || n != 1 {
		t.Errorf("failed effects %d, %v; want the parked report", n, err)
	}
	excs, _ := opsEvents(t, db)
	got := summarize(excs)
	if len(got) != 1 || got[0].Kind != opsv1.Exception_KIND_WMS_REJECTION || got[0].Resource != "returnAuthorizations/RMA-R" ||
		got[0].Details["wmsCode"] != "ERROR_REASON_INVALID_STATE_TRANSITION" {
		t.Fatalf("exceptions %+v, want the refused receipt of RMA-R", got)
	}
}
