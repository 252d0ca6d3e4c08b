// Package events defines the inventory service's JetStream stream and
// subjects and builds its outbox events (StockChangedEvent and the
// reservation events of transload.inventory.v1) from domain values.
package events

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// Stream and subjects (see transload/inventory/v1/events.proto).
const (
	StreamName                  = "TRANSLOAD_INVENTORY"
	StreamSubjects              = "transload.inventory.>"
	SubjectStockChanged         = "transload.inventory.stock_changed"
	SubjectReservationCreated   = "transload.inventory.reservation_created"
	SubjectReservationReleased  = "transload.inventory.reservation_released"
	SubjectReservationCommitted = "transload.inventory.reservation_committed"
	SubjectReservationExpired   = "transload.inventory.reservation_expired"
	SubjectVarianceDetected     = "transload.inventory.variance_detected"
	SubjectBackorderAllocated   = "transload.inventory.backorder_allocated"
	SubjectReconciliationDone   = "transload.inventory.reconciliation_completed"
	AggregateReconciliation     = "reconciliation"
	AggregateStockLevel         = "stock_level"
	AggregateReservation        = "reservation"
	// AggregateVariance is the outbox aggregate type of variance events:
	// they belong to the stock level (metadata says "stock_level") but
	// have their own sequence per pair, separate from StockChangedEvent's.
	AggregateVariance = "stock_level.variance"
	Producer          = "inventory"
)

// StreamConfig is the TRANSLOAD_INVENTORY stream the service creates on
// start.
func StreamConfig() outbox.StreamConfig {
	return outbox.StreamConfig{
		Name:        StreamName,
		Subjects:    []string{StreamSubjects},
		Description: "Transload inventory events (stock changes, reservations)",
	}
}

// StockLevelAggregateID is "{sku}@{warehouse_code}".
func StockLevelAggregateID(sku, warehouse string) string { return sku + "@" + warehouse }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func metadata(id, aggType, aggID string, seq int64, at time.Time, corr string) *commonv1.EventMetadata {
	return &commonv1.EventMetadata{
		EventId: id, AggregateType: aggType, AggregateId: aggID, Sequence: seq,
		OccurTime: inventorypb.Timestamp(at), CorrelationId: corr, Producer: Producer,
	}
}

func event(id, aggType, aggID, subject string, payload proto.Message) outbox.Event {
	return outbox.Event{ID: id, AggregateType: aggType, AggregateID: aggID, Subject: subject, Payload: payload}
}

// StockChanged builds the event for one stock level change; its sequence
// is the level's revision after the change.
func StockChanged(c inventory.StockChange, corr string) outbox.Event {
	id := newID()
	agg := StockLevelAggregateID(c.SKU, c.WarehouseCode)
	msg := &inventoryv1.StockChangedEvent{
		Metadata:           metadata(id, AggregateStockLevel, agg, c.Revision, c.Time, corr),
		Sku:                c.SKU,
		WarehouseCode:      c.WarehouseCode,
		PreviousQuantities: inventorypb.Quantities(c.Previous),
		NewQuantities:      inventorypb.Quantities(c.New),
		Cause:              inventoryv1.StockChangeCause(c.Cause),
		StockEventKind:     inventoryv1.StockEvent_Kind(c.StockEventKind),
		SourceSystem:       c.SourceSystem,
		SourceSequence:     c.SourceSequence,
		Reference:          c.Reference,
	}
	return event(id, AggregateStockLevel, agg, SubjectStockChanged, msg)
}

// ReservationCreated builds the event for a new reservation (sequence 1).
func ReservationCreated(r inventory.Reservation, seq int64, corr string) outbox.Event {
	id := newID()
	msg := &inventoryv1.ReservationCreatedEvent{
		Metadata:    metadata(id, AggregateReservation, r.ID, seq, r.UpdateTime, corr),
		Reservation: inventorypb.Reservation(r),
	}
	return event(id, AggregateReservation, r.ID, SubjectReservationCreated, msg)
}

