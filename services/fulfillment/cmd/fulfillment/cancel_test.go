package main

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/testharness/wait"
)

func wantCode(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	if status.Code(err) != code || (reason != "" && apierr.ReasonOf(err) != reason) {
		t.Fatalf("err = %v (reason %q), want %s %s", err, apierr.ReasonOf(err), code, reason)
	}
}

func TestCancelFulfillment(t *testing.T) {
	m := startMesh(t, nil)
	ctx := t.Context()

	// Cancelled before the confirmation arrives: nothing is created later.
	res, err := m.api.CancelFulfillment(ctx, &fulfillmentv1.CancelFulfillmentRequest{Parent: "orders/O-C1", RequestId: "c1", Reason: "customer"})
	if err != nil || len(res.GetFulfillmentRequests()) != 0 {
		t.Fatalf("early cancel: %v, %v", res, err)
	}
	seq := m.publish(t, confirmedOrder("O-C1"), "ev-c1", "")
	m.waitConsumed(t, seq)
	if rs := m.requests(t, "O-C1"); len(rs) != 0 {
		t.Fatalf("requests created for a cancelled order: %v", rs)
	}

	// Two acknowledged requests, cancelled at the WMS and here; the WMS
	// down at first makes the call fail and a retry finish it.
	seq = m.publish(t, confirmedOrder("O-C2"), "ev-c2", "")
	m.waitConsumed(t, seq)
	wait.Eventually(t, patience, "requests acknowledged", func() error {
		rs := m.requests(t, "O-C2")
		if len(rs) != 2 || rs[0].GetState() != fulfillmentv1.FulfillmentRequest_STATE_ACKNOWLEDGED || rs[1].GetState() != fulfillmentv1.FulfillmentRequest_STATE_ACKNOWLEDGED {
			return fmt.Errorf("requests %v", rs)
		}
		return nil
	})
	cancel := &fulfillmentv1.CancelFulfillmentRequest{Parent: "orders/O-C2", RequestId: "c2", Reason: "customer changed mind"}
	m.wms.setDown(true)
	_, err = m.api.CancelFulfillment(ctx, cancel)
	wantCode(t, err, codes.Unavailable, "ERROR_REASON_DEPENDENCY_UNAVAILABLE")
	m.wms.setDown(false)
	var cres *fulfillmentv1.CancelFulfillmentResponse
	wait.Eventually(t, patience, "cancel succeeds once the WMS is back", func() error {
		var err error
		cres, err = m.api.CancelFulfillment(ctx, cancel)
		return err
	})
	if len(cres.GetFulfillmentRequests()) != 2 {
		t.Fatalf("cancel response %v", cres)
	}
	for _, r := range cres.GetFulfillmentRequests() {
		if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_CANCELLED || r.GetCancelReason() != cancel.GetReason() {
			t.Fatalf("request after cancel: %v", r)
		}
	}
	got := m.wms.cancelledRequests()
	slices.Sort(got)
	if !slices.Equal(got, []string{"FR-O-C2-WH-HAM", "FR-O-C2-WH-MUC"}) {
		t.Fatalf("WMS cancellations %v", got)
	}
	if _, err := m.api.CancelFulfillment(ctx, cancel); err != nil {
		t.Fatalf("replayed cancel: %v", err)
	}
	_, err = m.api.CancelFulfillment(ctx, &fulfillmentv1.CancelFulfillmentRequest{Parent: "orders/O-C2", RequestId: "c2", Reason: "other"})
	wantCode(t, err, codes.AlreadyExists, "ERROR_REASON_IDEMPOTENCY_KEY_REUSED")

	// Once something was picked the order can no longer be cancelled.
	seq = m.publish(t, confirmedOrder("O-C3"), "ev-c3", "")
	m.waitConsumed(t, seq)
	m.waitAtWMS(t, "FR-O-C3-WH-HAM")
	m.wms.emit("FR-O-C3-WH-HAM", wmsv1.ShipmentRequest_STATE_PICKED, "", true)
	wait.Eventually(t, patience, "pick recorded", func() error {
		if n := len(m.shipments(t, "orders/O-C3")); n != 1 {
			return fmt.Errorf("%d shipments", n)
		}
		return nil
	})
	_, err = m.api.CancelFulfillment(ctx, &fulfillmentv1.CancelFulfillmentRequest{Parent: "orders/O-C3", RequestId: "c3", Reason: "too late"})
	wantCode(t, err, codes.FailedPrecondition, fulfillmentv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED.String())
}
