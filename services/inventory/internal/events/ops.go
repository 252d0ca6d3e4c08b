package events

import (
	"fmt"
	"time"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// The operations events of inventory (platform/opsevents): audit records
// of its mutations and the exceptions it raises for the exception desk.
// The store writes each in the transaction of the change, in the same
// outbox batch as the change's own events where it has any.

// actor is a's opsevents form; a change whose caller named nobody is the
// service's own.
func actor(a inventory.Actor) opsevents.Actor {
	return opsevents.Actor(a.Or(inventory.ServiceActor))
}

// ReservationAudit builds the audit record "reservation.<verb>" of a change
// of a reservation by actor; before is nil for a creation. Both sides are
// the reservation as transload.inventory.v1 JSON.
func ReservationAudit(verb string, by inventory.Actor, before *inventory.Reservation, after inventory.Reservation) (outbox.Event, error) {
	a := opsevents.Audit{
		Actor: actor(by), Action: "reservation." + verb, Target: after.Name(),
		After: inventorypb.Reservation(after), OccurredAt: after.UpdateTime,
	}
	if before != nil {
		a.Before = inventorypb.Reservation(*before)
	}
	return opsevents.Record(Producer, a)
}

// StockLevelAudit builds the audit record "stock_level.<verb>" of a change
// of a stock level by actor; before is nil when the change created the
// level. Both sides are the stock level as transload.inventory.v1 JSON.
func StockLevelAudit(verb string, by inventory.Actor, before *inventory.StockLevel, after inventory.StockLevel) (outbox.Event, error) {
	a := opsevents.Audit{
		Actor: actor(by), Action: "stock_level." + verb, Target: inventorypb.StockLevelName(after.WarehouseCode, after.SKU),
		After: inventorypb.StockLevel(after), OccurredAt: after.UpdateTime,
	}
	if before != nil {
		a.Before = inventorypb.StockLevel(*before)
	}
	return opsevents.Record(Producer, a)
}

// ReconciliationStarted builds the audit record "reconciliation.start" of a
// run actor started.
func ReconciliationStarted(by inventory.Actor, run inventory.Reconciliation) (outbox.Event, error) {
	return opsevents.Record(Producer, opsevents.Audit{
		Actor: actor(by), Action: "reconciliation.start", Target: run.Name(),
		After: inventorypb.Reconciliation(run), OccurredAt: run.CreateTime,
	})
}

// StockLevelResource is the exception desk's resource of a stock level,
// "stockLevels/{sku}@{warehouse}" (with the kind, its deduplication key).
func StockLevelResource(sku, warehouse string) string {
	return "stockLevels/" + StockLevelAggregateID(sku, warehouse)
}

// VarianceException raises an INVENTORY_VARIANCE exception for variance v
// of the run named run: HIGH when severe, MEDIUM otherwise.
func VarianceException(v inventory.Variance, run string, severe bool) (outbox.Event, error) {
	severity := opsv1.Exception_SEVERITY_MEDIUM
	if severe {
		severity = opsv1.Exception_SEVERITY_HIGH
	}
	return opsevents.Raise(Producer, opsevents.Exception{
		Kind: opsv1.Exception_KIND_INVENTORY_VARIANCE, Severity: severity, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
		Resource:      StockLevelResource(v.SKU, v.WarehouseCode),
		AggregateType: AggregateStockLevel, AggregateID: StockLevelAggregateID(v.SKU, v.WarehouseCode),
		Message: fmt.Sprintf("%s in %s: the snapshot differs by %+d units (snapshot %d, Transload %d)",
			v.SKU, v.WarehouseCode, v.Delta(), v.ExpectedOnHand, v.TransloadOnHand),
		Details: map[string]any{
			"reconciliation": run, "sku": v.SKU, "warehouse": v.WarehouseCode, "variance": v.Delta(),
		},
		OccurredAt: v.CreateTime,
	})
}

// SequenceGapException raises a STOCK_SEQUENCE_GAP exception for gap g,
// found overdue at at.
func SequenceGapException(g inventory.SequenceGap, at time.Time) (outbox.Event, error) {
	return opsevents.Raise(Producer, opsevents.Exception{
		Kind: opsv1.Exception_KIND_STOCK_SEQUENCE_GAP, Severity: opsv1.Exception_SEVERITY_MEDIUM,
		Domain:        opsv1.Exception_DOMAIN_FULFILLMENT,
		Resource:      StockLevelResource(g.SKU, g.WarehouseCode),
		AggregateType: AggregateStockLevel, AggregateID: StockLevelAggregateID(g.SKU, g.WarehouseCode),
		Message: fmt.Sprintf("%s stock events of %s in %s wait for sequence %d (received %d): reconcile if it does not arrive",
			g.SourceSystem, g.SKU, g.WarehouseCode, g.ExpectedSequence, g.ReceivedSequence),
		Details: map[string]any{
			"sku": g.SKU, "warehouse": g.WarehouseCode, "sourceSystem": g.SourceSystem,
			"expectedSequence": g.ExpectedSequence, "receivedSequence": g.ReceivedSequence,
		},
		OccurredAt: at,
	})
}
