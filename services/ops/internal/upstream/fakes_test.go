package upstream

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/testharness/fakeclock"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// calls records the outgoing metadata of every call a fake saw.
type calls struct {
	mu sync.Mutex
	md []metadata.MD
}

func (c *calls) record(ctx context.Context) {
	md, _ := metadata.FromOutgoingContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.md = append(c.md, md)
}

func (c *calls) last() metadata.MD {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.md) == 0 {
		return nil
	}
	return c.md[len(c.md)-1]
}

// fakeInventory serves reconciliation runs (newest first) and variances
// from memory, pageSize at most maxPage so tests see several pages.
type fakeInventory struct {
	inventoryv1.InventoryServiceClient
	calls
	maxPage   int
	runs      []*inventoryv1.Reconciliation
	variances []*inventoryv1.ReconciliationVariance
	err       error // returned by every call when set
	starts    []*inventoryv1.StartReconciliationRequest
	lists     []*inventoryv1.ListReconciliationsRequest
}

func (f *fakeInventory) StartReconciliation(ctx context.Context, in *inventoryv1.StartReconciliationRequest, _ ...grpc.CallOption) (*inventoryv1.StartReconciliationResponse, error) {
	f.record(ctx)
	f.starts = append(f.starts, in)
	if f.err != nil {
		return nil, f.err
	}
	return &inventoryv1.StartReconciliationResponse{Reconciliation: &inventoryv1.Reconciliation{
		Name: "reconciliations/r-new", State: inventoryv1.Reconciliation_STATE_RUNNING, SnapshotSource: in.GetSnapshotSource(),
		WarehouseCodes: in.GetWarehouseCodes(), Skus: in.GetSkus(), ApplyCorrections: in.GetApplyCorrections(),
		CreateTime: tspb(t0),
	}}, nil
}

func (f *fakeInventory) GetReconciliation(ctx context.Context, in *inventoryv1.GetReconciliationRequest, _ ...grpc.CallOption) (*inventoryv1.Reconciliation, error) {
	f.record(ctx)
	if f.err != nil {
		return nil, f.err
	}
	for _, r := range f.runs {
		if r.GetName() == in.GetName() {
			return r, nil
		}
	}
	return nil, apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_RECONCILIATION_NOT_FOUND, "reconciliation not found", nil)
}

func page[T any](items []T, token string, size int32, maxPage int) ([]T, string) {
	off, _ := strconv.Atoi(token)
	n := int(size)
	if n <= 0 {
		n = 50
	}
	if maxPage > 0 && n > maxPage {
		n = maxPage
	}
	end := min(off+n, len(items))
	if end >= len(items) {
		return items[off:], ""
	}
	return items[off:end], strconv.Itoa(end)
}

func (f *fakeInventory) ListReconciliations(ctx context.Context, in *inventoryv1.ListReconciliationsRequest, _ ...grpc.CallOption) (*inventoryv1.ListReconciliationsResponse, error) {
	f.record(ctx)
	f.lists = append(f.lists, in)
	if f.err != nil {
		return nil, f.err
	}
	var match []*inventoryv1.Reconciliation
	for _, r := range f.runs {
		if st, ok := strings.CutPrefix(in.GetFilter(), "state = "); ok && "STATE_"+st != r.GetState().String() {
			continue
		}
		match = append(match, r)
	}
	rs, next := page(match, in.GetPageToken(), in.GetPageSize(), f.maxPage)
	return &inventoryv1.ListReconciliationsResponse{Reconciliations: rs, NextPageToken: next}, nil
}

func (f *fakeInventory) ListReconciliationVariances(ctx context.Context, in *inventoryv1.ListReconciliationVariancesRequest, _ ...grpc.CallOption) (*inventoryv1.ListReconciliationVariancesResponse, error) {
	f.record(ctx)
	if f.err != nil {
		return nil, f.err
	}
	vs, next := page(f.variances, in.GetPageToken(), in.GetPageSize(), f.maxPage)
	return &inventoryv1.ListReconciliationVariancesResponse{ReconciliationVariances: vs, NextPageToken: next}, nil
}

// fakeOrder serves the ERP queue from memory.
type fakeOrder struct {
	orderv1.OrderServiceClient
	calls
	status  *orderv1.ErpQueueStatus
	entries []*orderv1.ErpQueueEntry
	err     error
	lists   []*orderv1.ListErpQueueEntriesRequest
	retried []string
}

