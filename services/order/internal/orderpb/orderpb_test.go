package orderpb_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

func TestDependencyError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		err         error
		dependency  bool
		circuitOpen bool
	}{
		{name: "no error"},
		{name: "unavailable", err: status.Error(codes.Unavailable, "down"), dependency: true},
		{name: "deadline", err: status.Error(codes.DeadlineExceeded, "slow"), dependency: true},
		{name: "internal", err: status.Error(codes.Internal, "boom"), dependency: true},
		{name: "aborted", err: status.Error(codes.Aborted, "race"), dependency: true},
		{name: "cancelled", err: context.Canceled, dependency: true},
		{name: "transport", err: errors.New("connection reset"), dependency: true},
		{name: "circuit open", err: apierr.CircuitOpen("erp"), dependency: true, circuitOpen: true},
		{name: "not found", err: status.Error(codes.NotFound, "no such customer")},
		{name: "failed precondition", err: status.Error(codes.FailedPrecondition, "picked")},
		{name: "invalid argument", err: status.Error(codes.InvalidArgument, "bad")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := orderpb.DependencyError("erp", tc.err)
			var dep *order.DependencyError
			if isDep := errors.As(got, &dep); isDep != tc.dependency {
				t.Fatalf("DependencyError(%v) = %v, want a dependency error: %v", tc.err, got, tc.dependency)
			}
			if !tc.dependency {
				if got != nil {
					t.Fatalf("DependencyError(%v) = %v, want nil", tc.err, got)
				}
				return
			}
			if dep.Target != "erp" || dep.CircuitOpen != tc.circuitOpen || !errors.Is(got, tc.err) {
				t.Errorf("DependencyError(%v) = %+v", tc.err, dep)
			}
		})
	}
}

// parity fails for every value of a generated enum (its _name map) that has
// no domain value of the same number in domain, keyed by the proto name:
// the domain casts these enums from proto numbers, so a value added to the
// contract must be added to the domain, too.
func parity[D ~int](t *testing.T, enum string, names map[int32]string, domain map[string]D) {
	t.Helper()
	for num, name := range names {
		d, ok := domain[name]
		switch {
		case !ok:
			t.Errorf("%s %s (%d) has no domain value", enum, name, num)
		case int32(d) != num:
			t.Errorf("%s %s is %d, its domain value %d", enum, name, num, d)
		}
	}
	protoNames := slices.Collect(maps.Values(names))
	for name := range domain {
		if !slices.Contains(protoNames, name) {
			t.Errorf("%s has no value %s", enum, name)
		}
	}
}

