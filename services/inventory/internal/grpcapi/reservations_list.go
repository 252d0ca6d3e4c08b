package grpcapi

import (
	"context"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// ListReservations implements InventoryService.ListReservations.
func (s *Server) ListReservations(ctx context.Context, req *inventoryv1.ListReservationsRequest) (*inventoryv1.ListReservationsResponse, error) {
	var after newestFirst
	l, err := readList(req, inventoryv1.InventoryService_ListReservations_FullMethodName, reservationFilter, nil, after.dst()...)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	rs, err := s.svc.ListReservations(ctx, inventory.ReservationQuery{
		ReferenceID: l.eq("reference_id").Text, Channel: l.eq("channel").Text, SKU: l.eq("sku").Text,
		State:        inventory.ReservationState(l.eq("state").Enum),
		BeforeCreate: after.before, BeforeID: after.beforeID, Limit: l.limit(),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	resp := &inventoryv1.ListReservationsResponse{}
	resp.Reservations, resp.NextPageToken = keyset(l, rs, reservationCursor, inventorypb.Reservation)
	return resp, nil
}

// UpdateWarehouse implements InventoryService.UpdateWarehouse.
func (s *Server) UpdateWarehouse(ctx context.Context, req *inventoryv1.UpdateWarehouseRequest) (*inventoryv1.Warehouse, error) {
	pw := req.GetWarehouse()
	code := warehouseCode(pw.GetName())
	p := inventory.UpdateWarehouseParams{
		RequestID: req.GetRequestId(),
		Warehouse: inventory.Warehouse{
			Code: code, DisplayName: pw.GetDisplayName(), Region: pw.GetRegion(), Priority: pw.GetPriority(),
			Channels: pw.GetChannels(), Active: pw.GetActive(),
		},
		Etag:         pw.GetEtag(),
		AllowMissing: req.GetAllowMissing(),
		ValidateOnly: req.GetValidateOnly(),
	}
	if a := pw.GetAddress(); a != nil {
		p.Warehouse.Address = inventory.Address{
			Recipient: a.GetRecipient(), Lines: a.GetLines(), Locality: a.GetLocality(),
			AdministrativeArea: a.GetAdministrativeArea(), PostalCode: a.GetPostalCode(), RegionCode: a.GetRegionCode(),
		}
	}
	for _, path := range req.GetUpdateMask().GetPaths() {
		if path == "*" {
			p.Fields = nil
			break
		}
		p.Fields = append(p.Fields, path)
	}
	w, err := s.svc.UpdateWarehouse(ctx, p)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaWarehouseCode: code})
	}
	return inventorypb.Warehouse(w), nil
}
