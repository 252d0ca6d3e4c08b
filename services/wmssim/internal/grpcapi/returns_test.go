package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

func expectedReturn(warehouse string) *wmsv1.ExpectedReturn {
	return &wmsv1.ExpectedReturn{
		OrderId: "O-1", WarehouseCode: warehouse,
		Lines: []*wmsv1.ExpectedReturnLine{
			{LineId: "r1", Sku: "SKU-00001", Quantity: 2, ReturnReason: "too small"},
			{LineId: "r2", Sku: "SKU-00002", Quantity: 1},
		},
	}
}

func register(t *testing.T, e *env, id, warehouse string) *wmsv1.RegisterExpectedReturnResponse {
	t.Helper()
	res, err := e.client.RegisterExpectedReturn(callCtx(t), &wmsv1.RegisterExpectedReturnRequest{ExpectedReturnId: id, ExpectedReturn: expectedReturn(warehouse)})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
	return res
}

func TestExpectedReturnLifecycle(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)

	res := register(t, e, "RMA-1", "WH-BER")
	if !res.GetAccepted() || res.GetDuplicate() || res.GetWmsReference() == "" || res.GetExpectedReturn().GetState() != wmsv1.ExpectedReturn_STATE_EXPECTED {
		t.Fatalf("register = %v", res)
	}
	if again := register(t, e, "RMA-1", "WH-BER"); !again.GetDuplicate() || again.GetWmsReference() != res.GetWmsReference() {
		t.Fatalf("replay = %v", again)
	}
	changed := expectedReturn("WH-BER")
	changed.Lines[1].Quantity = 5
	_, err := e.client.RegisterExpectedReturn(callCtx(t), &wmsv1.RegisterExpectedReturnRequest{ExpectedReturnId: "RMA-1", ExpectedReturn: changed})
	wantStatus(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)

	if rej := register(t, e, "RMA-X", "WH-NOPE"); rej.GetAccepted() ||
		rej.GetRejectionReason() != wmsv1.ExpectedReturnRejectionReason_EXPECTED_RETURN_REJECTION_REASON_UNKNOWN_WAREHOUSE {
		t.Fatalf("unknown warehouse = %v", rej)
	}

	// Partial receipt, then the rest as received by default.
	first, err := e.svc.ReceiveReturn(callCtx(t), "RMA-1", []wms.ReceiptLine{{LineID: "r1", Quantity: 1, Condition: wms.ConditionDamaged, Disposition: wms.DispositionScrap}})
	if err != nil || first.ReceiptComplete {
		t.Fatalf("first receipt = %+v, %v", first, err)
	}
	got, err := e.client.GetExpectedReturn(callCtx(t), &wmsv1.GetExpectedReturnRequest{Name: "expectedReturns/RMA-1"})
	if err != nil || got.GetState() != wmsv1.ExpectedReturn_STATE_PARTIALLY_RECEIVED || got.GetLines()[0].GetReceivedQuantity() != 1 {
		t.Fatalf("after partial receipt = %v, %v", got, err)
	}
	_, err = e.client.CancelExpectedReturn(callCtx(t), &wmsv1.CancelExpectedReturnRequest{Name: "expectedReturns/RMA-1"})
	wantStatus(t, err, codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_RETURN_ALREADY_RECEIVED)

	if _, err := e.svc.ReceiveReturn(callCtx(t), "RMA-1", []wms.ReceiptLine{{LineID: "r2", Quantity: 2}}); err == nil {
		t.Fatal("receiving more than expected succeeded")
	}
	if _, err := e.svc.ReceiveReturn(callCtx(t), "RMA-1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ReceiveReturn(callCtx(t), "RMA-1", nil); err == nil {
		t.Fatal("receiving a fully received return succeeded")
	}

	feed, err := e.client.ListReturnEvents(callCtx(t), &wmsv1.ListReturnEventsRequest{PageSize: 1})
	if err != nil || len(feed.GetReturnEvents()) != 1 || !feed.GetHasMore() {
		t.Fatalf("first page = %v, %v", feed, err)
	}
	ev1 := feed.GetReturnEvents()[0]
	if ev1.GetSequence() != 1 || ev1.GetReturnAuthorizationId() != "RMA-1" || ev1.GetReceiptComplete() ||
		ev1.GetLines()[0].GetDisposition() != wmsv1.ReturnDisposition_RETURN_DISPOSITION_SCRAP ||
		ev1.GetLines()[0].GetCondition() != wmsv1.ReturnCondition_RETURN_CONDITION_DAMAGED {
		t.Fatalf("first return event = %v", ev1)
	}
	feed, err = e.client.ListReturnEvents(callCtx(t), &wmsv1.ListReturnEventsRequest{Cursor: feed.GetNextCursor()})
	if err != nil || len(feed.GetReturnEvents()) != 1 || feed.GetHasMore() {
		t.Fatalf("second page = %v, %v", feed, err)
	}
	ev2 := feed.GetReturnEvents()[0]
	if ev2.GetSequence() != 2 || !ev2.GetReceiptComplete() || len(ev2.GetLines()) != 2 || ev2.GetEventId() == ev1.GetEventId() ||
		ev2.GetLines()[0].GetReceivedQuantity() != 1 || ev2.GetLines()[1].GetReceivedQuantity() != 1 ||
		ev2.GetLines()[1].GetDisposition() != wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK {
		t.Fatalf("second return event = %v", ev2)
	}
	got, _ = e.client.GetExpectedReturn(callCtx(t), &wmsv1.GetExpectedReturnRequest{Name: "expectedReturns/RMA-1"})
	if got.GetState() != wmsv1.ExpectedReturn_STATE_RECEIVED {
		t.Fatalf("after full receipt = %v", got)
	}
}

func TestCancelExpectedReturn(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	register(t, e, "RMA-1", "WH-HAM")
	cancel := func(id string) (*wmsv1.ExpectedReturn, error) {
		return e.client.CancelExpectedReturn(callCtx(t), &wmsv1.CancelExpectedReturnRequest{Name: "expectedReturns/" + id, Reason: "customer kept it"})
	}
	for range 2 { // idempotent by state
		got, err := cancel("RMA-1")
		if err != nil || got.GetState() != wmsv1.ExpectedReturn_STATE_CANCELLED {
			t.Fatalf("cancel = %v, %v", got, err)
		}
	}
	// A parcel that arrives after the cancellation is still received
	// and reported (the late parcel Transload raises for its desk).
	ev, err := e.svc.ReceiveReturn(callCtx(t), "RMA-1", nil)
	if err != nil || ev.ExpectedReturn != "RMA-1" || !ev.ReceiptComplete {
		t.Fatalf("late parcel receipt = %+v, %v", ev, err)
	}
	_, err = cancel("RMA-1")
	wantStatus(t, err, codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_RETURN_ALREADY_RECEIVED)
	_, err = cancel("nope")
	wantStatus(t, err, codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_EXPECTED_RETURN_NOT_FOUND)
	_, err = e.client.GetExpectedReturn(callCtx(t), &wmsv1.GetExpectedReturnRequest{Name: "expectedReturns/nope"})
	wantStatus(t, err, codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_EXPECTED_RETURN_NOT_FOUND)
}
