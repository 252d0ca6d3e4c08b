package upstream

import (
	"cmp"
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
)

const (
	reconciliationPrefix = "reconciliations/"
	// snapshotSource is the system of record ops reconciles against.
	snapshotSource = "erp"
	// maxTopVariances is the contract's bound on Reconciliation.top_variances.
	maxTopVariances = 100
	// variancePageSize is inventory's largest page.
	variancePageSize = 500
	// maxVariancePages bounds the variances read for one GetReconciliation
	// (100,000): beyond it the top list and net variance cover what was read.
	maxVariancePages = 200
	// maxListRounds bounds the inventory pages one ListReconciliations
	// reads while a create_time filter skips runs; the page may then be
	// short, with a token to continue.
	maxListRounds = 20
	// Page sizes of the ops lists (transload.common.v1 convention).
	defaultPageSize = 50
	maxPageSize     = 500
)

// Inventory's name patterns: an ops value outside them cannot exist
// there, so it is refused (or not found) here, in the ops request's terms.
var (
	inventoryWarehouse = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	inventorySKU       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	inventoryRunID     = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// reconciliationFilter is the ListReconciliations filter of the ops contract.
var reconciliationFilter = aip.Schema{
	{Name: "state", Kind: aip.KindEnum, Enum: opsv1.Reconciliation_State_value, EnumPrefix: "STATE_"},
	{Name: "create_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpLt, aip.OpLe, aip.OpGt, aip.OpGe}},
}

// TriggerReconciliation implements OpsService.TriggerReconciliation: it
// starts an inventory reconciliation against the ERP snapshot, under the
// operator's request id (inventory keeps it idempotent).
func (u *Upstream) TriggerReconciliation(ctx context.Context, req *opsv1.TriggerReconciliationRequest) (*opsv1.Reconciliation, error) {
	var vs []apierr.FieldViolation
	if n := len(req.GetRequestId()); n < 1 || n > 128 {
		vs = append(vs, apierr.FieldViolation{Field: "request_id", Description: "must be 1 to 128 characters", Reason: "STRING_LEN"})
	}
	vs = append(vs, patternViolations("warehouses", req.GetWarehouses(), inventoryWarehouse, "a warehouse code")...)
	vs = append(vs, patternViolations("skus", req.GetSkus(), inventorySKU, "a SKU")...)
	if len(vs) > 0 {
		return nil, invalidArgument(vs)
	}
	resp, err := u.inventory.StartReconciliation(u.outgoing(ctx), &inventoryv1.StartReconciliationRequest{
		RequestId: req.GetRequestId(), SnapshotSource: snapshotSource, ApplyCorrections: req.GetApplyCorrections(),
		WarehouseCodes: req.GetWarehouses(), Skus: req.GetSkus(),
	})
	if err != nil {
		return nil, u.neighbourError(ctx, depInventory, "", err)
	}
	return reconciliationToOps(resp.GetReconciliation(), 0), nil
}

// GetReconciliation implements OpsService.GetReconciliation: the run with
// its largest variances (by absolute units, at most 100) and its net
// variance, both read from inventory's variance report.
func (u *Upstream) GetReconciliation(ctx context.Context, req *opsv1.GetReconciliationRequest) (*opsv1.Reconciliation, error) {
	name := req.GetName()
	id, ok := strings.CutPrefix(name, reconciliationPrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, invalidArgument([]apierr.FieldViolation{{Field: "name", Description: "must be reconciliations/{reconciliation}", Reason: "STRING_PATTERN"}})
	}
	if !inventoryRunID.MatchString(id) {
		return nil, errNotFound(name)
	}
	octx := u.outgoing(ctx)
	run, err := u.inventory.GetReconciliation(octx, &inventoryv1.GetReconciliationRequest{Name: name})
	if err != nil {
		return nil, u.neighbourError(ctx, depInventory, name, err)
	}
	top, net, err := u.topVariances(octx, name)
	if err != nil {
		return nil, u.neighbourError(ctx, depInventory, name, err)
	}
	out := reconciliationToOps(run, net)
	out.TopVariances = top
	return out, nil
}

// topVariances pages through the variance report of run and returns the
// largest by |units| (ties by SKU, then warehouse) and the net variance.
// Positions inventory skipped (snapshot behind) were not compared and
// count for neither.
func (u *Upstream) topVariances(ctx context.Context, run string) ([]*opsv1.StockVariance, int64, error) {
	var (
		top   []*opsv1.StockVariance
		net   int64
		token string
	)
	byUnits := func(a, b *opsv1.StockVariance) int {
		if c := cmp.Compare(abs(b.GetVarianceUnits()), abs(a.GetVarianceUnits())); c != 0 {
			return c
		}
		if c := cmp.Compare(a.GetSku(), b.GetSku()); c != 0 {
			return c
		}
		return cmp.Compare(a.GetWarehouse(), b.GetWarehouse())
	}
	for page := 0; ; page++ {
		if page == maxVariancePages {
			u.logger.WarnContext(ctx, "ops: variance report truncated", slog.String("reconciliation", run),
				slog.Int("read", maxVariancePages*variancePageSize))
			break
		}
		resp, err := u.inventory.ListReconciliationVariances(ctx, &inventoryv1.ListReconciliationVariancesRequest{
			Parent: run, PageSize: variancePageSize, PageToken: token,
		})
		if err != nil {
			return nil, 0, err
		}
		for _, v := range resp.GetReconciliationVariances() {
			if v.GetKind() == inventoryv1.ReconciliationVariance_KIND_SKIPPED_SNAPSHOT_BEHIND {
				continue
			}
			net += v.GetVariance()
			top = append(top, &opsv1.StockVariance{
				Sku: v.GetSku(), Warehouse: v.GetWarehouseCode(), ErpOnHand: v.GetExpectedOnHand(),
				TransloadOnHand: v.GetTransloadOnHand(), VarianceUnits: v.GetVariance(), Corrected: v.GetCorrected(),
			})
		}
		if len(top) > 2*maxTopVariances {
			slices.SortFunc(top, byUnits)
			top = top[:maxTopVariances]
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	slices.SortFunc(top, byUnits)
	return top[:min(len(top), maxTopVariances)], net, nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// ListReconciliations implements OpsService.ListReconciliations, newest
// first, with top_variances left empty. Inventory filters on the state;
// create_time bounds are applied here to inventory's newest-first pages,
// so a page may hold fewer runs than asked for (AIP-158 allows it). The
// ops page token wraps inventory's, bound to the ops filter.
func (u *Upstream) ListReconciliations(ctx context.Context, req *opsv1.ListReconciliationsRequest) (*opsv1.ListReconciliationsResponse, error) {
	f, err := readList(reconciliationFilter, req)
	if err != nil {
		return nil, err
	}
	q := aip.Query{Method: opsv1.OpsService_ListReconciliations_FullMethodName, Filter: req.GetFilter()}
	var token string
	if err := aip.DecodePageToken(req.GetPageToken(), q, &token); err != nil {
		return nil, status.Convert(err).Err()
	}
	var invFilter string
	if v, ok := f.Find("state", aip.OpEq); ok {
		switch opsv1.Reconciliation_State(v.Enum) {
		case opsv1.Reconciliation_STATE_PENDING:
			// Inventory starts a run as it accepts it: none is ever pending.
			return &opsv1.ListReconciliationsResponse{}, nil
		case opsv1.Reconciliation_STATE_RUNNING:
			invFilter = "state = RUNNING"
		case opsv1.Reconciliation_STATE_SUCCEEDED:
			invFilter = "state = SUCCEEDED"
		case opsv1.Reconciliation_STATE_FAILED:
			invFilter = "state = FAILED"
		case opsv1.Reconciliation_STATE_UNSPECIFIED:
			// Schema.Parse never accepts the zero value.
		}
	}
	window := timeBounds(f, "create_time")
	size := aip.ClampPageSize(req.GetPageSize(), defaultPageSize, maxPageSize)
	octx := u.outgoing(ctx)
	out := &opsv1.ListReconciliationsResponse{}
	for range maxListRounds {
		resp, err := u.inventory.ListReconciliations(octx, &inventoryv1.ListReconciliationsRequest{
			PageSize: size - int32(len(out.Reconciliations)), PageToken: token, Filter: invFilter,
		})
		if err != nil {
			return nil, u.neighbourError(ctx, depInventory, "", err)
		}
		token = resp.GetNextPageToken()
		for _, r := range resp.GetReconciliations() {
			t := r.GetCreateTime().AsTime()
			if window.beforeStart(t) {
				token = "" // newest first: every later run is older still
				break
			}
			if window.contains(t) {
				out.Reconciliations = append(out.Reconciliations, reconciliationToOps(r, 0))
			}
		}
		if token == "" || int32(len(out.Reconciliations)) >= size {
			break
		}
	}
	if token != "" {
		out.NextPageToken = aip.EncodePageToken(q, aip.KeyOf(token))
	}
	return out, nil
}

// bounds are the time comparisons of a filter on one field.
type bounds []aip.Term

func timeBounds(f aip.Filter, field string) bounds {
	var b bounds
	for _, t := range f.Terms {
		if t.Field == field {
			b = append(b, t)
		}
	}
	return b
}

func (b bounds) contains(t time.Time) bool {
	for _, term := range b {
		v := term.Value.Time
		ok := true
		switch term.Op {
		case aip.OpLt:
			ok = t.Before(v)
		case aip.OpLe:
			ok = !t.After(v)
		case aip.OpGt:
			ok = t.After(v)
		case aip.OpGe:
			ok = !t.Before(v)
		case aip.OpEq, aip.OpNe, aip.OpHas:
			// Not declared for time fields.
		}
		if !ok {
			return false
		}
	}
	return true
}

// beforeStart reports whether t is below a lower bound.
func (b bounds) beforeStart(t time.Time) bool {
	for _, term := range b {
		switch term.Op {
		case aip.OpGt:
			if !t.After(term.Value.Time) {
				return true
			}
		case aip.OpGe:
			if t.Before(term.Value.Time) {
				return true
			}
		case aip.OpEq, aip.OpNe, aip.OpLt, aip.OpLe, aip.OpHas:
		}
	}
	return false
}

// reconciliationToOps converts an inventory run; net is the net variance
// when it was read from the variance report (0 otherwise: inventory's run
// carries only the absolute total).
func reconciliationToOps(r *inventoryv1.Reconciliation, net int64) *opsv1.Reconciliation {
	out := &opsv1.Reconciliation{
		Name:             r.GetName(),
		State:            reconciliationState(r.GetState()),
		Warehouses:       r.GetWarehouseCodes(),
		Skus:             r.GetSkus(),
		ApplyCorrections: r.GetApplyCorrections(),
		Requester:        r.GetActor(),
		SnapshotTime:     r.GetSnapshotTime(),
		Summary: &opsv1.ReconciliationSummary{
			PositionsCompared:     r.GetComparedCount(),
			VariancePositions:     r.GetVarianceCount(),
			AbsoluteVarianceUnits: r.GetAbsoluteVarianceTotal(),
			NetVarianceUnits:      net,
			CorrectionsApplied:    r.GetCorrectedCount(),
		},
		ErrorMessage: r.GetErrorMessage(),
		CreateTime:   r.GetCreateTime(),
		// Inventory compares as soon as it accepts a run.
		StartTime: r.GetCreateTime(),
		EndTime:   r.GetEndTime(),
	}
	return out
}

func reconciliationState(s inventoryv1.Reconciliation_State) opsv1.Reconciliation_State {
	switch s {
	case inventoryv1.Reconciliation_STATE_RUNNING:
		return opsv1.Reconciliation_STATE_RUNNING
	case inventoryv1.Reconciliation_STATE_SUCCEEDED:
		return opsv1.Reconciliation_STATE_SUCCEEDED
	case inventoryv1.Reconciliation_STATE_FAILED:
		return opsv1.Reconciliation_STATE_FAILED
	case inventoryv1.Reconciliation_STATE_UNSPECIFIED:
	}
	return opsv1.Reconciliation_STATE_UNSPECIFIED
}

// patternViolations checks each value against re.
func patternViolations(field string, values []string, re *regexp.Regexp, what string) []apierr.FieldViolation {
	var vs []apierr.FieldViolation
	for i, v := range values {
		if !re.MatchString(v) {
			vs = append(vs, apierr.FieldViolation{
				Field:       field + "[" + strconv.Itoa(i) + "]",
				Description: "is not " + what + " (must match " + re.String() + ")",
				Reason:      "STRING_PATTERN",
			})
		}
	}
	return vs
}

func invalidArgument(vs []apierr.FieldViolation) error {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		parts = append(parts, v.Field+": "+v.Description)
	}
	return apierr.InvalidArgument("request is invalid: "+strings.Join(parts, "; "), vs...)
}