// ReservationUpdated builds the event an update's outcome names, or
// returns false for EventNone.
func ReservationUpdated(r inventory.Reservation, out inventory.Outcome, seq int64, corr string) (outbox.Event, bool) {
	id := newID()
	md := metadata(id, AggregateReservation, r.ID, seq, r.UpdateTime, corr)
	qs := inventorypb.ReservationQuantities(out.Quantities)
	switch out.Event {
	case inventory.EventReleased:
		return event(id, AggregateReservation, r.ID, SubjectReservationReleased, &inventoryv1.ReservationReleasedEvent{
			Metadata: md, Reservation: inventorypb.Reservation(r), Released: qs, Reason: out.Reason,
		}), true
	case inventory.EventCommitted:
		return event(id, AggregateReservation, r.ID, SubjectReservationCommitted, &inventoryv1.ReservationCommittedEvent{
			Metadata: md, Reservation: inventorypb.Reservation(r), ShipmentId: out.ShipmentID, Committed: qs,
		}), true
	case inventory.EventBackorderAllocated:
		return event(id, AggregateReservation, r.ID, SubjectBackorderAllocated, &inventoryv1.BackorderAllocatedEvent{
			Metadata: md, Reservation: inventorypb.Reservation(r), Allocated: qs,
		}), true
	case inventory.EventExpired:
		return event(id, AggregateReservation, r.ID, SubjectReservationExpired, &inventoryv1.ReservationExpiredEvent{
			Metadata: md, Reservation: r.Name(), ReferenceId: r.ReferenceID, Channel: r.Channel,
			ExpireTime: inventorypb.Timestamp(r.ExpireTime), Released: qs,
		}), true
	}
	return outbox.Event{}, false
}

// NegativeStock builds the VarianceDetectedEvent of a stock event whose
// decrement would have taken on-hand below zero (on-hand was set to 0).
func NegativeStock(sku, warehouse, eventID string, implied, before, seq int64, at time.Time, corr string) outbox.Event {
	id := newID()
	agg := StockLevelAggregateID(sku, warehouse)
	msg := &inventoryv1.VarianceDetectedEvent{
		Metadata:        metadata(id, AggregateStockLevel, agg, seq, at, corr),
		Sku:             sku,
		WarehouseCode:   warehouse,
		Source:          inventoryv1.VarianceDetectedEvent_SOURCE_NEGATIVE_STOCK,
		ExpectedOnHand:  implied,
		TransloadOnHand: before,
		Variance:        implied - before,
		Corrected:       true,
		StockEventId:    eventID,
	}
	return event(id, AggregateVariance, agg, SubjectVarianceDetected, msg)
}

// ReconciliationVariance builds the VarianceDetectedEvent of a variance a
// reconciliation run found.
func ReconciliationVariance(v inventory.Variance, run string, seq int64, corr string) outbox.Event {
	id := newID()
	agg := StockLevelAggregateID(v.SKU, v.WarehouseCode)
	msg := &inventoryv1.VarianceDetectedEvent{
		Metadata:        metadata(id, AggregateStockLevel, agg, seq, v.CreateTime, corr),
		Sku:             v.SKU,
		WarehouseCode:   v.WarehouseCode,
		Source:          inventoryv1.VarianceDetectedEvent_SOURCE_RECONCILIATION,
		Reconciliation:  run,
		Kind:            inventoryv1.ReconciliationVariance_Kind(v.Kind),
		ExpectedOnHand:  v.ExpectedOnHand,
		TransloadOnHand: v.TransloadOnHand,
		Variance:        v.Delta(),
		Corrected:       v.Corrected,
	}
	return event(id, AggregateVariance, agg, SubjectVarianceDetected, msg)
}

// ReconciliationCompleted builds the event of a finished run.
func ReconciliationCompleted(r inventory.Reconciliation, seq int64, corr string) outbox.Event {
	id := newID()
	msg := &inventoryv1.ReconciliationCompletedEvent{
		Metadata:       metadata(id, AggregateReconciliation, r.ID, seq, r.EndTime, corr),
		Reconciliation: inventorypb.Reconciliation(r),
	}
	return event(id, AggregateReconciliation, r.ID, SubjectReconciliationDone, msg)
}
