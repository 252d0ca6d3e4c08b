// Package grpcapi implements transload.inventory.v1.InventoryService on the
// inventory domain: each handler converts the request, calls the service
// and converts the result; every error goes through toStatus.
package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// Server implements inventoryv1.InventoryServiceServer.
type Server struct {
	inventoryv1.UnimplementedInventoryServiceServer
	svc     *inventory.Service
	logger  *slog.Logger
	metrics *metrics
}

var _ inventoryv1.InventoryServiceServer = (*Server)(nil)

// New returns a Server on svc. Its business metrics are registered with
// reg; nil leaves them unregistered.
func New(svc *inventory.Service, logger *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	m, err := newMetrics(reg, svc)
	if err != nil {
		return nil, fmt.Errorf("grpcapi: register metrics: %w", err)
	}
	return &Server{svc: svc, logger: logger, metrics: m}, nil
}

// ListWarehouses implements InventoryService.ListWarehouses.
func (s *Server) ListWarehouses(ctx context.Context, req *inventoryv1.ListWarehousesRequest) (*inventoryv1.ListWarehousesResponse, error) {
	terms, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	keep := func(inventory.Warehouse) bool { return true }
	for _, t := range terms {
		prev := keep
		switch {
		case t.Field == "channel" && t.Op == "=":
			keep = func(w inventory.Warehouse) bool {
				return prev(w) && (len(w.Channels) == 0 || slices.Contains(w.Channels, t.Value))
			}
		case t.Field == "active" && t.Op == "=" && (t.Value == "true" || t.Value == "false"):
			want := t.Value == "true"
			keep = func(w inventory.Warehouse) bool { return prev(w) && w.Active == want }
		case t.Field == "region" && t.Op == "=":
			keep = func(w inventory.Warehouse) bool { return prev(w) && w.Region == t.Value }
		default:
			return nil, badFilter("unsupported term " + strconv.Quote(t.Field+" "+t.Op+" "+t.Value))
		}
	}
	tok, err := decodeToken(req.GetPageToken(), scope("warehouses", req.GetFilter()))
	if err != nil {
		return nil, err
	}
	ws, err := s.svc.ListWarehouses(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	var matched []inventory.Warehouse
	for _, w := range ws {
		if keep(w) {
			matched = append(matched, w)
		}
	}
	resp := &inventoryv1.ListWarehousesResponse{}
	size := pageSize(req.GetPageSize())
	for i := tok.Offset; i < len(matched) && i < tok.Offset+size; i++ {
		resp.Warehouses = append(resp.Warehouses, inventorypb.Warehouse(matched[i]))
	}
	if next := tok.Offset + size; next < len(matched) {
		tok.Offset = next
		resp.NextPageToken = encodeToken(tok)
	}
	return resp, nil
}

// GetWarehouse implements InventoryService.GetWarehouse.
func (s *Server) GetWarehouse(ctx context.Context, req *inventoryv1.GetWarehouseRequest) (*inventoryv1.Warehouse, error) {
	code := warehouseCode(req.GetName())
	w, err := s.svc.GetWarehouse(ctx, code)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaWarehouseCode: code})
	}
	return inventorypb.Warehouse(w), nil
}

// GetStockLevel implements InventoryService.GetStockLevel.
func (s *Server) GetStockLevel(ctx context.Context, req *inventoryv1.GetStockLevelRequest) (*inventoryv1.StockLevel, error) {
	sku, wh := stockLevelKey(req.GetName())
	l, err := s.svc.GetStockLevel(ctx, sku, wh)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaSKU: sku, metaWarehouseCode: wh})
	}
	return inventorypb.StockLevel(l), nil
}

