// Package grpcapi implements transload.inventory.v1.InventoryService on the
// inventory domain: each handler converts the request, calls the service
// and converts the result; every error goes through toStatus.
package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/aip"
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

// ListWarehouses implements InventoryService.ListWarehouses. The few
// warehouses are filtered and paged in memory.
func (s *Server) ListWarehouses(ctx context.Context, req *inventoryv1.ListWarehousesRequest) (*inventoryv1.ListWarehousesResponse, error) {
	var offset int
	l, err := readList(req, inventoryv1.InventoryService_ListWarehouses_FullMethodName, warehouseFilter, nil, &offset)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	ws, err := s.svc.ListWarehouses(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	ws = slices.DeleteFunc(ws, func(w inventory.Warehouse) bool { return !warehouseMatches(l, w) })
	page, next := aip.OffsetPage(ws, offset, l.size, l.query)
	return &inventoryv1.ListWarehousesResponse{Warehouses: convertAll(page, inventorypb.Warehouse), NextPageToken: next}, nil
}

// warehouseMatches reports whether w passes the list's filter. A warehouse
// without channels serves every channel.
func warehouseMatches(l list, w inventory.Warehouse) bool {
	if v, ok := l.filter.Find("channel", aip.OpEq); ok && len(w.Channels) > 0 && !slices.Contains(w.Channels, v.Text) {
		return false
	}
	if v, ok := l.filter.Find("active", aip.OpEq); ok && w.Active != v.Bool {
		return false
	}
	if v, ok := l.filter.Find("region", aip.OpEq); ok && w.Region != v.Text {
		return false
	}
	return true
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
	var after bySKU
	l, err := readList(req, inventoryv1.InventoryService_ListStockLevels_FullMethodName, stockLevelFilter,
		[]string{req.GetParent()}, after.dst()...)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	q := inventory.StockLevelQuery{
		SKU: l.eq("sku").Text, AvailableOnly: l.has("available", aip.OpGt), OversoldOnly: l.has("oversold", aip.OpGt),
		AfterSKU: after.sku, AfterWarehouse: after.warehouse, Limit: l.limit(),
	}
	if wh := warehouseCode(req.GetParent()); wh != "-" {
		q.WarehouseCode = wh
	}
	levels, err := s.svc.ListStockLevels(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaWarehouseCode: q.WarehouseCode})
	}
	resp := &inventoryv1.ListStockLevelsResponse{}
	resp.StockLevels, resp.NextPageToken = keyset(l, levels, stockLevelCursor, inventorypb.StockLevel)
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
	r, created, err := s.svc.Reserve(ctx, reserveFromProto(ctx, req))
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
	r, err := s.svc.Release(ctx, releaseFromProto(ctx, req))
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}

// CommitReservation implements InventoryService.CommitReservation.
func (s *Server) CommitReservation(ctx context.Context, req *inventoryv1.CommitReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.Commit(ctx, commitFromProto(ctx, req))
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}

// ConfirmReservation implements InventoryService.ConfirmReservation.
func (s *Server) ConfirmReservation(ctx context.Context, req *inventoryv1.ConfirmReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.Confirm(ctx, inventory.ConfirmParams{
		ID: reservationID(req.GetName()), RequestID: req.GetRequestId(), ReferenceID: req.GetReferenceId(), Actor: actor(ctx),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}

// ExtendReservation implements InventoryService.ExtendReservation.
func (s *Server) ExtendReservation(ctx context.Context, req *inventoryv1.ExtendReservationRequest) (*inventoryv1.Reservation, error) {
	r, err := s.svc.Extend(ctx, inventory.ExtendParams{
		ID: reservationID(req.GetName()), RequestID: req.GetRequestId(), TTL: req.GetTtl().AsDuration(), Actor: actor(ctx),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReservation: req.GetName()})
	}
	return inventorypb.Reservation(r), nil
}
