package worker_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
	"github.com/transload/transload/services/fulfillment/internal/store/storetest"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

// expectReturn records expected return rma of order O-1 at WH-HAM: qty
// units of order line 1 (SKU-1) on its return line RL-1.
func expectReturn(t *testing.T, s fulfillment.Store, rma string, qty int64) {
	t.Helper()
	storetest.InTx(t, s, func(tx fulfillment.Tx) error {
		_, err := tx.InsertExpectedReturn(t.Context(), fulfillment.ExpectedReturn{
			ID: rma, ReturnAuthorizationID: rma, OrderID: "O-1", WarehouseID: "WH-HAM", CreateTime: t0,
			Lines: []fulfillment.ReturnLine{{LineID: "RL-1", OrderLineID: "1", SKU: "SKU-1", Quantity: qty}},
		})
		return err
	})
}

func returnEvent(id, rma string, lines ...*wmsv1.ReturnEventLine) *wmsv1.ReturnEvent {
	return &wmsv1.ReturnEvent{EventId: id, ReturnAuthorizationId: rma, OrderId: "O-1", WarehouseCode: "WH-HAM",
		Lines: lines, OccurTime: timestamppb.New(t0)}
}

func returnLine(lineID, sku string, qty int64, d wmsv1.ReturnDisposition) *wmsv1.ReturnEventLine {
	return &wmsv1.ReturnEventLine{LineId: lineID, Sku: sku, ReceivedQuantity: qty, Disposition: d,
		Condition: wmsv1.ReturnCondition_RETURN_CONDITION_NEW}
}

