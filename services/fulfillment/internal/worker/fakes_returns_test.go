package worker_test

import (
	"context"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

func (f *fakeWMS) ReturnEvents(_ context.Context, cursor string, size int) (fulfillment.FeedPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return fulfillment.FeedPage{}, f.err
	}
	pos, end, next := feedPage(cursor, size, len(f.returns))
	return fulfillmentpb.ReturnFeedPageFromProto(&wmsv1.ListReturnEventsResponse{
		ReturnEvents: f.returns[pos:end], NextCursor: next, HasMore: end < len(f.returns),
	})
}

func (r *recorder) Restock(_ context.Context, rs fulfillment.Restock) error {
	if err := r.take(&r.restocks, "restock:"+rs.RequestID); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restockCalls = append(r.restockCalls, rs)
	return nil
}

func (r *recorder) RecordReturnReceipt(_ context.Context, p fulfillment.ReceiptReport) error {
	return r.take(&r.receipts, p.EventID)
}

func (b *barrierOrders) RecordReturnReceipt(context.Context, fulfillment.ReceiptReport) error {
	return nil
}

func (c *countingNeighbours) Restock(context.Context, fulfillment.Restock) error { return nil }

func (c *countingNeighbours) RecordReturnReceipt(context.Context, fulfillment.ReceiptReport) error {
	return nil
}

// CancelExpectedReturn withdraws nothing; cancelWMS records the calls.
func (f *fakeWMS) CancelExpectedReturn(context.Context, string, string) error { return nil }
