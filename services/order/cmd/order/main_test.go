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
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
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

// TestRun starts the real binary's run() against fake neighbours and a real
// NATS server: it becomes ready, accepts an order, confirms it through the
// ERP queue, publishes the events to TRANSLOAD_ORDER and shuts down cleanly.
func TestRun(t *testing.T) {
	erp := neighbourfake.NewERP()
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	env := map[string]string{
		"GRPC_ADDR":                 freeAddr(t),
		"ADMIN_ADDR":                freeAddr(t),
		"DATABASE_URL":              "sqlite://" + filepath.Join(t.TempDir(), "data", "order.db"),
		"NATS_URL":                  ns.ClientURL(),
		"LOG_LEVEL":                 "warn",
		"ERP_ADDR":                  serveTCP(t, func(s *grpc.Server) { erpv1.RegisterErpAdapterServiceServer(s, erp) }),
		"CATALOG_ADDR":              serveTCP(t, func(s *grpc.Server) { catalogv1.RegisterPricingServiceServer(s, &neighbourfake.Pricing{}) }),
		"INVENTORY_ADDR":            serveTCP(t, func(s *grpc.Server) { inventoryv1.RegisterInventoryServiceServer(s, neighbourfake.NewInventory()) }),
		"ORDER_QUEUE_POLL_INTERVAL": "50ms",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, io.Discard) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("run did not return after cancel")
		}
	}()

	const timeout = 15 * time.Second
	wait.Eventually(t, timeout, "readyz", func() error {
		res, err := http.Get("http://" + env["ADMIN_ADDR"] + "/readyz")
		if err != nil {
			return err
		}
		res.Body.Close()
		return wait.Check(res.StatusCode == http.StatusOK, "status %d", res.StatusCode)
	})
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
	wait.Eventually(t, timeout, "two events in "+eventstreams.Order.Name, func() error {
		s, err := js.Stream(t.Context(), eventstreams.Order.Name)
		if err != nil {
			return err
		}
		info, err := s.Info(t.Context())
		if err != nil {
			return err
		}
		return wait.Check(info.State.Msgs == 2, "%d messages", info.State.Msgs)
	})
	metrics, err := http.Get("http://" + env["ADMIN_ADDR"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	for _, name := range []string{"transload_order_erp_queue_depth", "transload_order_erp_queue_oldest_age_seconds", "transload_order_acceptance_seconds_count 1"} {
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
