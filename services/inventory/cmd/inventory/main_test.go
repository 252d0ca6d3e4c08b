package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/svcmain"
	testharness "github.com/transload/transload/platform/testharness/harness"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/inventory/internal/config"
)

// harness runs the wired app with its gRPC server and a fake ERP on
// bufconn listeners, and its admin HTTP on a loopback port.
type harness struct {
	t      testing.TB
	erp    *fakeERP
	client inventoryv1.InventoryServiceClient
	admin  string
	stop   func()

	// erpMu guards the fake ERP's server and listener, which stopERP and
	// startERP replace (an ERP restart).
	erpMu  sync.Mutex
	erpLis *bufconn.Listener
	erpSrv *grpc.Server
}

// startERP serves the fake ERP on a new listener; the app's connection
// dials whichever listener is current.
func (h *harness) startERP() {
	h.erpMu.Lock()
	defer h.erpMu.Unlock()
	h.erpLis = bufconn.Listen(1 << 20)
	h.erpSrv = grpc.NewServer()
	erpv1.RegisterErpAdapterServiceServer(h.erpSrv, h.erp)
	go func(srv *grpc.Server, lis net.Listener) { _ = srv.Serve(lis) }(h.erpSrv, h.erpLis)
}

// stopERP stops the fake ERP's server, ending its open streams and
// connections; dialing fails until startERP.
func (h *harness) stopERP() {
	h.erpMu.Lock()
	defer h.erpMu.Unlock()
	h.erpSrv.Stop()
}

func (h *harness) dialERP(ctx context.Context, _ string) (net.Conn, error) {
	h.erpMu.Lock()
	lis := h.erpLis
	h.erpMu.Unlock()
	return lis.DialContext(ctx)
}

// testEnv is the environment of a test app on the SQLite database at
// dbPath, with env on top.
func testEnv(dbPath string, env map[string]string) func(string) string {
	base := map[string]string{
		"DATABASE_URL":                "sqlite://" + dbPath,
		"NATS_URL":                    "nats://127.0.0.1:1", // unreachable unless a test sets one: not a hard dependency
		"ERP_ADDR":                    "passthrough:///erp",
		"INVENTORY_LOAD_RETRY_MIN":    "5ms",
		"INVENTORY_LOAD_RETRY_MAX":    "20ms",
		"INVENTORY_EXPIRY_INTERVAL":   "50ms",
		"INVENTORY_ERP_FEED_INTERVAL": "0",
		"LOG_LEVEL":                   "error",
	}
	maps.Copy(base, env)
	return func(k string) string { return base[k] }
}

