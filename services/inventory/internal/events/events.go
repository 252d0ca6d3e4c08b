// Package events builds the inventory service's outbox events
// (StockChangedEvent and the reservation, variance and reconciliation
// events of transload.inventory.v1) from domain values. Their stream and
// subjects are declared once in platform/eventstreams (Inventory,
// StockChanged, ...), where consumers take them from too.
//
// Every event is built by the outbox (outbox.Event.Build) from the
// metadata it assigns, so metadata.sequence is always the outbox's
// per-aggregate sequence and nothing here reads the outbox's counters.
// For StockChangedEvent the contract also promises metadata.sequence ==
// the stock level's revision. That holds because the two counters move
// together: the store bumps a level's revision only in the transaction
// that writes that change's one StockChangedEvent (initial load at
// revision 1; reservation, release, expiry, commit, stock event and
// reconciliation correction each +1 and one event), a level created
// empty for a stock event starts at revision 0 without an event, and no
// other event uses the (stock_level, {sku}@{warehouse}) aggregate: the
// variance events of a level have their own aggregate type,
// AggregateVariance. sqlstore's TestStockChangedSequenceIsRevision checks
// it on both engines.
package events

import (
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// Aggregate types and the producer name of the inventory events.
const (
	AggregateReconciliation = "reconciliation"
	AggregateStockLevel     = "stock_level"
	AggregateReservation    = "reservation"
	// AggregateVariance is the outbox aggregate type of variance events:
	// they belong to the stock level (metadata says "stock_level") but
	// have their own sequence per pair, separate from StockChangedEvent's.
	AggregateVariance = "stock_level.variance"
	Producer          = "inventory"
)

// StockLevelAggregateID is "{sku}@{warehouse_code}".
func StockLevelAggregateID(sku, warehouse string) string { return sku + "@" + warehouse }

// event is an outbox event of aggregate (aggType, aggID) on subject that
// happened at at, whose message build makes from the assigned metadata.
func event(aggType, aggID, subject string, at time.Time, build func(md *commonv1.EventMetadata) proto.Message) outbox.Event {
	return outbox.Event{
		AggregateType: aggType, AggregateID: aggID, Subject: subject, Producer: Producer, OccurredAt: at,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) { return build(md), nil },
	}
}

// StockChanged builds the event for one stock level change.
func StockChanged(c inventory.StockChange) outbox.Event {
	return event(AggregateStockLevel, StockLevelAggregateID(c.SKU, c.WarehouseCode), eventstreams.StockChanged, c.Time,
		func(md *commonv1.EventMetadata) proto.Message {
			return &inventoryv1.StockChangedEvent{
				Metadata:           md,
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
		})
}

// ReservationCreated builds the event for a new reservation (the first of
// its aggregate, so sequence 1).
func ReservationCreated(r inventory.Reservation) outbox.Event {
	return event(AggregateReservation, r.ID, eventstreams.ReservationCreated, r.UpdateTime,
		func(md *commonv1.EventMetadata) proto.Message {
			return &inventoryv1.ReservationCreatedEvent{Metadata: md, Reservation: inventorypb.Reservation(r)}
		})
}

// ReservationUpdated builds the event an update's outcome names, or
// returns false for EventNone.
func ReservationUpdated(r inventory.Reservation, out inventory.Outcome) (outbox.Event, bool) {
	qs := inventorypb.ReservationQuantities(out.Quantities)
	var (
		subject string
		build   func(md *commonv1.EventMetadata) proto.Message
	)
	switch out.Event {
	case inventory.EventReleased:
		subject = eventstreams.ReservationReleased
		build = func(md *commonv1.EventMetadata) proto.Message {
			return &inventoryv1.ReservationReleasedEvent{
				Metadata: md, Reservation: inventorypb.Reservation(r), Released: qs, Reason: out.Reason,
			}
		}
	case inventory.EventCommitted:
		subject = eventstreams.ReservationCommitted
		build = func(md *commonv1.EventMetadata) proto.Message {
			return &inventoryv1.ReservationCommittedEvent{
				Metadata: md, Reservation: inventorypb.Reservation(r), ShipmentId: out.ShipmentID, Committed: qs,
			}
		}
	case inventory.EventBackorderAllocated:
		subject = eventstreams.BackorderAllocated
		build = func(md *commonv1.EventMetadata) proto.Message {
			return &inventoryv1.BackorderAllocatedEvent{Metadata: md, Reservation: inventorypb.Reservation(r), Allocated: qs}
		}
	case inventory.EventExpired:
		subject = eventstreams.ReservationExpired
		build = func(md *commonv1.EventMetadata) proto.Message {
			return &inventoryv1.ReservationExpiredEvent{
				Metadata: md, Reservation: r.Name(), ReferenceId: r.ReferenceID, Channel: r.Channel,
				ExpireTime: inventorypb.Timestamp(r.ExpireTime), Released: qs,
			}
		}
	case inventory.EventNone:
	}
	if build == nil {
		return outbox.Event{}, false
	}
	return event(AggregateReservation, r.ID, subject, r.UpdateTime, build), true
}

// variance builds a VarianceDetectedEvent of the level sku@warehouse: its
// outbox aggregate is AggregateVariance (a sequence of its own), its
// metadata names the stock level as the contract says.
func variance(sku, warehouse string, at time.Time, build func(md *commonv1.EventMetadata) *inventoryv1.VarianceDetectedEvent) outbox.Event {
	return event(AggregateVariance, StockLevelAggregateID(sku, warehouse), eventstreams.VarianceDetected, at,
		func(md *commonv1.EventMetadata) proto.Message {
			md.AggregateType = AggregateStockLevel
			return build(md)
		})
}

// NegativeStock builds the VarianceDetectedEvent of a stock event whose
// decrement would have taken on-hand below zero (on-hand was set to 0).
func NegativeStock(sku, warehouse, eventID string, implied, before int64, at time.Time) outbox.Event {
	return variance(sku, warehouse, at, func(md *commonv1.EventMetadata) *inventoryv1.VarianceDetectedEvent {
		return &inventoryv1.VarianceDetectedEvent{
			Metadata:        md,
			Sku:             sku,
			WarehouseCode:   warehouse,
			Source:          inventoryv1.VarianceDetectedEvent_SOURCE_NEGATIVE_STOCK,
			ExpectedOnHand:  implied,
			TransloadOnHand: before,
			Variance:        implied - before,
			Corrected:       true,
			StockEventId:    eventID,
		}
	})
}

// ReconciliationVariance builds the VarianceDetectedEvent of a variance a
// reconciliation run found.
func ReconciliationVariance(v inventory.Variance, run string) outbox.Event {
	return variance(v.SKU, v.WarehouseCode, v.CreateTime, func(md *commonv1.EventMetadata) *inventoryv1.VarianceDetectedEvent {
		return &inventoryv1.VarianceDetectedEvent{
			Metadata:        md,
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
	})
}

// ReconciliationCompleted builds the event of a finished run.
func ReconciliationCompleted(r inventory.Reconciliation) outbox.Event {
	return event(AggregateReconciliation, r.ID, eventstreams.ReconciliationCompleted, r.EndTime,
		func(md *commonv1.EventMetadata) proto.Message {
			return &inventoryv1.ReconciliationCompletedEvent{Metadata: md, Reconciliation: inventorypb.Reconciliation(r)}
		})
}