func TestEnumParity(t *testing.T) {
	t.Parallel()
	t.Run("Order.State", func(t *testing.T) {
		t.Parallel()
		states := map[string]order.State{}
		for s := order.StateUnspecified; s <= order.StateCancelled; s++ {
			states[s.String()] = s
		}
		parity(t, "Order.State", orderv1.Order_State_name, states)
	})
	t.Run("OrderRejection.Reason", func(t *testing.T) {
		t.Parallel()
		parity(t, "OrderRejection.Reason", orderv1.OrderRejection_Reason_name, map[string]order.RejectionReason{
			"REASON_UNSPECIFIED":             order.RejectionUnspecified,
			"REASON_CUSTOMER_ON_CREDIT_HOLD": order.RejectionCustomerOnHold,
			"REASON_CREDIT_LIMIT_EXCEEDED":   order.RejectionCreditLimit,
			"REASON_CUSTOMER_BLOCKED":        order.RejectionCustomerBlocked,
			"REASON_PRODUCT_BLOCKED":         order.RejectionProductBlocked,
			"REASON_PRICE_MISMATCH":          order.RejectionPriceMismatch,
			"REASON_INVALID_SHIP_TO":         order.RejectionInvalidShipTo,
			"REASON_OTHER":                   order.RejectionOther,
		})
	})
	t.Run("ShipmentMilestone", func(t *testing.T) {
		t.Parallel()
		parity(t, "ShipmentMilestone", orderv1.ShipmentMilestone_name, map[string]order.Milestone{
			"SHIPMENT_MILESTONE_UNSPECIFIED": 0,
			"SHIPMENT_MILESTONE_SHIPPED":     order.MilestoneShipped,
			"SHIPMENT_MILESTONE_DELIVERED":   order.MilestoneDelivered,
		})
	})
	t.Run("ErpQueueEntry.State", func(t *testing.T) {
		t.Parallel()
		parity(t, "ErpQueueEntry.State", orderv1.ErpQueueEntry_State_name, map[string]order.QueueEntryState{
			"STATE_UNSPECIFIED": 0,
			"STATE_PENDING":     order.QueueEntryPending,
			"STATE_IN_FLIGHT":   order.QueueEntryInFlight,
			"STATE_BACKING_OFF": order.QueueEntryBackingOff,
			"STATE_PARKED":      order.QueueEntryParked,
		})
	})
	// erpclient casts the ERP's account state.
	t.Run("erp Customer.AccountState", func(t *testing.T) {
		t.Parallel()
		parity(t, "Customer.AccountState", erpv1.Customer_AccountState_name, map[string]order.AccountState{
			"ACCOUNT_STATE_UNSPECIFIED": order.AccountUnspecified,
			"ACCOUNT_STATE_ACTIVE":      order.AccountActive,
			"ACCOUNT_STATE_CREDIT_HOLD": order.AccountCreditHold,
			"ACCOUNT_STATE_BLOCKED":     order.AccountBlocked,
			"ACCOUNT_STATE_CLOSED":      order.AccountClosed,
		})
	})
}

// TestEventsCoverTheStream: every domain event type, order and return
// events alike, encodes to one of the events declared for TRANSLOAD_ORDER,
// each to another subject, and every declared event has its domain event;
// each message carries the metadata the outbox assigns.
func TestEventsCoverTheStream(t *testing.T) {
	t.Parallel()
	o := &order.Order{ID: "O-1", State: order.StateConfirmed}
	r := &order.Return{ID: "R-1", OrderID: "O-1", State: order.ReturnAuthorized}
	type encoded struct {
		what           string
		ev             outbox.Event
		err            error
		aggType, aggID string
	}
	var all []encoded
	for typ := order.EventAccepted; typ <= order.EventDelivered; typ++ {
		ev, err := orderpb.Event(order.Event{Type: typ, Order: o})
		all = append(all, encoded{fmt.Sprint("event type ", typ), ev, err, orderpb.AggregateType, "O-1"})
	}
	for typ := order.EventReturnRequested; typ <= order.EventReturnClosed; typ++ {
		ev, err := orderpb.Encoder{}.ReturnEvent(order.ReturnEvent{Type: typ, Return: r})
		all = append(all, encoded{fmt.Sprint("return event type ", typ), ev, err, orderpb.ReturnAggregateType, "R-1"})
	}
	var subjects []string
	for _, e := range all {
		if e.err != nil {
			t.Fatalf("%s: %v", e.what, e.err)
		}
		ev := e.ev
		if ev.AggregateType != e.aggType || ev.AggregateID != e.aggID || ev.Producer != orderpb.Producer {
			t.Errorf("%s: %+v", e.what, ev)
		}
		md := &commonv1.EventMetadata{EventId: "e-1", Sequence: 7}
		msg, err := ev.Build(md)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.(interface {
			GetMetadata() *commonv1.EventMetadata
		}).GetMetadata(); got != md {
			t.Errorf("%s: message metadata %v, want the assigned %v", ev.Subject, got, md)
		}
		subjects = append(subjects, ev.Subject)
	}
	slices.Sort(subjects)
	want := slices.Sorted(slices.Values(eventstreams.Order.Events))
	if diff := cmp.Diff(want, subjects); diff != "" {
		t.Errorf("subjects of the domain events vs eventstreams.Order.Events (-want +got):\n%s", diff)
	}
	if _, err := orderpb.Event(order.Event{Type: order.EventDelivered + 1, Order: o}); err == nil {
		t.Error("an unknown event type encoded")
	}
}
