package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/platform/tracing/tracingtest"
	"github.com/transload/transload/services/order/internal/neighbourfake"
)

func serveTCP(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// startRun runs run() with env until the test ends, when it cancels run
// and expects a clean return, and waits until the admin server says ready.
func startRun(t *testing.T, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		wait.Eventually(t, 15*time.Second, path, func() error {
			res, err := http.Get("http://" + env["ADMIN_ADDR"] + path)
			if err != nil {
				return err
			}
			res.Body.Close()
			return wait.Check(res.StatusCode == http.StatusOK, "status %d", res.StatusCode)
		})
	}
}

// TestRunWithoutNeighbours starts run() with only its listen addresses and
// database set: no ERP, catalog, inventory, fulfillment or NATS answer on
// their defaults. It must still serve and be ready (only the database is a
// hard dependency), answer what needs no neighbour, and stop cleanly.
func TestRunWithoutNeighbours(t *testing.T) {
	env := map[string]string{
		"GRPC_ADDR":    freeAddr(t),
		"ADMIN_ADDR":   freeAddr(t),
		"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "order.db"),
		"LOG_LEVEL":    "error",
	}
	startRun(t, env)
	conn, err := grpc.NewClient(env["GRPC_ADDR"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := orderv1.NewOrderServiceClient(conn).ListOrders(t.Context(), &orderv1.ListOrdersRequest{})
	if err != nil || len(res.GetOrders()) != 0 {
		t.Fatalf("ListOrders = %v, %v; want an empty list", res, err)
	}
}

// TestRun starts the real binary's run() against fake neighbours, a real
// NATS server and an OTLP receiver: it becomes ready, accepts an order in
// one trace (server span, neighbour client spans, the event's traceparent),
// confirms it through the ERP queue, publishes the events to
// TRANSLOAD_ORDER and shuts down cleanly.
func TestRun(t *testing.T) {
	rcv := tracingtest.Start(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100") // read by the OpenTelemetry SDK itself
	erp := neighbourfake.NewERP()
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	env := map[string]string{
		"GRPC_ADDR":                   freeAddr(t),
		"ADMIN_ADDR":                  freeAddr(t),
		"DATABASE_URL":                "sqlite://" + filepath.Join(t.TempDir(), "data", "order.db"),
		"NATS_URL":                    ns.ClientURL(),
		"LOG_LEVEL":                   "warn",
		"ERP_ADDR":                    serveTCP(t, func(s *grpc.Server) { erpv1.RegisterErpAdapterServiceServer(s, erp) }),
		"CATALOG_ADDR":                serveTCP(t, func(s *grpc.Server) { catalogv1.RegisterPricingServiceServer(s, &neighbourfake.Pricing{}) }),
		"INVENTORY_ADDR":              serveTCP(t, func(s *grpc.Server) { inventoryv1.RegisterInventoryServiceServer(s, neighbourfake.NewInventory()) }),
		"ORDER_QUEUE_POLL_INTERVAL":   "50ms",
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint(),
	}
	startRun(t, env)
	const timeout = 15 * time.Second
	conn, err := grpc.NewClient(env["GRPC_ADDR"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := orderv1.NewOrderServiceClient(conn)
	res, err := c.CreateOrder(t.Context(), &orderv1.CreateOrderRequest{
		RequestId: "run-1", CustomerId: "C0001", Channel: "web", CurrencyCode: "EUR",
		ShipTo: &commonv1.Address{Recipient: "ACME", Locality: "Hamburg", RegionCode: "DE"},
		Lines:  []*orderv1.CreateOrderRequest_Line{{Sku: "SKU-00001", Quantity: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := res.GetOrder().GetOrderId()
	wait.Eventually(t, timeout, "order confirmed", func() error {
		o, err := c.GetOrder(t.Context(), &orderv1.GetOrderRequest{Name: "orders/" + id})
		if err != nil {
			return err
		}
		return wait.Check(o.GetState() == orderv1.Order_STATE_CONFIRMED, "state %s", o.GetState())
	})
	// The order's two events, and the audit records of both changes on the
	// operations stream.
	for _, stream := range []string{eventstreams.Order.Name, eventstreams.Ops.Name} {
		wait.Eventually(t, timeout, "two messages in "+stream, func() error {
			s, err := js.Stream(t.Context(), stream)
			if err != nil {
				return err
			}
			info, err := s.Info(t.Context())
			if err != nil {
				return err
			}
			return wait.Check(info.State.Msgs == 2, "%d messages", info.State.Msgs)
		})
	}
	st, err := c.GetErpQueueStatus(t.Context(), &orderv1.GetErpQueueStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetBreakerState() != "closed" || st.GetDepth() != 0 || st.GetSubmittedLastHour() != 1 || st.GetLastSuccessTime() == nil {
		t.Errorf("ERP queue status = %v, want an empty queue behind a closed breaker after one submission", st)
	}
	create := rcv.WaitFor(t, timeout, "order's CreateOrder span", func(s tracingtest.Span) bool {
		return s.Service == "order" && s.Name == orderv1.OrderService_CreateOrder_FullMethodName[1:]
	})
	rcv.WaitFor(t, timeout, "order's QuotePrices client span in the CreateOrder trace", func(s tracingtest.Span) bool {
		return s.TraceID == create.TraceID && s.Name == catalogv1.PricingService_QuotePrices_FullMethodName[1:]
	})
	s, err := js.Stream(t.Context(), eventstreams.Order.Name)
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if tp := accepted.Header.Get(outbox.HeaderTraceparent); !strings.Contains(tp, create.TraceID) {
		t.Errorf("accepted event traceparent %q, want trace %s", tp, create.TraceID)
	}
	metrics, err := http.Get("http://" + env["ADMIN_ADDR"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	for _, name := range []string{"transload_order_erp_queue_depth", "transload_order_erp_queue_oldest_age_seconds", "transload_order_acceptance_seconds_count 1",
		`transload_order_orders_accepted_total{channel="web",stage="placement"} 1`, `transload_order_orders_accepted_total{channel="web",stage="erp"} 1`,
		"transload_order_shipment_propagation_seconds_count 0"} {
		if !containsLine(string(body), name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}

func containsLine(body, prefix string) bool {
	for l := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