// ListStockLevels implements InventoryService.ListStockLevels.
func (s *Server) ListStockLevels(ctx context.Context, req *inventoryv1.ListStockLevelsRequest) (*inventoryv1.ListStockLevelsResponse, error) {
	terms, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	q := inventory.StockLevelQuery{}
	if wh := warehouseCode(req.GetParent()); wh != "-" {
		q.WarehouseCode = wh
	}
	for _, t := range terms {
		switch {
		case t.Field == "sku" && t.Op == "=":
			q.SKU = t.Value
		case t.Field == "available" && t.Op == ">" && t.Value == "0":
			q.AvailableOnly = true
		case t.Field == "oversold" && t.Op == ">" && t.Value == "0":
			q.OversoldOnly = true
		default:
			return nil, badFilter("unsupported term " + strconv.Quote(t.Field+" "+t.Op+" "+t.Value))
		}
	}
	tok, err := decodeToken(req.GetPageToken(), scope("stockLevels", req.GetParent(), req.GetFilter()))
	if err != nil {
		return nil, err
	}
	size := pageSize(req.GetPageSize())
	q.AfterSKU, q.AfterWarehouse, q.Limit = tok.SKU, tok.WH, size+1
	levels, err := s.svc.ListStockLevels(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaWarehouseCode: q.WarehouseCode})
	}
	resp := &inventoryv1.ListStockLevelsResponse{}
	if len(levels) > size {
		levels = levels[:size]
		last := levels[size-1]
		tok.SKU, tok.WH = last.SKU, last.WarehouseCode
		resp.NextPageToken = encodeToken(tok)
	}
	for _, l := range levels {
		resp.StockLevels = append(resp.StockLevels, inventorypb.StockLevel(l))
	}
	return resp, nil
}

// CheckAvailability implements InventoryService.CheckAvailability.
func (s *Server) CheckAvailability(ctx context.Context, req *inventoryv1.CheckAvailabilityRequest) (*inventoryv1.CheckAvailabilityResponse, error) {
	res, readTime, err := s.svc.CheckAvailability(ctx, inventory.AvailabilityQuery{
		SKUs: req.GetSkus(), Channel: req.GetChannel(), WarehouseCodes: req.GetWarehouseCodes(),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	resp := &inventoryv1.CheckAvailabilityResponse{ReadTime: inventorypb.Timestamp(readTime)}
	for _, a := range res {
		resp.Skus = append(resp.Skus, availabilityToProto(a))
	}
	return resp, nil
}

// ReserveStock implements InventoryService.ReserveStock.
func (s *Server) ReserveStock(ctx context.Context, req *inventoryv1.ReserveStockRequest) (*inventoryv1.ReserveStockResponse, error) {
	r, created, err := s.svc.Reserve(ctx, reserveFromProto(req))
	if err != nil {
		st := s.toStatus(ctx, err, nil)
		s.metrics.reserved(false, st)
		return nil, st
	}
	s.metrics.reserved(created, nil)
	return &inventoryv1.ReserveStockResponse{Reservation: inventorypb.Reservation(r), FullyAllocated: r.FullyAllocated()}, nil
}

// GetReservation implements InventoryService.GetReservation.
func (s *Server) GetReservation(ctx context.Context, req *inventoryv1.GetReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.GetReservation(ctx, reservationID(req.GetName()))
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}

// ReleaseReservation implements InventoryService.ReleaseReservation.
func (s *Server) ReleaseReservation(ctx context.Context, req *inventoryv1.ReleaseReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.Release(ctx, releaseFromProto(req))
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}

// CommitReservation implements InventoryService.CommitReservation.
func (s *Server) CommitReservation(ctx context.Context, req *inventoryv1.CommitReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.Commit(ctx, commitFromProto(req))
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}

// ConfirmReservation implements InventoryService.ConfirmReservation.
func (s *Server) ConfirmReservation(ctx context.Context, req *inventoryv1.ConfirmReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.Confirm(ctx, inventory.ConfirmParams{
		ID: reservationID(req.GetName()), RequestID: req.GetRequestId(), ReferenceID: req.GetReferenceId(),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}

// ExtendReservation implements InventoryService.ExtendReservation.
func (s *Server) ExtendReservation(ctx context.Context, req *inventoryv1.ExtendReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.Extend(ctx, inventory.ExtendParams{
		ID: reservationID(req.GetName()), RequestID: req.GetRequestId(), TTL: req.GetTtl().AsDuration(),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}
