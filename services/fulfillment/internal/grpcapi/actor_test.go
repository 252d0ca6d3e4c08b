package grpcapi_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/grpcapi"
)

// actors records who the server says calls.
type actors struct{ retry, cancel fulfillment.Actor }

func (a *actors) Retry(_ context.Context, orderID, id, _, _, _ string, actor fulfillment.Actor) (*fulfillment.Request, error) {
	a.retry = actor
	return &fulfillment.Request{ID: id, OrderID: orderID, State: fulfillment.RequestPending}, nil
}

func (a *actors) Cancel(_ context.Context, _, _, _, _ string, actor fulfillment.Actor) ([]*fulfillment.Request, error) {
	a.cancel = actor
	return nil, nil
}

// TestCallerIsTheActor: the retry and the cancellation are recorded as the
// caller the gateway names in the actor header; without one, a retry is
// the service's own and a cancellation the order service's (its only
// caller).
func TestCallerIsTheActor(t *testing.T) {
	for _, tc := range []struct {
		name                string
		header              string
		wantRetry, wantCanc fulfillment.Actor
	}{
		{"operator", "operator:key-ops", fulfillment.Actor{Kind: "operator", ID: "key-ops"}, fulfillment.Actor{Kind: "operator", ID: "key-ops"}},
		{"no header", "", fulfillment.Actor{Kind: "service", ID: "fulfillment"}, fulfillment.Actor{Kind: "service", ID: "order"}},
		{"malformed header", "nobody", fulfillment.Actor{Kind: "service", ID: "fulfillment"}, fulfillment.Actor{Kind: "service", ID: "order"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := &actors{}
			api, _ := start(t, got, grpcapi.WithCanceller(got))
			ctx := t.Context()
			if tc.header != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, opsevents.ActorHeader, tc.header)
			}
			if _, err := api.RetryFulfillmentRequest(ctx, &fulfillmentv1.RetryFulfillmentRequestRequest{
				Name: "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM", RequestId: "r-1", Note: "WMS fixed"}); err != nil {
				t.Fatal(err)
			}
			if _, err := api.CancelFulfillment(ctx, &fulfillmentv1.CancelFulfillmentRequest{Parent: "orders/O-1", RequestId: "c-1", Reason: "customer"}); err != nil {
				t.Fatal(err)
			}
			if got.retry != tc.wantRetry || got.cancel != tc.wantCanc {
				t.Errorf("retry by %+v, cancel by %+v; want %+v, %+v", got.retry, got.cancel, tc.wantRetry, tc.wantCanc)
			}
		})
	}
}
