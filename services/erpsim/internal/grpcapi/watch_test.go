package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// recv receives the next message of a watch stream, failing the test when
// none arrives within 5 s (the push must not wait for any poll).
func recv(t *testing.T, stream grpc.ServerStreamingClient[erpv1.WatchStockEventsResponse]) *erpv1.WatchStockEventsResponse {
	t.Helper()
	type result struct {
		msg *erpv1.WatchStockEventsResponse
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := stream.Recv()
		ch <- result{m, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("watch Recv: %v", r.err)
		}
		return r.msg
	case <-time.After(5 * time.Second):
		t.Fatal("no pushed message within 5s")
		return nil
	}
}

func record(t *testing.T, e *env, evs ...erp.StockEvent) {
	t.Helper()
	for _, ev := range evs {
		if _, err := e.svc.RecordStockEvent(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func eventIDs(evs []*erpv1.StockEvent) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.GetEventId())
	}
	return out
}

func TestWatchStockEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	record(t, e,
		erp.StockEvent{SKU: "SKU-00002", WarehouseCode: "WH-HAM", Kind: erp.StockReceipt, Quantity: 10},
		erp.StockEvent{SKU: "SKU-00002", WarehouseCode: "WH-HAM", Kind: erp.StockAdjustment, Quantity: -2, ReasonCode: "DAMAGED"})
	listed, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{})
	if err != nil || len(listed.GetStockEvents()) != 2 {
		t.Fatalf("ListStockEvents = %v, %v", listed, err)
	}

	// The backlog first, as ListStockEvents returns it, with the same cursor.
	stream, err := e.client.WatchStockEvents(callCtx(t), &erpv1.WatchStockEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first := recv(t, stream)
	if got, want := eventIDs(first.GetStockEvents()), eventIDs(listed.GetStockEvents()); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("backlog = %v, want %v", got, want)
	}
	if first.GetNextCursor() != listed.GetNextCursor() {
		t.Errorf("backlog next_cursor %q, ListStockEvents %q", first.GetNextCursor(), listed.GetNextCursor())
	}
	if ev := first.GetStockEvents()[1]; ev.GetSourceSequence() != 2 || ev.GetQuantity() != -2 || ev.GetReasonCode() != "DAMAGED" {
		t.Errorf("second event = %v", ev)
	}

	// A new event is pushed once committed, in its own message.
	record(t, e, erp.StockEvent{SKU: "SKU-00003", WarehouseCode: "WH-BER", Kind: erp.StockSetOnHand, Quantity: 42})
	pushed := recv(t, stream)
	if len(pushed.GetStockEvents()) != 1 || pushed.GetStockEvents()[0].GetQuantity() != 42 ||
		pushed.GetStockEvents()[0].GetKind() != erpv1.StockEvent_KIND_SET_ON_HAND {
		t.Fatalf("pushed = %v", pushed)
	}
	// Its cursor is a ListStockEvents cursor: nothing after it, and
	// reading after the backlog cursor yields the same event.
	caughtUp, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: pushed.GetNextCursor()})
	if err != nil || len(caughtUp.GetStockEvents()) != 0 {
		t.Errorf("after the pushed cursor: %v, %v", caughtUp, err)
	}
	next, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{Cursor: first.GetNextCursor()})
	if err != nil || len(next.GetStockEvents()) != 1 || next.GetStockEvents()[0].GetEventId() != pushed.GetStockEvents()[0].GetEventId() {
		t.Errorf("ListStockEvents after the backlog = %v, %v; want the pushed event", next, err)
	}

	// Resuming from the backlog's cursor replays exactly the events after
	// it; resuming at the head starts with an empty message at that cursor.
	resumed, err := e.client.WatchStockEvents(callCtx(t), &erpv1.WatchStockEventsRequest{Cursor: first.GetNextCursor()})
	if err != nil {
		t.Fatal(err)
	}
	if m := recv(t, resumed); len(m.GetStockEvents()) != 1 || m.GetNextCursor() != pushed.GetNextCursor() {
		t.Errorf("resumed = %v; want the one event after the backlog", m)
	}
	atHead, err := e.client.WatchStockEvents(callCtx(t), &erpv1.WatchStockEventsRequest{Cursor: pushed.GetNextCursor()})
	if err != nil {
		t.Fatal(err)
	}
	if m := recv(t, atHead); len(m.GetStockEvents()) != 0 || m.GetNextCursor() != pushed.GetNextCursor() {
		t.Errorf("at head = %v; want an empty first message at the request cursor", m)
	}
	// Both open streams get the next event.
	record(t, e, erp.StockEvent{SKU: "SKU-00003", WarehouseCode: "WH-BER", Kind: erp.StockReceipt, Quantity: 1})
	a, b := recv(t, resumed), recv(t, atHead)
	if len(a.GetStockEvents()) != 1 || len(b.GetStockEvents()) != 1 || a.GetStockEvents()[0].GetSourceSequence() != 2 ||
		a.GetStockEvents()[0].GetEventId() != b.GetStockEvents()[0].GetEventId() {
		t.Errorf("second watcher messages %v and %v; want the same new event", a, b)
	}

	for _, bad := range []string{"garbage", "c2UxfDk5OTk"} { // not ours; beyond the feed head
		s, err := e.client.WatchStockEvents(callCtx(t), &erpv1.WatchStockEventsRequest{Cursor: bad})
		if err == nil {
			_, err = s.Recv()
		}
		wantStatus(t, err, codes.InvalidArgument, erpv1.ErrorReason_ERROR_REASON_INVALID_CURSOR)
	}
}

func TestWatchStockEventsBacklogPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 1005 // more than one message (at most 1000 events each)
	for range n {
		record(t, e, erp.StockEvent{SKU: "SKU-00004", WarehouseCode: "WH-MUC", Kind: erp.StockReceipt, Quantity: 1})
	}
	stream, err := e.client.WatchStockEvents(callCtx(t), &erpv1.WatchStockEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := recv(t, stream), recv(t, stream)
	if len(m1.GetStockEvents()) != 1000 || len(m2.GetStockEvents()) != n-1000 {
		t.Fatalf("backlog messages of %d and %d events, want 1000 and %d", len(m1.GetStockEvents()), len(m2.GetStockEvents()), n-1000)
	}
	if m2.GetStockEvents()[0].GetSourceSequence() != 1001 || m2.GetStockEvents()[n-1001].GetSourceSequence() != n {
		t.Errorf("second message from sequence %d to %d", m2.GetStockEvents()[0].GetSourceSequence(), m2.GetStockEvents()[n-1001].GetSourceSequence())
	}
}

func TestWatchStockEventsEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	open := func() grpc.ServerStreamingClient[erpv1.WatchStockEventsResponse] {
		t.Helper()
		s, err := e.client.WatchStockEvents(callCtx(t), &erpv1.WatchStockEventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		recv(t, s)
		return s
	}

	// Going down: the open stream fails at its next push, new ones at once.
	s := open()
	e.faults.Set(faults.State{Down: true})
	record(t, e, erp.StockEvent{SKU: "SKU-00002", WarehouseCode: "WH-HAM", Kind: erp.StockReceipt, Quantity: 1})
	_, err := s.Recv()
	wantStatus(t, err, codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE)
	s2, err := e.client.WatchStockEvents(callCtx(t), &erpv1.WatchStockEventsRequest{})
	if err == nil {
		_, err = s2.Recv()
	}
	wantStatus(t, err, codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE)
	e.faults.Set(faults.State{})

	// The caller's deadline ends a stream.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	s3, err := e.client.WatchStockEvents(ctx, &erpv1.WatchStockEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, s3)
	if _, err := s3.Recv(); err == nil || ctx.Err() == nil {
		t.Errorf("after the deadline: Recv error %v, context %v", err, ctx.Err())
	}

	// The simulator stopping ends open streams with UNAVAILABLE.
	s4 := open()
	e.stopWatches()
	_, err = s4.Recv()
	wantStatus(t, err, codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE)
}

// BenchmarkWatchPushLatency measures ERP event recorded (committed) →
// received on an open WatchStockEvents stream ("push"), beside the
// baseline in the same run: the same recording followed by one
// ListStockEvents read ("poll-read", what a poll costs on top of waiting
// for its interval, 5 s by default). ns/op is per event.
func BenchmarkWatchPushLatency(b *testing.B) {
	ev := erp.StockEvent{SKU: "SKU-00005", WarehouseCode: "WH-HAM", Kind: erp.StockReceipt, Quantity: 1}
	b.Run("push", func(b *testing.B) {
		e := newEnv(b)
		stream, err := e.client.WatchStockEvents(b.Context(), &erpv1.WatchStockEventsRequest{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := e.svc.RecordStockEvent(b.Context(), ev); err != nil {
				b.Fatal(err)
			}
			if m, err := stream.Recv(); err != nil || len(m.GetStockEvents()) != 1 {
				b.Fatalf("Recv = %v, %v", m, err)
			}
		}
	})
	b.Run("poll-read", func(b *testing.B) {
		e := newEnv(b)
		first, err := e.client.ListStockEvents(b.Context(), &erpv1.ListStockEventsRequest{})
		if err != nil {
			b.Fatal(err)
		}
		cursor := first.GetNextCursor()
		for b.Loop() {
			if _, err := e.svc.RecordStockEvent(b.Context(), ev); err != nil {
				b.Fatal(err)
			}
			page, err := e.client.ListStockEvents(b.Context(), &erpv1.ListStockEventsRequest{Cursor: cursor})
			if err != nil || len(page.GetStockEvents()) != 1 {
				b.Fatalf("ListStockEvents = %v, %v", page, err)
			}
			cursor = page.GetNextCursor()
		}
	})
}
