package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
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
	platformconfig "github.com/transload/transload/platform/config"
	"github.com/transload/transload/services/inventory/internal/config"
)

// harness runs the wired app with its gRPC server and a fake ERP on
// bufconn listeners, and its admin HTTP on a loopback port.
type harness struct {
	t      *testing.T
	erp    *fakeERP
	client inventoryv1.InventoryServiceClient
	admin  string
	stop   func()
}

func testConfig(t *testing.T, dbPath string, env map[string]string) config.Config {
	t.Helper()
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
	for k, v := range env {
		base[k] = v
	}
	var cfg config.Config
	if err := platformconfig.Load(&cfg, func(k string) string { return base[k] }); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startHarness(t *testing.T, cfg config.Config, erp *fakeERP) *harness {
	t.Helper()
	erpLis := bufconn.Listen(1 << 20)
	erpSrv := grpc.NewServer()
	erpv1.RegisterErpAdapterServiceServer(erpSrv, erp)
	go func() { _ = erpSrv.Serve(erpLis) }()

	grpcLis := bufconn.Listen(1 << 20)
	adminLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, logger, deps{
		grpcListener:  grpcLis,
		adminListener: adminLis,
		erpDialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return erpLis.DialContext(ctx)
		})},
	})
	if err != nil {
		cancel()
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
	h := &harness{t: t, erp: erp, client: inventoryv1.NewInventoryServiceClient(conn), admin: "http://" + adminLis.Addr().String()}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("app did not stop")
		}
		erpSrv.Stop()
	}
	t.Cleanup(h.stop)
	return h
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
	deadline := time.Now().Add(20 * time.Second)
	for h.readyStatus() != http.StatusOK {
		if time.Now().After(deadline) {
			h.t.Fatal("/readyz did not turn 200")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartupLoadReadinessAndReservations(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "inventory.db")
	erp := &fakeERP{down: true}
	h := startHarness(t, testConfig(t, dbPath, nil), erp)
	ctx := ctxT(t)

	// While the ERP is down the service is up but not ready, and refuses
	// to answer availability it cannot know.
	deadline := time.Now().Add(10 * time.Second)
	for list, _ := erp.calls(); list < 3; list, _ = erp.calls() {
		if time.Now().After(deadline) {
			t.Fatal("loader did not retry ListWarehouses")
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		run, err = h.client.GetReconciliation(ctx, &inventoryv1.GetReconciliationRequest{Name: started.GetReconciliation().GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if run.GetState() != inventoryv1.Reconciliation_STATE_RUNNING || time.Now().After(deadline) {
			break
		}
	}
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
	h2 := startHarness(t, testConfig(t, dbPath, nil), erp2)
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
	cfg := testConfig(t, dbPath, map[string]string{"INVENTORY_ERP_FEED_INTERVAL": "10ms"})
	h := startHarness(t, cfg, erp)
	h.waitReady()
	erp.appendEvents(
		&erpv1.StockEvent{EventId: "4900-1", Sku: "SKU-00001", WarehouseCode: "WH-HAM", Kind: erpv1.StockEvent_KIND_RECEIPT,
			Quantity: 5, SourceSequence: 3, OccurTime: timestamppb.Now()},
		&erpv1.StockEvent{EventId: "4900-2", Sku: "SKU-00001", WarehouseCode: "WH-MUC", Kind: erpv1.StockEvent_KIND_SHIPMENT,
			Quantity: -7, SourceSequence: 2, OccurTime: timestamppb.Now()},
	)
	onHand := func(h *harness, wh string) int64 {
		t.Helper()
		l, err := h.client.GetStockLevel(ctxT(t), &inventoryv1.GetStockLevelRequest{Name: "warehouses/" + wh + "/stockLevels/SKU-00001"})
		if err != nil {
			t.Fatal(err)
		}
		return l.GetOnHand()
	}
	for deadline := time.Now().Add(10 * time.Second); onHand(h, "WH-HAM") != 205 || onHand(h, "WH-MUC") != 293; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("feed events not applied: HAM %d, MUC %d", onHand(h, "WH-HAM"), onHand(h, "WH-MUC"))
		}
	}
	h.stop()

	// After a restart the saved cursor is used: a new event is applied,
	// the old ones are not read again.
	erp.appendEvents(&erpv1.StockEvent{EventId: "4900-3", Sku: "SKU-00001", WarehouseCode: "WH-HAM", Kind: erpv1.StockEvent_KIND_ADJUSTMENT,
		Quantity: -1, SourceSequence: 4, OccurTime: timestamppb.Now()})
	h2 := startHarness(t, cfg, erp)
	for deadline := time.Now().Add(10 * time.Second); onHand(h2, "WH-HAM") != 204; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("event after restart not applied: HAM %d", onHand(h2, "WH-HAM"))
		}
	}
	if got := onHand(h2, "WH-MUC"); got != 293 {
		t.Errorf("MUC = %d after restart, want 293 (applied once)", got)
	}
	l, err := h2.client.GetStockLevel(ctxT(t), &inventoryv1.GetStockLevelRequest{Name: "warehouses/WH-HAM/stockLevels/SKU-00001"})
	if err != nil || l.GetSequence() != 4 || l.GetSourceSystem() != "erp" || l.GetRevision() != 3 {
		t.Errorf("SKU-00001@WH-HAM = %v, %v; want sequence 4 from erp, revision 3", l, err)
	}
}