func startHarness(t testing.TB, getenv func(string) string, erp *fakeERP) *harness {
	t.Helper()
	h := &harness{t: t, erp: erp}
	h.startERP()

	grpcLis := bufconn.Listen(1 << 20)
	adminLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var cfg config.Config
	rt, err := svcmain.Start(ctx, "inventory", getenv, io.Discard, &cfg)
	if err != nil {
		cancel()
		t.Fatalf("svcmain.Start: %v", err)
	}
	a, err := newApp(ctx, rt, cfg, deps{
		grpcListener:   grpcLis,
		adminListener:  adminLis,
		erpDialOptions: []grpc.DialOption{grpc.WithContextDialer(h.dialERP)},
	})
	if err != nil {
		cancel()
		_ = rt.Close()
		t.Fatalf("newApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()

	conn, err := grpc.NewClient("passthrough:///inventory",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return grpcLis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	h.client, h.admin = inventoryv1.NewInventoryServiceClient(conn), "http://"+adminLis.Addr().String()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = conn.Close()
		cancel()
		awaitStop(t, done, "app.run")
		if err := rt.Close(); err != nil {
			t.Errorf("runtime close: %v", err)
		}
		h.stopERP()
	}
	t.Cleanup(h.stop)
	return h
}

// awaitStop waits for the result of a run whose context was cancelled.
func awaitStop(t testing.TB, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not return after cancel", what)
	}
}

func (h *harness) readyStatus() int {
	h.t.Helper()
	resp, err := http.Get(h.admin + "/readyz")
	if err != nil {
		h.t.Fatalf("GET /readyz: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// waitReady polls /readyz until it answers 200.
func (h *harness) waitReady() {
	h.t.Helper()
	wait.Eventually(h.t, 20*time.Second, "/readyz 200", func() error {
		got := h.readyStatus()
		return wait.Check(got == http.StatusOK, "/readyz answers %d", got)
	})
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartupLoadReadinessAndReservations(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "inventory.db")
	erp := &fakeERP{down: true}
	h := startHarness(t, testEnv(dbPath, nil), erp)
	ctx := ctxT(t)

	// While the ERP is down the service is up but not ready, and refuses
	// to answer availability it cannot know.
	wait.Eventually(t, 10*time.Second, "loader retries ListWarehouses", func() error {
		list, _ := erp.calls()
		return wait.Check(list >= 3, "%d ListWarehouses calls", list)
	})
	if got := h.readyStatus(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before the load = %d, want 503", got)
	}
	_, err := h.client.CheckAvailability(ctx, &inventoryv1.CheckAvailabilityRequest{Skus: []string{"SKU-00001"}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("CheckAvailability before the load: %v, want UNAVAILABLE", err)
	}

	erp.setDown(false)
	h.waitReady()

	ws, err := h.client.ListWarehouses(ctx, &inventoryv1.ListWarehousesRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws.GetWarehouses()) != 2 || ws.GetWarehouses()[0].GetCode() != "WH-HAM" || ws.GetNextPageToken() == "" {
		t.Fatalf("ListWarehouses page 1 = %v", ws)
	}
	ws2, err := h.client.ListWarehouses(ctx, &inventoryv1.ListWarehousesRequest{PageSize: 2, PageToken: ws.GetNextPageToken()})
	if err != nil || len(ws2.GetWarehouses()) != 1 || ws2.GetWarehouses()[0].GetCode() != "WH-BER" || ws2.GetNextPageToken() != "" {
		t.Fatalf("ListWarehouses page 2 = %v, %v", ws2, err)
	}
	if _, err := h.client.ListWarehouses(ctx, &inventoryv1.ListWarehousesRequest{Filter: `colour = "red"`}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("ListWarehouses bad filter: %v", err)
	}

	avail, err := h.client.CheckAvailability(ctx, &inventoryv1.CheckAvailabilityRequest{
		Skus: []string{"SKU-00500", "SKU-99999", "SKU-00001"}, Channel: "web",
	})
	if err != nil {
		t.Fatal(err)
	}
	type skuView struct {
		SKU        string
		Known      bool
		Total      int64
		Warehouses []string
		Sequence   int64
	}
	var got []skuView
	for _, s := range avail.GetSkus() {
		v := skuView{SKU: s.GetSku(), Known: s.GetKnown(), Total: s.GetTotalAvailable(), Sequence: s.GetStockSequence()}
		for _, w := range s.GetWarehouses() {
			v.Warehouses = append(v.Warehouses, w.GetWarehouseCode())
		}
		got = append(got, v)
	}
	want := []skuView{
		{SKU: "SKU-00500", Known: true, Total: 10, Warehouses: []string{"WH-HAM", "WH-MUC", "WH-BER"}, Sequence: 3},
		{SKU: "SKU-99999"},
		{SKU: "SKU-00001", Known: true, Total: 900, Warehouses: []string{"WH-HAM", "WH-MUC", "WH-BER"}, Sequence: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CheckAvailability (-want +got):\n%s", diff)
	}
	if in := avail.GetSkus()[2].GetWarehouses()[0]; in.GetInboundTotal() != 50 || in.GetNextInboundDate().GetDay() != 15 {
		t.Errorf("inbound of SKU-00001@WH-HAM = %v", in)
	}

	// Insufficient stock: FAILED_PRECONDITION with the reason and
	// metadata callers branch on.
	_, err = h.client.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{
		RequestId: "req-big", ReferenceId: "order-big", Channel: "web", AllowSplit: true,
		Lines: []*inventoryv1.ReserveStockLine{{Sku: "SKU-00001", Quantity: 1}, {Sku: "SKU-00500", Quantity: 11}},
	})
	if status.Code(err) != codes.FailedPrecondition || !apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_INSUFFICIENT_STOCK) {
		t.Fatalf("ReserveStock beyond stock: %v, want FAILED_PRECONDITION INSUFFICIENT_STOCK", err)
	}
	if diff := cmp.Diff(map[string]string{"sku": "SKU-00500", "requested": "11", "available": "10"}, apierr.Info(err).GetMetadata()); diff != "" {
		t.Errorf("ErrorInfo metadata (-want +got):\n%s", diff)
	}
	if l, err := h.client.GetStockLevel(ctx, &inventoryv1.GetStockLevelRequest{Name: "warehouses/WH-HAM/stockLevels/SKU-00001"}); err != nil || l.GetReserved() != 0 {
		t.Errorf("all-or-nothing: SKU-00001@WH-HAM = %v, %v; want reserved 0", l, err)
	}

	// Protovalidate runs before the handler.
	_, err = h.client.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{
		RequestId: "req-bad", ReferenceId: "o", Channel: "web", Lines: []*inventoryv1.ReserveStockLine{{Sku: "SKU-00001", Quantity: 0}},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("ReserveStock with quantity 0: %v, want INVALID_ARGUMENT", err)
	}

	req := &inventoryv1.ReserveStockRequest{
		RequestId: "req-1", ReferenceId: "order-1", Channel: "web", AllowSplit: true,
		Lines: []*inventoryv1.ReserveStockLine{{Sku: "SKU-00500", Quantity: 5}},
	}
	res, err := h.client.ReserveStock(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	r := res.GetReservation()
	if !res.GetFullyAllocated() || r.GetState() != inventoryv1.Reservation_STATE_CONFIRMED {
		t.Errorf("reservation = %v", res)
	}
	var allocs []string
	for _, a := range r.GetLines()[0].GetAllocations() {
		allocs = append(allocs, a.GetWarehouseCode()+":"+itoa(a.GetQuantity()))
	}
	if diff := cmp.Diff([]string{"WH-HAM:4", "WH-MUC:1"}, allocs); diff != "" {
		t.Errorf("allocations (-want +got):\n%s", diff)
	}
	again, err := h.client.ReserveStock(ctx, req)
	if err != nil || again.GetReservation().GetName() != r.GetName() {
		t.Errorf("replayed ReserveStock = %v, %v; want %s", again.GetReservation().GetName(), err, r.GetName())
	}
	req.Lines[0].Quantity = 6
	if _, err := h.client.ReserveStock(ctx, req); status.Code(err) != codes.AlreadyExists {
		t.Errorf("ReserveStock with a reused request id: %v, want ALREADY_EXISTS", err)
	}

	commit := &inventoryv1.CommitReservationRequest{
		Name: r.GetName(), RequestId: "ship-req-1", WarehouseCode: "WH-HAM", ShipmentId: "SHP-1",
		Lines: []*inventoryv1.CommitLine{{Sku: "SKU-00500", Quantity: 4}},
	}
	if _, err := h.client.CommitReservation(ctx, commit); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.CommitReservation(ctx, commit); err != nil {
		t.Fatalf("replayed commit: %v", err)
	}
	lvl, err := h.client.GetStockLevel(ctx, &inventoryv1.GetStockLevelRequest{Name: "warehouses/WH-HAM/stockLevels/SKU-00500"})
	if err != nil || lvl.GetOnHand() != 0 || lvl.GetReserved() != 0 || lvl.GetRevision() != 3 {
		t.Errorf("SKU-00500@WH-HAM after commit = %v, %v; want on_hand 0, reserved 0, revision 3", lvl, err)
	}
	rel, err := h.client.ReleaseReservation(ctx, &inventoryv1.ReleaseReservationRequest{Name: r.GetName(), RequestId: "rel-1", Reason: "order_cancelled"})
	if err != nil || rel.GetState() != inventoryv1.Reservation_STATE_COMMITTED {
		t.Errorf("release of the rest = %v, %v; want COMMITTED (something shipped)", rel.GetState(), err)
	}

	// A checkout hold, confirmed.
	hold, err := h.client.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{
		RequestId: "req-hold", ReferenceId: "cart-1", Channel: "b2b", HoldTtl: durationpb.New(time.Hour),
		Lines: []*inventoryv1.ReserveStockLine{{Sku: "SKU-00001", Quantity: 2}},
	})
	if err != nil || hold.GetReservation().GetState() != inventoryv1.Reservation_STATE_HELD || hold.GetReservation().GetExpireTime() == nil {
		t.Fatalf("hold = %v, %v", hold, err)
	}
	if _, err := h.client.ExtendReservation(ctx, &inventoryv1.ExtendReservationRequest{
		Name: hold.GetReservation().GetName(), RequestId: "ext", Ttl: durationpb.New(48 * time.Hour),
	}); !apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_HOLD_TTL_TOO_LONG) {
		t.Errorf("extend beyond the maximum: %v", err)
	}
	conf, err := h.client.ConfirmReservation(ctx, &inventoryv1.ConfirmReservationRequest{
		Name: hold.GetReservation().GetName(), RequestId: "conf", ReferenceId: "order-2",
	})
	if err != nil || conf.GetState() != inventoryv1.Reservation_STATE_CONFIRMED || conf.GetExpireTime() != nil {
		t.Errorf("confirm = %v, %v", conf, err)
	}

	if _, err := h.client.GetReservation(ctx, &inventoryv1.GetReservationRequest{Name: "reservations/nope"}); status.Code(err) != codes.NotFound ||
		!apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_NOT_FOUND) {
		t.Errorf("GetReservation(unknown): %v", err)
	}
	if _, err := h.client.GetWarehouse(ctx, &inventoryv1.GetWarehouseRequest{Name: "warehouses/WH-XXX"}); !apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND) ||
		apierr.Info(err).GetMetadata()["warehouse_code"] != "WH-XXX" {
		t.Errorf("GetWarehouse(unknown): %v", err)
	}
	// ListReservations pages newest first; filters narrow.
	page1, err := h.client.ListReservations(ctx, &inventoryv1.ListReservationsRequest{PageSize: 1})
	if err != nil || len(page1.GetReservations()) != 1 || page1.GetReservations()[0].GetName() != hold.GetReservation().GetName() || page1.GetNextPageToken() == "" {
		t.Fatalf("ListReservations page 1 = %v, %v", page1, err)
	}
	page2, err := h.client.ListReservations(ctx, &inventoryv1.ListReservationsRequest{PageSize: 1, PageToken: page1.GetNextPageToken()})
	if err != nil || len(page2.GetReservations()) != 1 || page2.GetReservations()[0].GetName() != r.GetName() || page2.GetNextPageToken() != "" {
		t.Fatalf("ListReservations page 2 = %v, %v", page2, err)
	}
	if _, err := h.client.ListReservations(ctx, &inventoryv1.ListReservationsRequest{Filter: "state = HELD", PageToken: page1.GetNextPageToken()}); !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN) {
		t.Errorf("page token of another filter: %v", err)
	}
	committed, err := h.client.ListReservations(ctx, &inventoryv1.ListReservationsRequest{Filter: `state = COMMITTED AND sku = "SKU-00500"`})
	if err != nil || len(committed.GetReservations()) != 1 || committed.GetReservations()[0].GetName() != r.GetName() {
		t.Errorf("ListReservations(state = COMMITTED) = %v, %v", committed, err)
	}

	// UpdateWarehouse: etag check and upsert.
	ber, err := h.client.GetWarehouse(ctx, &inventoryv1.GetWarehouseRequest{Name: "warehouses/WH-BER"})
	if err != nil {
		t.Fatal(err)
	}
	ber.DisplayName = "Berlin Nord"
	upd, err := h.client.UpdateWarehouse(ctx, &inventoryv1.UpdateWarehouseRequest{
		Warehouse: ber, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}, RequestId: "uw-1",
	})
	if err != nil || upd.GetDisplayName() != "Berlin Nord" || upd.GetEtag() == ber.GetEtag() {
		t.Fatalf("UpdateWarehouse = %v, %v", upd, err)
	}
	if _, err := h.client.UpdateWarehouse(ctx, &inventoryv1.UpdateWarehouseRequest{Warehouse: ber, RequestId: "uw-2"}); status.Code(err) != codes.Aborted {
		t.Errorf("UpdateWarehouse with a stale etag: %v, want ABORTED", err)
	}
	if _, err := h.client.UpdateWarehouse(ctx, &inventoryv1.UpdateWarehouseRequest{
		Warehouse: &inventoryv1.Warehouse{Name: "warehouses/WH-KOE", DisplayName: "Köln", Region: "de-west", Priority: 4, Active: true},
		RequestId: "uw-3", AllowMissing: true,
	}); err != nil {
		t.Errorf("UpdateWarehouse upsert: %v", err)
	}

	applied, err := h.client.ApplyStockEvents(ctx, &inventoryv1.ApplyStockEventsRequest{
		RequestId: "se-1", SourceSystem: "wms", Events: []*inventoryv1.StockEvent{
			{EventId: "bad"}, // fails the StockEvent constraints: rejected alone
			{EventId: "r1", Sku: "SKU-00001", WarehouseCode: "WH-BER", Sequence: 1, Kind: inventoryv1.StockEvent_KIND_RECEIPT,
				Quantity: 25, OccurTime: timestamppb.Now()},
		},
	})
	if err != nil || applied.GetAppliedCount() != 1 || applied.GetRejectedCount() != 1 ||
		applied.GetResults()[0].GetReason() != inventoryv1.ErrorReason_ERROR_REASON_STOCK_EVENT_INVALID {
		t.Fatalf("ApplyStockEvents = %v, %v", applied, err)
	}
	if l, err := h.client.GetStockLevel(ctx, &inventoryv1.GetStockLevelRequest{Name: "warehouses/WH-BER/stockLevels/SKU-00001"}); err != nil || l.GetOnHand() != 425 {
		t.Errorf("after receipt: %v, %v; want on_hand 425", l, err)
	}
	// Reconciliation against the ERP adapter's snapshot: SKU-00500@WH-HAM
	// shipped 4 (0 on hand, ERP still says 4) and SKU-00001@WH-BER got 25
	// from the WMS; both are corrected to the ERP.
	started, err := h.client.StartReconciliation(ctx, &inventoryv1.StartReconciliationRequest{
		RequestId: "rec-1", SnapshotSource: "erp", ApplyCorrections: true,
	})
	if err != nil || started.GetReconciliation().GetState() != inventoryv1.Reconciliation_STATE_RUNNING {
		t.Fatalf("StartReconciliation = %v, %v", started, err)
	}
	var run *inventoryv1.Reconciliation
	wait.Eventually(t, 10*time.Second, "reconciliation finished", func() error {
		run, err = h.client.GetReconciliation(ctx, &inventoryv1.GetReconciliationRequest{Name: started.GetReconciliation().GetName()})
		if err != nil {
			return err
		}
		return wait.Check(run.GetState() != inventoryv1.Reconciliation_STATE_RUNNING, "state %v", run.GetState())
	})
	if run.GetState() != inventoryv1.Reconciliation_STATE_SUCCEEDED || run.GetComparedCount() != 6 || run.GetVarianceCount() != 2 ||
		run.GetCorrectedCount() != 2 || run.GetAbsoluteVarianceTotal() != 29 {
		t.Errorf("reconciliation = %v", run)
	}
	vs, err := h.client.ListReconciliationVariances(ctx, &inventoryv1.ListReconciliationVariancesRequest{
		Parent: run.GetName(), Filter: "kind = QUANTITY_MISMATCH AND corrected = true", PageSize: 1,
	})
	if err != nil || len(vs.GetReconciliationVariances()) != 1 || vs.GetNextPageToken() == "" ||
		vs.GetReconciliationVariances()[0].GetName() != run.GetName()+"/variances/SKU-00001@WH-BER" {
		t.Errorf("ListReconciliationVariances = %v, %v", vs, err)
	}
	if l, err := h.client.GetStockLevel(ctx, &inventoryv1.GetStockLevelRequest{Name: "warehouses/WH-HAM/stockLevels/SKU-00500"}); err != nil || l.GetOnHand() != 4 {
		t.Errorf("corrected SKU-00500@WH-HAM = %v, %v", l, err)
	}
	if _, err := h.client.GetReconciliationVariance(ctx, &inventoryv1.GetReconciliationVarianceRequest{
		Name: run.GetName() + "/variances/SKU-00001@WH-MUC",
	}); !apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_RECONCILIATION_VARIANCE_NOT_FOUND) {
		t.Errorf("GetReconciliationVariance(matched pair): %v", err)
	}

	// Business metrics.
	resp, err := http.Get(h.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, line := range []string{
		`transload_inventory_reservations_total{outcome="ERROR_REASON_INSUFFICIENT_STOCK"} 1`,
		`transload_inventory_reservations_total{outcome="created"} 2`,
		`transload_inventory_reservations_total{outcome="replayed"} 1`,
		`transload_inventory_reservations_total{outcome="ERROR_REASON_IDEMPOTENCY_KEY_REUSED"} 1`,
		`transload_inventory_initial_load_done 1`,
		`transload_inventory_open_reservations{state="CONFIRMED"} 1`,
		`transload_inventory_oversold_units 0`,
		`transload_inventory_stock_event_gaps_overdue 0`,
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	// Restart on the same database with the ERP down: ready at once, data
	// kept, no second load.
	h.stop()
	erp2 := &fakeERP{down: true}
	h2 := startHarness(t, testEnv(dbPath, nil), erp2)
	if got := h2.readyStatus(); got != http.StatusOK {
		t.Errorf("/readyz after restart = %d, want 200", got)
	}
	got2, err := h2.client.GetReservation(ctxT(t), &inventoryv1.GetReservationRequest{Name: r.GetName()})
	if err != nil || got2.GetState() != inventoryv1.Reservation_STATE_COMMITTED {
		t.Errorf("reservation after restart = %v, %v", got2, err)
	}
	if list, snap := erp2.calls(); list != 0 || snap != 0 {
		t.Errorf("restart called the ERP (%d list, %d snapshot calls)", list, snap)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestERPStockFeed: ERP stock events after the snapshot reach the stock
// levels through the feed poller, once, also across a restart.
func TestERPStockFeed(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "inventory.db")
	erp := &fakeERP{}
	env := testEnv(dbPath, map[string]string{"INVENTORY_ERP_FEED_INTERVAL": "10ms"})
	h := startHarness(t, env, erp)
	h.waitReady()
	erp.appendEvents(
		&erpv1.StockEvent{EventId: "4900-1", Sku: "SKU-00001", WarehouseCode: "WH-HAM", Kind: erpv1.StockEvent_KIND_RECEIPT,
			Quantity: 5, SourceSequence: 3, OccurTime: timestamppb.Now()},
		&erpv1.StockEvent{EventId: "4900-2", Sku: "SKU-00001", WarehouseCode: "WH-MUC", Kind: erpv1.StockEvent_KIND_SHIPMENT,
			Quantity: -7, SourceSequence: 2, OccurTime: timestamppb.Now()},
	)
	// onHand waits until SKU-00001 has want on hand in each warehouse.
	onHand := func(h *harness, what string, want map[string]int64) {
		t.Helper()
		wait.Eventually(t, 10*time.Second, what, func() error {
			for wh, n := range want {
				l, err := h.client.GetStockLevel(ctxT(t), &inventoryv1.GetStockLevelRequest{Name: "warehouses/" + wh + "/stockLevels/SKU-00001"})
				if err != nil {
					return err
				}
				if l.GetOnHand() != n {
					return fmt.Errorf("%s has %d on hand, want %d", wh, l.GetOnHand(), n)
				}
			}
			return nil
		})
	}
	onHand(h, "feed events applied", map[string]int64{"WH-HAM": 205, "WH-MUC": 293})
	h.stop()

	// After a restart the saved cursor is used: a new event is applied,
	// the old ones are not read again.
	erp.appendEvents(&erpv1.StockEvent{EventId: "4900-3", Sku: "SKU-00001", WarehouseCode: "WH-HAM", Kind: erpv1.StockEvent_KIND_ADJUSTMENT,
		Quantity: -1, SourceSequence: 4, OccurTime: timestamppb.Now()})
	h2 := startHarness(t, env, erp)
	// MUC stays at 293: the events before the cursor are applied once.
	onHand(h2, "event after restart applied", map[string]int64{"WH-HAM": 204, "WH-MUC": 293})
	l, err := h2.client.GetStockLevel(ctxT(t), &inventoryv1.GetStockLevelRequest{Name: "warehouses/WH-HAM/stockLevels/SKU-00001"})
	if err != nil || l.GetSequence() != 4 || l.GetSourceSystem() != "erp" || l.GetRevision() != 3 {
		t.Errorf("SKU-00001@WH-HAM = %v, %v; want sequence 4 from erp, revision 3", l, err)
	}
}

// TestRunWithoutEnvironment starts the binary as a developer would, with no
// environment at all and neither the ERP nor NATS running: it logs its
// configuration (the DSN masked) once, listens on inventory's default
// ports from docs/configuration.md, answers /healthz while it keeps
// retrying its dependencies in the background, and stops cleanly.
func TestRunWithoutEnvironment(t *testing.T) {
	t.Chdir(t.TempDir()) // the default DATABASE_URL is sqlite://inventory.db here
	var out testharness.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(string) string { return "" }, &out) }()

	wait.Eventually(t, 20*time.Second, "/healthz on 127.0.0.1:9104", func() error {
		resp, err := http.Get("http://127.0.0.1:9104/healthz")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		return wait.Check(resp.StatusCode == http.StatusOK, "status %d", resp.StatusCode)
	})
	conn, err := net.Dial("tcp", "127.0.0.1:9004")
	if err != nil {
		t.Fatalf("gRPC port: %v", err)
	}
	_ = conn.Close()
	cancel()
	awaitStop(t, done, "run")

	var started []map[string]any
	for line := range strings.Lines(out.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["msg"] == "starting" {
			started = append(started, rec)
		}
	}
	if len(started) != 1 {
		t.Fatalf("%d starting lines, want 1:\n%s", len(started), out.String())
	}
	cfg, _ := started[0]["config"].(map[string]any)
	for k, want := range map[string]string{"GRPC_ADDR": "127.0.0.1:9004", "ADMIN_ADDR": "127.0.0.1:9104", "SERVICE_NAME": "inventory"} {
		if cfg[k] != want {
			t.Errorf("logged %s = %v, want %s", k, cfg[k], want)
		}
	}
	if dsn, ok := cfg["DATABASE_URL"].(string); !ok || strings.Contains(dsn, "inventory.db") {
		t.Errorf("DATABASE_URL logged as %q, want it masked", cfg["DATABASE_URL"])
	}
}