// The return feed records one receipt per WMS receipt, matched to the RMA
// lines (by line id, or by SKU), with its effects in the same transaction:
// RESTOCK units back to stock with consecutive sequences per (SKU,
// warehouse), SCRAP and QUARANTINE recorded only, and the report to the
// order service, retried while it is down and shown on the receipt. A feed
// read again applies nothing twice; an unplanned return and a receipt of
// more than the return expects are refused.
func TestReturnReceiptsRecordedRestockedAndReportedOnce(t *testing.T) {
	s, db := newStoreDB(t)
	ctx := t.Context()
	expectReturn(t, s, "RMA-1", 3)
	wms := &fakeWMS{returns: []*wmsv1.ReturnEvent{
		returnEvent("RE-1", "RMA-1", returnLine("RL-1", "SKU-1", 1, wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK)),
		returnEvent("RE-X", "RMA-UNPLANNED", returnLine("", "SKU-1", 1, wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK)),
		// By SKU only: a damaged unit scrapped, the other restocked.
		returnEvent("RE-2", "RMA-1"),
	}}
	wms.returns[2].Lines = []*wmsv1.ReturnEventLine{
		returnLine("", "SKU-1", 1, wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK),
	}
	wms.returns = append(wms.returns,
		returnEvent("RE-3", "RMA-1", returnLine("RL-1", "SKU-1", 1, wmsv1.ReturnDisposition_RETURN_DISPOSITION_SCRAP)),
		// A fourth unit of a line of three.
		returnEvent("RE-4", "RMA-1", returnLine("RL-1", "SKU-1", 1, wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK)))
	now := t0
	common := worker.Common{Now: func() time.Time { return now }}
	p := worker.NewPoller(s, wms, worker.PollerConfig{Common: common, Source: "wms.returns", Returns: true, PageSize: 2})
	for range 4 {
		if _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The feed delivered again from the start: all duplicates.
	storetest.InTx(t, s, func(tx fulfillment.Tx) error { return tx.SetCursor(ctx, "wms.returns", "", now) })
	for range 4 {
		if _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}

	receipts, err := s.ListReturnReceipts(ctx, fulfillment.ReturnReceiptQuery{OrderID: "O-1", Page: fulfillment.Page{Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(receipts) != 3 {
		t.Fatalf("%d receipts, want 3 (RE-1, RE-2, RE-3)", len(receipts))
	}
	byEvent := map[string]*fulfillment.ReturnReceipt{}
	for _, rr := range receipts {
		byEvent[rr.WMSEventID] = rr
		if rr.ReturnAuthorizationID != "RMA-1" || rr.CustomerID != "C0001" || rr.WarehouseID != "WH-HAM" || len(rr.Lines) != 1 ||
			rr.Lines[0].ReturnLineID != "RL-1" || rr.Lines[0].OrderLineID != "1" {
			t.Errorf("receipt %+v", rr)
		}
	}
	if byEvent["RE-3"].Lines[0].Disposition != fulfillment.DispositionScrap || byEvent["RE-2"].Lines[0].Disposition != fulfillment.DispositionRestock {
		t.Errorf("dispositions: RE-2 %+v, RE-3 %+v", byEvent["RE-2"].Lines, byEvent["RE-3"].Lines)
	}
	rejected, err := s.RejectedWMSEvents(ctx, 10)
	reasons := map[string]string{}
	for _, r := range rejected {
		reasons[r.EventID] = r.Reason
	}
	if err != nil || len(rejected) != 2 || reasons["RE-X"] != string(fulfillment.RejectUnknownReturn) ||
		reasons["RE-4"] != string(fulfillment.RejectQuantityExceedsRequested) {
		t.Fatalf("rejected = %+v, %v; want the unplanned return RE-X and the over-receipt RE-4", rejected, err)
	}
	// Each refusal is on the exception desk once (not again when the feed
	// was read a second time).
	excs, _ := opsEvents(t, db)
	refusal := func(rma, event string, reason fulfillment.RejectReason, msg string) exceptionSummary {
		return exceptionSummary{
			Kind: opsv1.Exception_KIND_WMS_REJECTION, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
			Resource: "returnAuthorizations/" + rma,
			Details: map[string]any{"return": rma, "order": "O-1", "warehouse": "WH-HAM", "wmsEvent": event,
				"wmsCode": string(reason), "wmsMessage": msg},
		}
	}
	want := []exceptionSummary{
		refusal("RMA-UNPLANNED", "RE-X", fulfillment.RejectUnknownReturn, `return receipt for "RMA-UNPLANNED", which fulfilment never registered (unplanned return)`),
		refusal("RMA-1", "RE-4", fulfillment.RejectQuantityExceedsRequested, "return RMA-1 line RL-1: 4 received in all, 3 expected"),
	}
	if diff := cmp.Diff(want, summarize(excs)); diff != "" {
		t.Errorf("exceptions (-want +got):\n%s", diff)
	}

	down := &fulfillment.DependencyError{Dependency: "order", Err: errors.New("down")}
	rec := &recorder{failOnce: map[string]error{byEvent["RE-2"].ID: down}}
	r := worker.NewEffectRunner(s, rec, rec, wms, worker.EffectRunnerConfig{Schedule: oneSecond, Common: common})
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// Two restocks (RE-1, RE-2; RE-3 scrapped one unit), in sequence.
	if len(rec.restockCalls) != 2 {
		t.Fatalf("restock calls %+v, want 2", rec.restockCalls)
	}
	for i, call := range rec.restockCalls {
		ev := call.Events[0]
		if len(call.Events) != 1 || ev.SKU != "SKU-1" || ev.WarehouseID != "WH-HAM" || ev.Quantity != 1 || ev.Sequence != int64(i+1) || ev.Reference != "RMA-1" {
			t.Errorf("restock %d = %+v", i, call)
		}
	}
	if rec.restockCalls[0].Events[0].EventID == rec.restockCalls[1].Events[0].EventID {
		t.Error("two restocks share an event id")
	}
	pending, err := s.GetReturnReceipt(ctx, byEvent["RE-2"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !pending.OrderRecordTime.IsZero() || pending.LastError == "" {
		t.Fatalf("receipt while the order service is down: recorded %v, last error %q", pending.OrderRecordTime, pending.LastError)
	}
	// RE-3 is RE-2's order's next in the lane: it waits behind the retry.
	if got := rec.receipts.ids; !slices.Equal(got, []string{byEvent["RE-1"].ID}) {
		t.Fatalf("receipts reported %v, want only RE-1's while RE-2's waits", got)
	}
	now = now.Add(time.Minute)
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.receipts.ids, []string{byEvent["RE-1"].ID, byEvent["RE-2"].ID, byEvent["RE-3"].ID}; !slices.Equal(got, want) {
		t.Fatalf("receipts reported %v, want %v", got, want)
	}
	done, err := s.GetReturnReceipt(ctx, byEvent["RE-2"].ID)
	if err != nil || done.OrderRecordTime.IsZero() || done.LastError != "" {
		t.Fatalf("receipt after the retry = %+v, %v; want recorded without error", done, err)
	}
	if len(rec.restockCalls) != 2 {
		t.Fatalf("restocked %d times, want 2", len(rec.restockCalls))
	}
	if _, err := s.GetReturnReceipt(ctx, "RR-nope"); !errors.Is(err, fulfillment.ErrReturnReceiptNotFound) {
		t.Fatalf("unknown receipt: %v", err)
	}
}

// A push adapter's return receipt (ApplyWmsEvents) for a registered return
// is recorded like one from the feed, with its restock and order report,
// and its result names the receipt.
func TestPushedReturnReceiptApplied(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	expectReturn(t, s, "RMA-P", 1)
	pushed, err := fulfillmentpb.WMSEventFromPush(&fulfillmentv1.WmsEvent{EventId: "P-R1", WarehouseId: "WH-HAM", OccurTime: timestamppb.New(t0),
		Payload: &fulfillmentv1.WmsEvent_ReturnReceipt{ReturnReceipt: &fulfillmentv1.WmsReturnReceipt{ReturnAuthorizationId: "RMA-P", OrderId: "O-1",
			Lines: []*fulfillmentv1.ReturnReceiptLine{{Sku: "SKU-1", ReceivedQuantity: 1, Disposition: fulfillmentv1.Disposition_DISPOSITION_RESTOCK}}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := worker.NewPushApplier(s, worker.Common{Now: func() time.Time { return t0 }}).Apply(ctx, "wms-push", "c-1", []fulfillment.WMSEvent{pushed})
	if err != nil {
		t.Fatal(err)
	}
	out := fulfillmentpb.WMSEventResultToProto(res[0])
	if out.GetOutcome() != fulfillmentv1.WmsEventResult_OUTCOME_APPLIED || !strings.HasPrefix(out.GetResource(), "orders/O-1/returnReceipts/RR-") {
		t.Fatalf("result %v", out)
	}
	rr, err := s.GetReturnReceipt(ctx, strings.TrimPrefix(out.GetResource(), "orders/O-1/returnReceipts/"))
	if err != nil || rr.Lines[0].ReturnLineID != "RL-1" || rr.Lines[0].Disposition != fulfillment.DispositionRestock {
		t.Fatalf("receipt %+v, %v", rr, err)
	}
	effs, err := s.PendingEffects(ctx, 10)
	if err != nil || len(effs) != 2 || effs[0].Restock == nil || effs[1].Receipt == nil {
		t.Fatalf("effects %+v, %v; want the restock and the order report", effs, err)
	}
}
