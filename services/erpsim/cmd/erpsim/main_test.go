package main

import (
	"context"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/platform/tracing/tracingtest"
)

// start runs erpsim on free ports and the given database until the test
// (or stop) ends it.
func start(t *testing.T, dsn string, extra map[string]string) (addrs Addrs, stop func()) {
	t.Helper()
	env := map[string]string{"DATABASE_URL": dsn, "GRPC_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0", "LOG_LEVEL": "warn"}
	maps.Copy(env, extra)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- runWithReady(ctx, func(k string) string { return env[k] }, io.Discard, func(a Addrs) { ready <- a })
	}()
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("erpsim exited before serving: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("erpsim did not start within 30s")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run returned %v after shutdown, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	return addrs, stop
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func dial(t *testing.T, addr string) erpv1.ErpAdapterServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return erpv1.NewErpAdapterServiceClient(conn)
}

func eur(m int64) *commonv1.Money { return &commonv1.Money{AmountMinor: m, CurrencyCode: "EUR"} }

func TestRunServesControlsAndKeepsState(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "erpsim.db")
	addrs, stop := start(t, dsn, nil)
	admin := "http://" + addrs.Admin

	if code, body := httpDo(t, http.MethodGet, admin+"/readyz", ""); code != http.StatusOK {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	if code, body := httpDo(t, http.MethodPost, admin+"/control/faults", `{"down": true}`); code != http.StatusOK || !strings.Contains(body, `"down":true`) {
		t.Fatalf("POST /control/faults = %d %s", code, body)
	}
	if code, body := httpDo(t, http.MethodGet, admin+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "go_goroutines") ||
		!strings.Contains(body, "erpsim_fault_down 1") || !strings.Contains(body, "erpsim_sales_order_submissions_total") {
		t.Errorf("/metrics while down = %d, want go, fault and submission metrics", code)
	}
	client := dial(t, addrs.GRPC)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := client.GetCustomer(ctx, &erpv1.GetCustomerRequest{Name: "customers/C0001"}); status.Code(err) != codes.Unavailable {
		t.Errorf("GetCustomer while down: %v, want Unavailable", err)
	}
	// The simulated ERP is down; the simulator is still ready.
	if code, body := httpDo(t, http.MethodGet, admin+"/readyz", ""); code != http.StatusOK {
		t.Errorf("/readyz while the ERP is down = %d %s, want 200", code, body)
	}
	httpDo(t, http.MethodPost, admin+"/control/faults", `{"down": false}`)

	so := &erpv1.SalesOrder{
		CustomerId: "C0001", Channel: "web", CurrencyCode: "EUR",
		ShipTo:    &commonv1.Address{Recipient: "Test", Locality: "Hamburg", RegionCode: "DE"},
		PlaceTime: timestamppb.Now(),
		Lines: []*erpv1.SalesOrderLine{{LineId: "1", Sku: "SKU-00001", Quantity: &commonv1.Quantity{Value: 1, Unit: "EA"},
			UnitPrice: eur(100), NetAmount: eur(100), Allocations: []*erpv1.WarehouseAllocation{{WarehouseCode: "WH-HAM", Quantity: 1}}}},
		Subtotal: eur(100), GrandTotal: eur(100),
	}
	first, err := client.SubmitSalesOrder(ctx, &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-restart", SalesOrder: so})
	if err != nil || first.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED {
		t.Fatalf("submit = %v, %v", first, err)
	}
	if code, body := httpDo(t, http.MethodGet, admin+"/control/sales-orders", ""); code != http.StatusOK ||
		!strings.Contains(body, `"count":1`) || !strings.Contains(body, `"submissions":1`) {
		t.Errorf("/control/sales-orders = %d %s", code, body)
	}
	stop()

	// A restart on the same database keeps the sales order and does not
	// seed again.
	addrs2, _ := start(t, dsn, nil)
	client2 := dial(t, addrs2.GRPC)
	again, err := client2.SubmitSalesOrder(ctx, &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-restart", SalesOrder: so})
	if err != nil || !again.GetDuplicate() || again.GetErpOrderNumber() != first.GetErpOrderNumber() {
		t.Errorf("resubmit after restart = %v, %v; want the original as duplicate", again, err)
	}
	c, err := client2.GetCustomer(ctx, &erpv1.GetCustomerRequest{Name: "customers/C0001"})
	if err != nil || c.GetOpenBalance().GetAmountMinor() != 100 {
		t.Errorf("C0001 after restart = %v, %v; want the order's credit kept (not re-seeded)", c.GetOpenBalance(), err)
	}
	if code, body := httpDo(t, http.MethodGet, "http://"+addrs2.Admin+"/control/faults", ""); code != http.StatusOK || !strings.Contains(body, `"down":false`) {
		t.Errorf("faults after restart = %d %s", code, body)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), func(k string) string {
		if k == "LOG_LEVEL" {
			return "chatty"
		}
		return ""
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") && !strings.Contains(err.Error(), "chatty") {
		t.Errorf("run with a bad LOG_LEVEL = %v", err)
	}
}

func TestRunGeneratesStockEvents(t *testing.T) {
	t.Parallel()
	addrs, _ := start(t, "sqlite://"+filepath.Join(t.TempDir(), "erpsim.db"), map[string]string{"STOCK_EVENT_INTERVAL": "20ms"})
	client := dial(t, addrs.GRPC)
	var events []*erpv1.StockEvent
	wait.Eventually(t, 15*time.Second, "three generated stock events", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		res, err := client.ListStockEvents(ctx, &erpv1.ListStockEventsRequest{})
		if err != nil {
			return err
		}
		events = res.GetStockEvents()
		return wait.Check(len(events) >= 3, "%d events", len(events))
	})
	for _, ev := range events {
		if ev.GetSku() == "SKU-00500" || ev.GetEventId() == "" {
			t.Errorf("generated event %v", ev)
		}
	}
}

// TestRunPushesAndEndsWatchStreams: generated stock events are pushed on
// an open WatchStockEvents stream, and a shutdown ends the stream with the
// simulator's UNAVAILABLE at once instead of waiting SHUTDOWN_TIMEOUT for
// a stream that never ends on its own.
func TestRunPushesAndEndsWatchStreams(t *testing.T) {
	t.Parallel()
	addrs, stop := start(t, "sqlite://"+filepath.Join(t.TempDir(), "erpsim.db"),
		map[string]string{"STOCK_EVENT_INTERVAL": "30ms", "SHUTDOWN_TIMEOUT": "20s"})
	stream, err := dial(t, addrs.GRPC).WatchStockEvents(t.Context(), &erpv1.WatchStockEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var pushed int
	for pushed < 3 {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %d pushed events: %v", pushed, err)
		}
		pushed += len(m.GetStockEvents())
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	for {
		_, err = stream.Recv()
		if err != nil {
			break
		}
	}
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "shutting down") {
		t.Errorf("stream ended with %v; want the simulator's UNAVAILABLE (shutting down)", err)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Error("shutdown waited for the open stream")
	}
}

// erpsim exports its server spans when OTEL_EXPORTER_OTLP_ENDPOINT is set,
// under its service name, so a trace that reaches the ERP shows it.
func TestRunExportsTraces(t *testing.T) {
	t.Parallel()
	rcv := tracingtest.Start(t)
	addrs, stop := start(t, "sqlite://"+filepath.Join(t.TempDir(), "erpsim.db"), map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint()})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := dial(t, addrs.GRPC).GetCustomer(ctx, &erpv1.GetCustomerRequest{Name: "customers/C0001"}); err != nil {
		t.Fatal(err)
	}
	stop() // flushes the batched spans
	rcv.WaitFor(t, 10*time.Second, "erpsim's GetCustomer server span", func(s tracingtest.Span) bool {
		return s.Service == "erpsim" && s.Name == erpv1.ErpAdapterService_GetCustomer_FullMethodName[1:]
	})
}
