package grpcapi

import (
	"context"
	"strconv"
	"time"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// ListReservations implements InventoryService.ListReservations.
func (s *Server) ListReservations(ctx context.Context, req *inventoryv1.ListReservationsRequest) (*inventoryv1.ListReservationsResponse, error) {
	terms, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	q := inventory.ReservationQuery{}
	for _, t := range terms {
		switch {
		case t.Op != "=":
			return nil, badFilter("unsupported operator in " + strconv.Quote(t.Field+" "+t.Op+" "+t.Value))
		case t.Field == "reference_id":
			q.ReferenceID = t.Value
		case t.Field == "channel":
			q.Channel = t.Value
		case t.Field == "sku":
			q.SKU = t.Value
		case t.Field == "state":
			v, err := filterState(inventoryv1.Reservation_State_value, t.Value)
			if err != nil {
				return nil, err
			}
			q.State = inventory.ReservationState(v)
		default:
			return nil, badFilter("unsupported field " + strconv.Quote(t.Field))
		}
	}
	tok, err := decodeToken(req.GetPageToken(), scope("reservations", req.GetFilter()))
	if err != nil {
		return nil, err
	}
	size := pageSize(req.GetPageSize())
	q.Limit = size + 1
	if tok.ID != "" {
		q.BeforeID, q.BeforeCreate = tok.ID, time.UnixMicro(tok.Micros).UTC()
	}
	rs, err := s.svc.ListReservations(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	resp := &inventoryv1.ListReservationsResponse{}
	rs, resp.NextPageToken = keysetPage(tok, size, rs, func(r inventory.Reservation) (string, time.Time) {
		return r.ID, r.CreateTime
	})
	for _, r := range rs {
		resp.Reservations = append(resp.Reservations, inventorypb.Reservation(r))
	}
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
