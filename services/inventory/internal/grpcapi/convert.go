package grpcapi

import (
	"context"
	"strings"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// Request shapes (patterns, ranges, uniqueness) are enforced by the
// protovalidate interceptor before these run; the conversions only map.

// actor is who calls, for the audit trail: the principal the gateway (or a
// calling service) names in the actor header, else the inventory service
// itself.
func actor(ctx context.Context) inventory.Actor {
	return inventory.Actor(opsevents.ActorFromIncoming(ctx, opsevents.Actor(inventory.ServiceActor)))
}

func reservationID(name string) string { return strings.TrimPrefix(name, "reservations/") }

func warehouseCode(name string) string { return strings.TrimPrefix(name, "warehouses/") }

// stockLevelKey splits "warehouses/{wh}/stockLevels/{sku}".
func stockLevelKey(name string) (sku, wh string) {
	rest := warehouseCode(name)
	wh, sku, _ = strings.Cut(rest, "/stockLevels/")
	return sku, wh
}

func reserveFromProto(ctx context.Context, req *inventoryv1.ReserveStockRequest) inventory.ReserveParams {
	p := inventory.ReserveParams{
		Actor:             actor(ctx),
		RequestID:         req.GetRequestId(),
		ReferenceID:       req.GetReferenceId(),
		Channel:           req.GetChannel(),
		Strategy:          inventory.Strategy(req.GetAllocationStrategy()),
		AllowSplit:        req.GetAllowSplit(),
		BackorderPolicy:   inventory.BackorderPolicy(req.GetBackorderPolicy()),
		DestinationRegion: req.GetDestinationRegion(),
	}
	if req.GetHoldTtl() != nil {
		p.HoldTTL = req.GetHoldTtl().AsDuration()
	}
	for _, l := range req.GetLines() {
		p.Lines = append(p.Lines, inventory.ReserveLine{SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return p
}

func releaseFromProto(ctx context.Context, req *inventoryv1.ReleaseReservationRequest) inventory.ReleaseParams {
	p := inventory.ReleaseParams{ID: reservationID(req.GetName()), RequestID: req.GetRequestId(), Reason: req.GetReason(), Actor: actor(ctx)}
	for _, l := range req.GetLines() {
		p.Lines = append(p.Lines, inventory.ReleaseLine{SKU: l.GetSku(), Quantity: l.GetQuantity(), WarehouseCode: l.GetWarehouseCode()})
	}
	return p
}

func commitFromProto(ctx context.Context, req *inventoryv1.CommitReservationRequest) inventory.CommitParams {
	p := inventory.CommitParams{
		ID: reservationID(req.GetName()), RequestID: req.GetRequestId(), Actor: actor(ctx),
		WarehouseCode: req.GetWarehouseCode(), ShipmentID: req.GetShipmentId(),
	}
	for _, l := range req.GetLines() {
		p.Lines = append(p.Lines, inventory.CommitLine{SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return p
}

func availabilityToProto(a inventory.SKUAvailability) *inventoryv1.SkuAvailability {
	out := &inventoryv1.SkuAvailability{
		Sku: a.SKU, Known: a.Known, TotalAvailable: a.TotalAvailable, TotalInbound: a.TotalInbound, StockSequence: a.StockSequence,
	}
	for _, w := range a.Warehouses {
		out.Warehouses = append(out.Warehouses, &inventoryv1.WarehouseAvailability{
			WarehouseCode:   w.WarehouseCode,
			Available:       w.Quantities.Available(),
			OnHand:          w.Quantities.OnHand,
			Reserved:        w.Quantities.Reserved,
			InboundTotal:    w.Quantities.InboundTotal,
			NextInboundDate: inventorypb.Date(w.NextInboundDate),
			Revision:        w.Revision,
		})
	}
	return out
}
