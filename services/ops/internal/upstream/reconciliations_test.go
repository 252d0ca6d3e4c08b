package upstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/opsevents"
)

func TestTriggerReconciliation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	got, err := f.u.TriggerReconciliation(operatorCtx(), &opsv1.TriggerReconciliationRequest{
		RequestId: "req-1", Warehouses: []string{"DE-HAM"}, Skus: []string{"BOLT-M8.40"}, ApplyCorrections: true,
	})
	if err != nil {
		t.Fatalf("TriggerReconciliation: %v", err)
	}
	wantReq := &inventoryv1.StartReconciliationRequest{
		RequestId: "req-1", SnapshotSource: "erp", ApplyCorrections: true,
		WarehouseCodes: []string{"DE-HAM"}, Skus: []string{"BOLT-M8.40"},
	}
	if diff := cmp.Diff(wantReq, f.inv.starts[0], protocmp.Transform()); diff != "" {
		t.Errorf("inventory request (-want +got):\n%s", diff)
	}
	wantForwarded(t, f.inv.last())
	want := &opsv1.Reconciliation{
		Name: "reconciliations/r-new", State: opsv1.Reconciliation_STATE_RUNNING,
		Warehouses: []string{"DE-HAM"}, Skus: []string{"BOLT-M8.40"}, ApplyCorrections: true,
		Summary: &opsv1.ReconciliationSummary{}, CreateTime: tspb(t0), StartTime: tspb(t0),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("reconciliation (-want +got):\n%s", diff)
	}
}

func TestTriggerReconciliationWithoutOperatorActsAsOps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	if _, err := f.u.TriggerReconciliation(context.Background(), &opsv1.TriggerReconciliationRequest{RequestId: "r"}); err != nil {
		t.Fatal(err)
	}
	if got := f.inv.last().Get(opsevents.ActorHeader); len(got) != 1 || got[0] != "service:ops" {
		t.Errorf("actor = %v, want [service:ops]", got)
	}
}

func TestTriggerReconciliationInvalid(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, err := f.u.TriggerReconciliation(context.Background(), &opsv1.TriggerReconciliationRequest{
		RequestId: "r", Warehouses: []string{"DE-HAM", "bad code"}, Skus: []string{"-x"},
	})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	var fields []string
	for _, v := range apierr.FieldViolations(err) {
		fields = append(fields, v.Field)
	}
	if diff := cmp.Diff([]string{"warehouses[1]", "skus[0]"}, fields); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if len(f.inv.starts) != 0 {
		t.Error("an invalid request reached inventory")
	}
}

func TestNeighbourErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		code     codes.Code
		reason   apierr.Reason
		metadata map[string]string
	}{
		{
			"reconciliation running",
			apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_RECONCILIATION_IN_PROGRESS, "busy",
				map[string]string{"reconciliation": "reconciliations/r-1"}),
			codes.FailedPrecondition, opsv1.ErrorReason_ERROR_REASON_RECONCILIATION_ALREADY_RUNNING,
			map[string]string{"reconciliation": "reconciliations/r-1"},
		},
		{
			"snapshot unavailable",
			apierr.Error(codes.Unavailable, inventoryv1.ErrorReason_ERROR_REASON_SNAPSHOT_UNAVAILABLE, "down", nil),
			codes.Unavailable, opsv1.ErrorReason_ERROR_REASON_ERP_SNAPSHOT_UNAVAILABLE, map[string]string{"dependency": "erp"},
		},
		{
			"inventory down",
			apierr.DependencyUnavailable("x", "down"),
			codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE, map[string]string{"dependency": "inventory"},
		},
		{
			"breaker open",
			apierr.CircuitOpen("inventory"),
			codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN, map[string]string{"dependency": "inventory"},
		},
		{
			"request id reused passes through",
			apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "reused", nil),
			codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, nil,
		},
		{
			"warehouse unknown passes through",
			apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND, "no", nil),
			codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND, nil,
		},
		{
			"internal stays internal, cause hidden",
			apierr.Error(codes.Internal, commonv1.ErrorReason_ERROR_REASON_INTERNAL, "db password wrong", nil),
			codes.Internal, commonv1.ErrorReason_ERROR_REASON_INTERNAL, nil,
		},
		{
			"error without status",
			fmt.Errorf("boom"),
			codes.Internal, commonv1.ErrorReason_ERROR_REASON_INTERNAL, nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			f.inv.err = tc.err
			_, err := f.u.TriggerReconciliation(context.Background(), &opsv1.TriggerReconciliationRequest{RequestId: "r"})
			wantStatus(t, err, tc.code, tc.reason)
			if tc.metadata != nil {
				if diff := cmp.Diff(tc.metadata, apierr.Info(err).GetMetadata()); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
			}
			if tc.code == codes.Unavailable {
				if d, ok := apierr.RetryDelay(err); !ok || d <= 0 {
					t.Errorf("no RetryInfo on %v", err)
				}
			}
			if tc.code == codes.Internal && apierr.Info(err) != nil && err.Error() != apierr.Internal().Error() {
				t.Errorf("internal error leaks its cause: %v", err)
			}
		})
	}
}

func TestNeighbourErrorCallerGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.inv.err = context.Canceled
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.u.TriggerReconciliation(ctx, &opsv1.TriggerReconciliationRequest{RequestId: "r"})
	wantStatus(t, err, codes.Canceled, commonv1.ErrorReason_ERROR_REASON_CANCELLED)

	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = f.u.TriggerReconciliation(ctx, &opsv1.TriggerReconciliationRequest{RequestId: "r"})
	wantStatus(t, err, codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED)
}

func TestGetReconciliation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.inv.maxPage = 7
	f.inv.runs = []*inventoryv1.Reconciliation{{
		Name: "reconciliations/r-1", State: inventoryv1.Reconciliation_STATE_SUCCEEDED, SnapshotSource: "erp",
		SnapshotTime: tspb(t0), ComparedCount: 500, MatchedCount: 380, VarianceCount: 120, CorrectedCount: 3,
		AbsoluteVarianceTotal: 999, Actor: opsevents.Actor{Kind: "operator", ID: "key-ops-1"}.Proto(),
		CreateTime: tspb(t0), EndTime: tspb(t0.Add(time.Second)),
	}}
	// 120 variances of alternating sign and growing size, plus a skipped
	// position bigger than all of them.
	var net int64
	for i := range 120 {
		v := int64(i + 1)
		if i%2 == 1 {
			v = -v
		}
		net += v
		f.inv.variances = append(f.inv.variances, &inventoryv1.ReconciliationVariance{
			Sku: fmt.Sprintf("SKU-%03d", i), WarehouseCode: "DE-HAM", Kind: inventoryv1.ReconciliationVariance_KIND_QUANTITY_MISMATCH,
			ExpectedOnHand: 100 + v, TransloadOnHand: 100, Variance: v, Corrected: i == 119,
		})
	}
	f.inv.variances = append(f.inv.variances, &inventoryv1.ReconciliationVariance{
		Sku: "SKU-SKIP", WarehouseCode: "DE-HAM", Kind: inventoryv1.ReconciliationVariance_KIND_SKIPPED_SNAPSHOT_BEHIND, Variance: 100000,
	})

	got, err := f.u.GetReconciliation(operatorCtx(), &opsv1.GetReconciliationRequest{Name: "reconciliations/r-1"})
	if err != nil {
		t.Fatalf("GetReconciliation: %v", err)
	}
	wantForwarded(t, f.inv.last())
	if n := len(got.GetTopVariances()); n != 100 {
		t.Fatalf("top variances = %d, want 100", n)
	}
	first, last := got.GetTopVariances()[0], got.GetTopVariances()[99]
	wantFirst := &opsv1.StockVariance{Sku: "SKU-119", Warehouse: "DE-HAM", ErpOnHand: -20, TransloadOnHand: 100, VarianceUnits: -120, Corrected: true}
	if diff := cmp.Diff(wantFirst, first, protocmp.Transform()); diff != "" {
		t.Errorf("largest variance (-want +got):\n%s", diff)
	}
	if last.GetVarianceUnits() != 21 {
		t.Errorf("100th variance = %d units, want 21", last.GetVarianceUnits())
	}
	wantSummary := &opsv1.ReconciliationSummary{
		PositionsCompared: 500, VariancePositions: 120, AbsoluteVarianceUnits: 999, NetVarianceUnits: net, CorrectionsApplied: 3,
	}
	if diff := cmp.Diff(wantSummary, got.GetSummary(), protocmp.Transform()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if got.GetRequester().GetId() != "key-ops-1" || got.GetState() != opsv1.Reconciliation_STATE_SUCCEEDED ||
		!got.GetEndTime().AsTime().Equal(t0.Add(time.Second)) {
		t.Errorf("run fields not mapped: %v", got)
	}
}

func TestGetReconciliationNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		code   codes.Code
		reason apierr.Reason
	}{
		{"unknown run", "reconciliations/r-404", codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND},
		{"id inventory cannot hold", "reconciliations/r_1.x", codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND},
		{"wrong collection", "exceptions/r-1", codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"empty", "", codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			_, err := f.u.GetReconciliation(context.Background(), &opsv1.GetReconciliationRequest{Name: tc.in})
			wantStatus(t, err, tc.code, tc.reason)
		})
	}
}

