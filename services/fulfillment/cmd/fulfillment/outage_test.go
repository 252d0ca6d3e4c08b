package main

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/testharness/wait"
)

// TestWMSDownAtFirst: requests created while the WMS is down stay PENDING
// with growing attempt counts and reach the WMS once it is back.
func TestWMSDownAtFirst(t *testing.T) {
	m := startMesh(t, func(m *mesh) { m.wms.down = true })
	seq := m.publish(t, confirmedOrder("O-T2"), "ev-t2", "")
	m.waitConsumed(t, seq)

	wait.Eventually(t, patience, "failed deliveries recorded", func() error {
		rs := m.requests(t, "O-T2")
		if len(rs) != 2 {
			return fmt.Errorf("%d requests", len(rs))
		}
		for _, r := range rs {
			if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_PENDING || r.GetAttemptCount() < 2 || r.GetLastError() == "" {
				return fmt.Errorf("%s: %s after %d attempts (%q)", r.GetFulfillmentRequestId(), r.GetState(), r.GetAttemptCount(), r.GetLastError())
			}
		}
		return nil
	})
	if n := len(m.wms.createdRequests()); n != 0 {
		t.Fatalf("%d requests reached a down WMS", n)
	}
	if m.wms.refusals() == 0 {
		t.Fatal("the WMS was never called while down")
	}

	m.wms.setDown(false)
	wait.Eventually(t, patience, "requests delivered after the WMS came back", func() error {
		for _, r := range m.requests(t, "O-T2") {
			if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_ACKNOWLEDGED || r.GetLastError() != "" {
				return fmt.Errorf("%s: %s (%q)", r.GetFulfillmentRequestId(), r.GetState(), r.GetLastError())
			}
		}
		if n := len(m.wms.createdRequests()); n != 2 {
			return fmt.Errorf("%d requests at the WMS", n)
		}
		return nil
	})
}

// TestOrderServiceDown: shipment progress recorded while the order service
// is down is delivered, in order, once it is back; the inventory commit
// does not wait for the order service.
func TestOrderServiceDown(t *testing.T) {
	m := startMesh(t, func(m *mesh) { m.orders.down = true })
	seq := m.publish(t, confirmedOrder("O-T3"), "ev-t3", "")
	m.waitConsumed(t, seq)
	id := "FR-O-T3-WH-MUC"
	m.waitAtWMS(t, id)
	m.wms.emit(id, wmsv1.ShipmentRequest_STATE_SHIPPED, "PCL-1", true)
	// Delivered in a later page: a delivery in the same page would replace
	// the shipped report (one DELIVERED call, TestPollerFoldsShippedIntoDelivered).
	wait.Eventually(t, patience, "shipment shipped", func() error {
		ss := m.shipments(t, "orders/O-T3")
		if len(ss) != 1 || ss[0].GetState() != fulfillmentv1.Shipment_STATE_SHIPPED {
			return fmt.Errorf("shipments %v", ss)
		}
		return nil
	})
	m.wms.emit(id, wmsv1.ShipmentRequest_STATE_DELIVERED, "PCL-1", false)

	wait.Eventually(t, patience, "shipment delivered and committed", func() error {
		ss := m.shipments(t, "orders/O-T3")
		if len(ss) != 1 || ss[0].GetState() != fulfillmentv1.Shipment_STATE_DELIVERED {
			return fmt.Errorf("shipments %v", ss)
		}
		if n := len(m.inventory.calls()); n != 1 {
			return fmt.Errorf("%d commits", n)
		}
		return nil
	})
	if n := len(m.orders.calls()); n != 0 {
		t.Fatalf("%d progress calls reached a down order service", n)
	}

	m.orders.setDown(false)
	wait.Eventually(t, patience, "progress delivered after the order service came back", func() error {
		calls := m.orders.calls()
		if len(calls) != 2 {
			return fmt.Errorf("%d progress calls", len(calls))
		}
		if calls[0].GetMilestone() != orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED ||
			calls[1].GetMilestone() != orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED {
			return fmt.Errorf("milestones %v, %v", calls[0].GetMilestone(), calls[1].GetMilestone())
		}
		return nil
	})
}

// TestRetryAfterBudget: a request that exhausted its retry budget while the
// WMS was down is FAILED (with an event) until an operator retries it.
func TestRetryAfterBudget(t *testing.T) {
	m := startMesh(t, func(m *mesh) {
		m.wms.down = true
		m.env = map[string]string{"FULFILLMENT_WMS_MAX_ATTEMPTS": "2"}
	})
	seq := m.publish(t, confirmedOrder("O-T4"), "ev-t4", "")
	m.waitConsumed(t, seq)
	name := "orders/O-T4/fulfillmentRequests/FR-O-T4-WH-MUC"
	wait.Eventually(t, patience, "request failed after its budget", func() error {
		r, err := m.api.GetFulfillmentRequest(t.Context(), &fulfillmentv1.GetFulfillmentRequestRequest{Name: name})
		if err != nil {
			return err
		}
		if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_FAILED || r.GetAttemptCount() != 2 {
			return fmt.Errorf("%s after %d attempts", r.GetState(), r.GetAttemptCount())
		}
		return nil
	})
	m.waitPublished(t, 2)
	// Each failure raised an exception on the operations stream.
	m.waitStream(t, eventstreams.Ops, 2)

	m.wms.setDown(false)
	retry := &fulfillmentv1.RetryFulfillmentRequestRequest{Name: name, RequestId: "ops-1", Note: "WMS fixed"}
	r, err := m.api.RetryFulfillmentRequest(metadata.AppendToOutgoingContext(t.Context(), opsevents.ActorHeader, "operator:key-ops"), retry)
	if err != nil {
		t.Fatal(err)
	}
	// The retry's audit record follows them.
	m.waitStream(t, eventstreams.Ops, 3)
	if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_PENDING || r.GetAttemptCount() != 0 {
		t.Fatalf("after retry: %s, %d attempts", r.GetState(), r.GetAttemptCount())
	}
	wait.Eventually(t, patience, "retried request acknowledged", func() error {
		r, err := m.api.GetFulfillmentRequest(t.Context(), &fulfillmentv1.GetFulfillmentRequestRequest{Name: name})
		if err != nil {
			return err
		}
		if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_ACKNOWLEDGED {
			return fmt.Errorf("%s", r.GetState())
		}
		return nil
	})
	// The same call again returns the request; the key with another note
	// is refused; a new key on a request that is not FAILED is refused.
	if _, err := m.api.RetryFulfillmentRequest(t.Context(), retry); err != nil {
		t.Fatalf("replayed retry: %v", err)
	}
	_, err = m.api.RetryFulfillmentRequest(t.Context(), &fulfillmentv1.RetryFulfillmentRequestRequest{Name: name, RequestId: "ops-1", Note: "other"})
	if status.Code(err) != codes.AlreadyExists || apierr.ReasonOf(err) != "ERROR_REASON_IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("reused key: %v", err)
	}
	_, err = m.api.RetryFulfillmentRequest(t.Context(), &fulfillmentv1.RetryFulfillmentRequestRequest{Name: name, RequestId: "ops-2", Note: "again"})
	if status.Code(err) != codes.FailedPrecondition || apierr.ReasonOf(err) != fulfillmentv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION.String() {
		t.Fatalf("retry of an acknowledged request: %v", err)
	}
}
