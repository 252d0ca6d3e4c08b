package grpcapi

import (
	"context"
	"strings"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

func reconciliationID(name string) string { return strings.TrimPrefix(name, "reconciliations/") }

// StartReconciliation implements InventoryService.StartReconciliation.
func (s *Server) StartReconciliation(ctx context.Context, req *inventoryv1.StartReconciliationRequest) (*inventoryv1.StartReconciliationResponse, error) {
	p := inventory.StartReconciliationParams{
		RequestID: req.GetRequestId(), SnapshotSource: req.GetSnapshotSource(), ApplyCorrections: req.GetApplyCorrections(),
		WarehouseCodes: req.GetWarehouseCodes(), SKUs: req.GetSkus(), Actor: actor(ctx),
	}
	if req.GetSnapshotTime() != nil {
		p.SnapshotTime = req.GetSnapshotTime().AsTime()
	}
	for _, e := range req.GetSnapshotEntries() {
		p.Entries = append(p.Entries, inventory.SnapshotEntry{SKU: e.GetSku(), WarehouseCode: e.GetWarehouseCode(), OnHand: e.GetOnHand(), Sequence: e.GetSequence()})
	}
	run, err := s.svc.StartReconciliation(ctx, p)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{"snapshot_source": req.GetSnapshotSource()})
	}
	return &inventoryv1.StartReconciliationResponse{Reconciliation: inventorypb.Reconciliation(run)}, nil
}

// GetReconciliation implements InventoryService.GetReconciliation.
func (s *Server) GetReconciliation(ctx context.Context, req *inventoryv1.GetReconciliationRequest) (*inventoryv1.Reconciliation, error) {
	run, err := s.svc.GetReconciliation(ctx, reconciliationID(req.GetName()))
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReconciliation: req.GetName()})
	}
	return inventorypb.Reconciliation(run), nil
}

// ListReconciliations implements InventoryService.ListReconciliations.
func (s *Server) ListReconciliations(ctx context.Context, req *inventoryv1.ListReconciliationsRequest) (*inventoryv1.ListReconciliationsResponse, error) {
	var after newestFirst
	l, err := readList(req, inventoryv1.InventoryService_ListReconciliations_FullMethodName, reconciliationFilter, nil, after.dst()...)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	runs, err := s.svc.ListReconciliations(ctx, inventory.ReconciliationQuery{
		SnapshotSource: l.eq("snapshot_source").Text, State: inventory.ReconciliationState(l.eq("state").Enum),
		BeforeCreate: after.before, BeforeID: after.beforeID, Limit: l.limit(),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	resp := &inventoryv1.ListReconciliationsResponse{}
	resp.Reconciliations, resp.NextPageToken = keyset(l, runs, reconciliationCursor, inventorypb.Reconciliation)
	return resp, nil
}

// GetReconciliationVariance implements InventoryService.GetReconciliationVariance.
func (s *Server) GetReconciliationVariance(ctx context.Context, req *inventoryv1.GetReconciliationVarianceRequest) (*inventoryv1.ReconciliationVariance, error) {
	run, rest, _ := strings.Cut(reconciliationID(req.GetName()), "/variances/")
	sku, wh, _ := strings.Cut(rest, "@")
	v, err := s.svc.GetVariance(ctx, run, sku, wh)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{
			metaReconciliation: "reconciliations/" + run, metaSKU: sku, metaWarehouseCode: wh,
		})
	}
	return inventorypb.Variance(v), nil
}

// ListReconciliationVariances implements InventoryService.ListReconciliationVariances.
func (s *Server) ListReconciliationVariances(ctx context.Context, req *inventoryv1.ListReconciliationVariancesRequest) (*inventoryv1.ListReconciliationVariancesResponse, error) {
	var after bySKU
	l, err := readList(req, inventoryv1.InventoryService_ListReconciliationVariances_FullMethodName, varianceFilter,
		[]string{req.GetParent()}, after.dst()...)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	q := inventory.VarianceQuery{
		ReconciliationID: reconciliationID(req.GetParent()), SKU: l.eq("sku").Text, WarehouseCode: l.eq("warehouse_code").Text,
		Kind: inventory.VarianceKind(l.eq("kind").Enum), AfterSKU: after.sku, AfterWarehouse: after.warehouse, Limit: l.limit(),
	}
	if v, ok := l.filter.Find("corrected", aip.OpEq); ok {
		q.Corrected = &v.Bool
	}
	vs, err := s.svc.ListVariances(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReconciliation: req.GetParent()})
	}
	resp := &inventoryv1.ListReconciliationVariancesResponse{}
	resp.ReconciliationVariances, resp.NextPageToken = keyset(l, vs, varianceCursor, inventorypb.Variance)
	return resp, nil
}