func runsEveryMinute(n int) []*inventoryv1.Reconciliation {
	var runs []*inventoryv1.Reconciliation
	for i := range n { // newest first
		st := inventoryv1.Reconciliation_STATE_SUCCEEDED
		if i%3 == 0 {
			st = inventoryv1.Reconciliation_STATE_FAILED
		}
		runs = append(runs, &inventoryv1.Reconciliation{
			Name: fmt.Sprintf("reconciliations/r-%02d", i), State: st,
			CreateTime: tspb(t0.Add(-time.Duration(i) * time.Minute)),
		})
	}
	return runs
}

// listAll pages through ListReconciliations and returns the names.
func listAll(t *testing.T, u *Upstream, filter string, size int32) []string {
	t.Helper()
	var names []string
	token := ""
	for range 100 {
		resp, err := u.ListReconciliations(context.Background(), &opsv1.ListReconciliationsRequest{
			Filter: filter, PageSize: size, PageToken: token,
		})
		if err != nil {
			t.Fatalf("ListReconciliations(%q): %v", filter, err)
		}
		for _, r := range resp.GetReconciliations() {
			if len(r.GetTopVariances()) != 0 {
				t.Errorf("list carries top variances")
			}
			names = append(names, r.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			return names
		}
	}
	t.Fatal("ListReconciliations never ends")
	return nil
}

func TestListReconciliations(t *testing.T) {
	t.Parallel()
	ts := func(d time.Duration) string { return `"` + t0.Add(d).Format(time.RFC3339) + `"` }
	names := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, fmt.Sprintf("reconciliations/r-%02d", i))
		}
		return out
	}
	tests := []struct {
		name   string
		filter string
		size   int32
		want   []string
	}{
		{"all, small pages", "", 4, names(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)},
		{"state", "state = STATE_FAILED", 2, names(0, 3, 6, 9)},
		{"state without prefix", "state = SUCCEEDED", 0, names(1, 2, 4, 5, 7, 8)},
		{"pending never exists", "state = STATE_PENDING", 0, nil},
		{"created after", "create_time >= " + ts(-3*time.Minute), 2, names(0, 1, 2, 3)},
		{"created before", "create_time < " + ts(-6*time.Minute), 1, names(7, 8, 9)},
		{"window and state", "create_time > " + ts(-8*time.Minute) + " AND create_time <= " + ts(-2*time.Minute) + " AND state = STATE_SUCCEEDED", 1, names(2, 4, 5, 7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			f.inv.maxPage = 3
			f.inv.runs = runsEveryMinute(10)
			got := listAll(t, f.u, tc.filter, tc.size)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListReconciliationsStopsAtLowerBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.inv.runs = runsEveryMinute(10)
	resp, err := f.u.ListReconciliations(context.Background(), &opsv1.ListReconciliationsRequest{
		Filter: `create_time >= "` + t0.Add(-time.Minute).Format(time.RFC3339) + `"`, PageSize: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetReconciliations()) != 2 || resp.GetNextPageToken() != "" {
		t.Errorf("got %d runs, token %q; want 2 and no token", len(resp.GetReconciliations()), resp.GetNextPageToken())
	}
	if len(f.inv.lists) != 1 {
		t.Errorf("inventory pages read = %d, want 1", len(f.inv.lists))
	}
}

func TestListReconciliationsBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.inv.maxPage = 2
	f.inv.runs = runsEveryMinute(10)
	first, err := f.u.ListReconciliations(context.Background(), &opsv1.ListReconciliationsRequest{Filter: "state = STATE_FAILED", PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, token %q", err, first.GetNextPageToken())
	}
	tests := []struct {
		name   string
		req    *opsv1.ListReconciliationsRequest
		reason apierr.Reason
	}{
		{"unknown field", &opsv1.ListReconciliationsRequest{Filter: "sku = x"}, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER},
		{"bad operator", &opsv1.ListReconciliationsRequest{Filter: "state != STATE_FAILED"}, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER},
		{"bad time", &opsv1.ListReconciliationsRequest{Filter: `create_time > "yesterday"`}, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER},
		{"token for another filter", &opsv1.ListReconciliationsRequest{PageToken: first.GetNextPageToken()}, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN},
		{"garbage token", &opsv1.ListReconciliationsRequest{PageToken: "!!"}, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN},
		{"negative page size", &opsv1.ListReconciliationsRequest{PageSize: -1}, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.u.ListReconciliations(context.Background(), tc.req)
			wantStatus(t, err, codes.InvalidArgument, tc.reason)
		})
	}
}
