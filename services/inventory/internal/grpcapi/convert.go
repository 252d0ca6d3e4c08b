package grpcapi

import (
	"strings"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// Request shapes (patterns, ranges, uniqueness) are enforced by the
// protovalidate interceptor before these run; the conversions only map.

func reservationID(name string) string { return strings.TrimPrefix(name, "reservations/") }

func warehouseCode(name string) string { return strings.TrimPrefix(name, "warehouses/") }

// stockLevelKey splits "warehouses/{wh}/stockLevels/{sku}".
func stockLevelKey(name string) (sku, wh string) {
	rest := warehouseCode(name)
	wh, sku, _ = strings.Cut(rest, "/stockLevels/")
	return sku, wh
}

func reserveFromProto(req *inventoryv1.ReserveStockRequest) inventory.ReserveParams {
	p := inventory.ReserveParams{
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

func releaseFromProto(req *inventoryv1.ReleaseReservationRequest) inventory.ReleaseParams {
	p := inventory.ReleaseParams{ID: reservationID(req.GetName()), RequestID: req.GetRequestId(), Reason: req.GetReason()}
	for _, l := range req.GetLines() {
		p.Lines = append(p.Lines, inventory.ReleaseLine{SKU: l.GetSku(), Quantity: l.GetQuantity(), WarehouseCode: l.GetWarehouseCode()})
	}
	return p
}

func commitFromProto(req *inventoryv1.CommitReservationRequest) inventory.CommitParams {
	p := inventory.CommitParams{
		ID: reservationID(req.GetName()), RequestID: req.GetRequestId(),
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
		})
	}
	return out
}