func (f *fakeOrder) GetErpQueueStatus(ctx context.Context, _ *orderv1.GetErpQueueStatusRequest, _ ...grpc.CallOption) (*orderv1.ErpQueueStatus, error) {
	f.record(ctx)
	if f.err != nil {
		return nil, f.err
	}
	return f.status, nil
}

func (f *fakeOrder) ListErpQueueEntries(ctx context.Context, in *orderv1.ListErpQueueEntriesRequest, _ ...grpc.CallOption) (*orderv1.ListErpQueueEntriesResponse, error) {
	f.record(ctx)
	f.lists = append(f.lists, in)
	if f.err != nil {
		return nil, f.err
	}
	es, next := page(f.entries, in.GetPageToken(), in.GetPageSize(), 0)
	return &orderv1.ListErpQueueEntriesResponse{ErpQueueEntries: es, NextPageToken: next}, nil
}

func (f *fakeOrder) find(name string) (*orderv1.ErpQueueEntry, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, e := range f.entries {
		if e.GetName() == name {
			return e, nil
		}
	}
	return nil, apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ERP_QUEUE_ENTRY_NOT_FOUND, "not queued", nil)
}

func (f *fakeOrder) GetErpQueueEntry(ctx context.Context, in *orderv1.GetErpQueueEntryRequest, _ ...grpc.CallOption) (*orderv1.ErpQueueEntry, error) {
	f.record(ctx)
	return f.find(in.GetName())
}

func (f *fakeOrder) RetryErpQueueEntry(ctx context.Context, in *orderv1.RetryErpQueueEntryRequest, _ ...grpc.CallOption) (*orderv1.ErpQueueEntry, error) {
	f.record(ctx)
	f.retried = append(f.retried, in.GetName())
	return f.find(in.GetName())
}

// fakeDesk counts from maps.
type fakeDesk struct {
	open       map[opsv1.Exception_Domain]int64
	bySeverity map[opsv1.Exception_Severity]int64
	pending    map[string]int64
	err        error
}

func (d *fakeDesk) OpenExceptions(context.Context) (map[opsv1.Exception_Domain]int64, error) {
	return d.open, d.err
}

func (d *fakeDesk) PendingDeadLetters(context.Context) (map[string]int64, error) {
	return d.pending, d.err
}

// severityDesk also implements SeverityStats.
type severityDesk struct{ *fakeDesk }

func (d severityDesk) OpenExceptionsBySeverity(context.Context) (map[opsv1.Exception_Severity]int64, error) {
	return d.bySeverity, d.err
}

type fixture struct {
	u     *Upstream
	inv   *fakeInventory
	ord   *fakeOrder
	desk  *fakeDesk
	clock *fakeclock.Clock
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{
		inv: &fakeInventory{}, ord: &fakeOrder{}, desk: &fakeDesk{},
		clock: fakeclock.New(t0),
	}
	cfg := Config{Inventory: f.inv, Order: f.ord, Desk: f.desk, Now: f.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	u, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.u = u
	return f
}

// operatorCtx is an incoming call from the gateway on behalf of an
// operator key, with a correlation id.
func operatorCtx() context.Context {
	md := metadata.Pairs(opsevents.ActorHeader, "operator:key-ops-1", correlation.MetadataKey, "corr-123")
	return metadata.NewIncomingContext(context.Background(), md)
}

// wantForwarded checks that a neighbour saw the operator and the correlation id.
func wantForwarded(t *testing.T, md metadata.MD) {
	t.Helper()
	if got := md.Get(opsevents.ActorHeader); len(got) != 1 || got[0] != "operator:key-ops-1" {
		t.Errorf("forwarded actor = %v, want [operator:key-ops-1]", got)
	}
	if got := md.Get(correlation.MetadataKey); len(got) != 1 || got[0] != "corr-123" {
		t.Errorf("forwarded correlation id = %v, want [corr-123]", got)
	}
}

// wantStatus checks an error's code and ErrorInfo reason.
func wantStatus(t *testing.T, err error, code codes.Code, reason apierr.Reason) {
	t.Helper()
	if got := statusCode(err); got != code {
		t.Errorf("code = %v, want %v (err %v)", got, code, err)
	}
	if reason != nil && !apierr.HasReason(err, reason) {
		t.Errorf("reason = %q, want %s (err %v)", apierr.ReasonOf(err), reason, err)
	}
}

func statusCode(err error) codes.Code { return status.Code(err) }

func tspb(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
