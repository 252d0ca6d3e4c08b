package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

func TestStockSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	_, rows, tr := snapshot(t, e, &erpv1.StreamStockSnapshotRequest{Skus: []string{erp.ScarceSKU}})
	want := map[string]int64{"WH-HAM": 4, "WH-MUC": 3, "WH-BER": 3}
	var total int64
	for _, r := range rows {
		if r.GetOnHand() != want[r.GetWarehouseCode()] || r.GetBaseUnit() != "EA" {
			t.Errorf("scarce row %v", r)
		}
		total += r.GetOnHand()
	}
	if len(rows) != 3 || total != erp.ScarceSKUTotal || tr.GetTotalOnHand() != erp.ScarceSKUTotal || tr.GetRowCount() != 3 {
		t.Errorf("%s: %d rows totalling %d (trailer %v), want 3 rows totalling 10", erp.ScarceSKU, len(rows), total, tr)
	}

	h, rows, tr := snapshot(t, e, &erpv1.StreamStockSnapshotRequest{})
	total = 0
	for i, r := range rows {
		if r.GetRowNumber() != int64(i+1) {
			t.Fatalf("row %d numbered %d", i, r.GetRowNumber())
		}
		if r.GetSku() != erp.ScarceSKU && r.GetOnHand() < 200 {
			t.Errorf("%s in %s has only %d", r.GetSku(), r.GetWarehouseCode(), r.GetOnHand())
		}
		total += r.GetOnHand()
	}
	if h.GetRowCount() != 1500 || tr.GetRowCount() != 1500 || tr.GetTotalOnHand() != total || h.GetEventCursor() == "" || h.GetSnapshotId() == "" {
		t.Errorf("header %v trailer %v for %d rows totalling %d", h, tr, len(rows), total)
	}

	// Resume after row 1000: header again, then rows 1001..1500.
	rh, rest, rtr := snapshot(t, e, &erpv1.StreamStockSnapshotRequest{SnapshotId: h.GetSnapshotId(), LastReceivedRow: 1000})
	if rh.GetSnapshotId() != h.GetSnapshotId() || !rh.GetSnapshotTime().AsTime().Equal(h.GetSnapshotTime().AsTime()) ||
		len(rest) != 500 || rest[0].GetRowNumber() != 1001 || rtr.GetTotalOnHand() != total {
		t.Errorf("resume: header %v, %d rows from %d, trailer %v", rh, len(rest), rest[0].GetRowNumber(), rtr)
	}

	// Stock moves (in the first row: SKU-00001 in WH-BER); the held
	// snapshot still resumes with its original rows.
	if _, err := e.svc.RecordStockEvent(t.Context(), erp.StockEvent{SKU: "SKU-00001", WarehouseCode: "WH-BER", Kind: erp.StockReceipt, Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	_, again, _ := snapshot(t, e, &erpv1.StreamStockSnapshotRequest{SnapshotId: h.GetSnapshotId()})
	if len(again) != 1500 || again[0].GetOnHand() != rows[0].GetOnHand() || again[0].GetSourceSequence() != 0 {
		t.Errorf("resumed after a stock move: first row %v, want %v", again[0], rows[0])
	}
	_, fresh, _ := snapshot(t, e, &erpv1.StreamStockSnapshotRequest{})
	if fresh[0].GetOnHand() != rows[0].GetOnHand()+1 || fresh[0].GetSourceSequence() != 1 {
		t.Errorf("new snapshot first row %v, want the receipt applied", fresh[0])
	}

	// Other filters or an id this ERP did not issue cannot be resumed.
	for _, req := range []*erpv1.StreamStockSnapshotRequest{
		{SnapshotId: h.GetSnapshotId(), Skus: []string{"SKU-00001"}},
		{SnapshotId: "not-a-snapshot"},
	} {
		stream, err := e.client.StreamStockSnapshot(callCtx(t), req)
		if err == nil {
			_, err = stream.Recv()
		}
		wantStatus(t, err, codes.FailedPrecondition, erpv1.ErrorReason_ERROR_REASON_SNAPSHOT_EXPIRED)
	}

	stream, err := e.client.StreamStockSnapshot(callCtx(t), &erpv1.StreamStockSnapshotRequest{WarehouseCodes: []string{"WH-XXX"}})
	if err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND)
}

func TestListStockEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	empty, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{})
	if err != nil || len(empty.GetStockEvents()) != 0 || empty.GetNextCursor() == "" || empty.GetHasMore() {
		t.Fatalf("empty feed = %v, %v", empty, err)
	}
	h, _, _ := snapshot(t, e, &erpv1.StreamStockSnapshotRequest{Skus: []string{"SKU-00002"}})

	for _, ev := range []erp.StockEvent{
		{SKU: "SKU-00002", WarehouseCode: "WH-HAM", Kind: erp.StockReceipt, Quantity: 10},
		{SKU: "SKU-00002", WarehouseCode: "WH-HAM", Kind: erp.StockAdjustment, Quantity: -2, ReasonCode: "DAMAGED"},
		{SKU: "SKU-00003", WarehouseCode: "WH-BER", Kind: erp.StockSetOnHand, Quantity: 42},
	} {
		if _, err := e.svc.RecordStockEvent(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	page1, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: empty.GetNextCursor(), PageSize: 2})
	if err != nil || len(page1.GetStockEvents()) != 2 || !page1.GetHasMore() {
		t.Fatalf("page 1 = %v, %v", page1, err)
	}
	if a, b := page1.GetStockEvents()[0], page1.GetStockEvents()[1]; a.GetSourceSequence() != 1 || b.GetSourceSequence() != 2 ||
		a.GetKind() != erpv1.StockEvent_KIND_RECEIPT || b.GetQuantity() != -2 || b.GetReasonCode() != "DAMAGED" || a.GetEventId() == b.GetEventId() {
		t.Errorf("page 1 events = %v", page1.GetStockEvents())
	}
	page2, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: page1.GetNextCursor(), PageSize: 2})
	if err != nil || len(page2.GetStockEvents()) != 1 || page2.GetHasMore() || page2.GetStockEvents()[0].GetQuantity() != 42 {
		t.Fatalf("page 2 = %v, %v", page2, err)
	}
	caughtUp, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: page2.GetNextCursor()})
	if err != nil || len(caughtUp.GetStockEvents()) != 0 || caughtUp.GetNextCursor() != page2.GetNextCursor() {
		t.Errorf("caught up = %v, %v; want no events and the same cursor", caughtUp, err)
	}
	// Replaying from an old cursor returns the same events.
	replay, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: empty.GetNextCursor(), PageSize: 2})
	if err != nil || replay.GetStockEvents()[0].GetEventId() != page1.GetStockEvents()[0].GetEventId() {
		t.Errorf("replay = %v, %v", replay, err)
	}
	// The snapshot's cursor yields exactly the events after the snapshot.
	after, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: h.GetEventCursor()})
	if err != nil || len(after.GetStockEvents()) != 3 {
		t.Errorf("events after the snapshot = %v, %v", after, err)
	}

	for _, bad := range []string{"garbage", "c2UxfDk5OTk"} { // not ours; beyond the feed head
		_, err = e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: bad})
		wantStatus(t, err, codes.InvalidArgument, erpv1.ErrorReason_ERROR_REASON_INVALID_CURSOR)
	}
}
