package grpcapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

func reconciliationID(name string) string { return strings.TrimPrefix(name, "reconciliations/") }

// StartReconciliation implements InventoryService.StartReconciliation.
func (s *Server) StartReconciliation(ctx context.Context, req *inventoryv1.StartReconciliationRequest) (*inventoryv1.StartReconciliationResponse, error) {
	p := inventory.StartReconciliationParams{
		RequestID: req.GetRequestId(), SnapshotSource: req.GetSnapshotSource(), ApplyCorrections: req.GetApplyCorrections(),
		WarehouseCodes: req.GetWarehouseCodes(), SKUs: req.GetSkus(),
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
	terms, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	q := inventory.ReconciliationQuery{}
	for _, t := range terms {
		switch {
		case t.Op != "=":
			return nil, badFilter("unsupported operator in " + strconv.Quote(t.Field+" "+t.Op+" "+t.Value))
		case t.Field == "snapshot_source":
			q.SnapshotSource = t.Value
		case t.Field == "state":
			v, err := filterState(inventoryv1.Reconciliation_State_value, t.Value)
			if err != nil {
				return nil, err
			}
			q.State = inventory.ReconciliationState(v)
		default:
			return nil, badFilter("unsupported field " + strconv.Quote(t.Field))
		}
	}
	tok, err := decodeToken(req.GetPageToken(), scope("reconciliations", req.GetFilter()))
	if err != nil {
		return nil, err
	}
	size := pageSize(req.GetPageSize())
	q.Limit = size + 1
	if tok.ID != "" {
		q.BeforeID, q.BeforeCreate = tok.ID, time.UnixMicro(tok.Micros).UTC()
	}
	runs, err := s.svc.ListReconciliations(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	resp := &inventoryv1.ListReconciliationsResponse{}
	runs, resp.NextPageToken = keysetPage(tok, size, runs, func(r inventory.Reconciliation) (string, time.Time) {
		return r.ID, r.CreateTime
	})
	for _, r := range runs {
		resp.Reconciliations = append(resp.Reconciliations, inventorypb.Reconciliation(r))
	}
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
	terms, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	q := inventory.VarianceQuery{ReconciliationID: reconciliationID(req.GetParent())}
	for _, t := range terms {
		switch {
		case t.Op != "=":
			return nil, badFilter("unsupported operator in " + strconv.Quote(t.Field+" "+t.Op+" "+t.Value))
		case t.Field == "sku":
			q.SKU = t.Value
		case t.Field == "warehouse_code":
			q.WarehouseCode = t.Value
		case t.Field == "kind":
			v, ok := inventoryv1.ReconciliationVariance_Kind_value["KIND_"+strings.TrimPrefix(t.Value, "KIND_")]
			if !ok || v == 0 {
				return nil, badFilter("unknown kind " + strconv.Quote(t.Value))
			}
			q.Kind = inventory.VarianceKind(v)
		case t.Field == "corrected" && (t.Value == "true" || t.Value == "false"):
			c := t.Value == "true"
			q.Corrected = &c
		default:
			return nil, badFilter("unsupported term " + strconv.Quote(t.Field+" "+t.Op+" "+t.Value))
		}
	}
	tok, err := decodeToken(req.GetPageToken(), scope("variances", req.GetParent(), req.GetFilter()))
	if err != nil {
		return nil, err
	}
	size := pageSize(req.GetPageSize())
	q.AfterSKU, q.AfterWarehouse, q.Limit = tok.SKU, tok.WH, size+1
	vs, err := s.svc.ListVariances(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{metaReconciliation: req.GetParent()})
	}
	resp := &inventoryv1.ListReconciliationVariancesResponse{}
	if len(vs) > size {
		vs = vs[:size]
		last := vs[size-1]
		tok.SKU, tok.WH = last.SKU, last.WarehouseCode
		resp.NextPageToken = encodeToken(tok)
	}
	for _, v := range vs {
		resp.ReconciliationVariances = append(resp.ReconciliationVariances, inventorypb.Variance(v))
	}
	return resp, nil
}
