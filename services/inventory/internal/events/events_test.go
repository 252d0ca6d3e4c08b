package events_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/inventory/internal/events"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// TestEvents: every builder names a subject of the inventory stream,
// builds its message around the metadata the outbox assigns (event id and
// sequence untouched) and says in the metadata which aggregate the event
// belongs to.
func TestEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := inventory.Reservation{ID: "r1", UpdateTime: at, ExpireTime: at}
	updated := func(e inventory.ReservationEvent) outbox.Event {
		ev, ok := events.ReservationUpdated(r, inventory.Outcome{Changed: true, Event: e})
		if !ok {
			t.Fatalf("ReservationUpdated(%v) built nothing", e)
		}
		return ev
	}
	tests := []struct {
		name             string
		ev               outbox.Event
		subject          string
		outboxAggregate  string
		messageAggregate string
		messageType      string
	}{
		{"stock changed", events.StockChanged(inventory.StockChange{SKU: "A", WarehouseCode: "W", Time: at}),
			eventstreams.StockChanged, events.AggregateStockLevel, events.AggregateStockLevel, "StockChangedEvent"},
		{"reservation created", events.ReservationCreated(r),
			eventstreams.ReservationCreated, events.AggregateReservation, events.AggregateReservation, "ReservationCreatedEvent"},
		{"released", updated(inventory.EventReleased),
			eventstreams.ReservationReleased, events.AggregateReservation, events.AggregateReservation, "ReservationReleasedEvent"},
		{"committed", updated(inventory.EventCommitted),
			eventstreams.ReservationCommitted, events.AggregateReservation, events.AggregateReservation, "ReservationCommittedEvent"},
		{"expired", updated(inventory.EventExpired),
			eventstreams.ReservationExpired, events.AggregateReservation, events.AggregateReservation, "ReservationExpiredEvent"},
		{"backorder allocated", updated(inventory.EventBackorderAllocated),
			eventstreams.BackorderAllocated, events.AggregateReservation, events.AggregateReservation, "BackorderAllocatedEvent"},
		{"negative stock", events.NegativeStock("A", "W", "e1", -2, 1, at),
			eventstreams.VarianceDetected, events.AggregateVariance, events.AggregateStockLevel, "VarianceDetectedEvent"},
		{"reconciliation variance", events.ReconciliationVariance(inventory.Variance{SKU: "A", WarehouseCode: "W", CreateTime: at}, "reconciliations/x"),
			eventstreams.VarianceDetected, events.AggregateVariance, events.AggregateStockLevel, "VarianceDetectedEvent"},
		{"reconciliation completed", events.ReconciliationCompleted(inventory.Reconciliation{ID: "x", EndTime: at}),
			eventstreams.ReconciliationCompleted, events.AggregateReconciliation, events.AggregateReconciliation, "ReconciliationCompletedEvent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := tc.ev
			if ev.Subject != tc.subject || !slices.Contains(eventstreams.Inventory.Events, ev.Subject) || !eventstreams.Inventory.Captures(ev.Subject) {
				t.Errorf("subject %q, want %q of stream %s", ev.Subject, tc.subject, eventstreams.Inventory.Name)
			}
			if ev.AggregateType != tc.outboxAggregate || ev.Producer != events.Producer || !ev.OccurredAt.Equal(at) || ev.Payload != nil || ev.Build == nil {
				t.Errorf("event %+v", ev)
			}
			md := &commonv1.EventMetadata{EventId: "ev-1", AggregateType: ev.AggregateType, AggregateId: ev.AggregateID, Sequence: 7}
			msg, err := ev.Build(md)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(msg.ProtoReflect().Descriptor().Name()); got != tc.messageType {
				t.Errorf("message %s, want %s", got, tc.messageType)
			}
			got := metadataOf(t, msg)
			if got.GetEventId() != "ev-1" || got.GetSequence() != 7 || got.GetAggregateType() != tc.messageAggregate {
				t.Errorf("metadata %v, want event ev-1 #7 of a %s", got, tc.messageAggregate)
			}
		})
	}
	if _, ok := events.ReservationUpdated(r, inventory.Outcome{Event: inventory.EventNone}); ok {
		t.Error("ReservationUpdated(EventNone) built an event")
	}
}

func metadataOf(t *testing.T, msg proto.Message) *commonv1.EventMetadata {
	t.Helper()
	m, ok := msg.(interface {
		GetMetadata() *commonv1.EventMetadata
	})
	if !ok {
		t.Fatalf("%T has no metadata", msg)
	}
	return m.GetMetadata()
}
