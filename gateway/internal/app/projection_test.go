package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/natsembed"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
)

// projectionEnv is a gateway with the stock projection on, fed by the fake
// inventory's StockChangedEvents through a real NATS JetStream.
func projectionEnv(t testing.TB, extraEnv ...string) *env {
	t.Helper()
	e, _ := projectionEnvNATS(t, extraEnv...)
	return e
}

// projectionEnvNATS is projectionEnv that also returns the NATS server.
func projectionEnvNATS(t testing.TB, extraEnv ...string) (*env, *natsembed.Server) {
	t.Helper()
	ns := natstest.Start(t)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := eventstreams.Ensure(ctx, js, eventstreams.Inventory); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, append([]string{"NATS_URL=" + ns.ClientURL(), "AVAILABILITY_FRESH_FOR=1h"}, extraEnv...)...)
	e.inventory.mu.Lock()
	e.inventory.publish = func(ev *inventoryv1.StockChangedEvent) {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Error(err)
			return
		}
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := js.Publish(pctx, eventstreams.StockChanged, b); err != nil {
			t.Error(err)
		}
	}
	e.inventory.mu.Unlock()
	return e, ns
}

// warmProjection calls availability until an answer needs no inventory
// call (the feed is running and the SKUs are seeded).
func warmProjection(t testing.TB, e *env, key string, req *storefrontv1.CheckAvailabilityRequest) {
	t.Helper()
	wait.Eventually(t, 15*time.Second, "availability answered from the projection", func() error {
		before := e.inventory.calls.Load()
		if _, err := e.checkAvailability(t, key, req); err != nil {
			return err
		}
		return wait.Check(e.inventory.calls.Load() == before, "the call asked inventory")
	})
}

func TestAvailabilityFromStockProjection(t *testing.T) {
	t.Parallel()
	e := projectionEnv(t)
	req := availabilityRequest(line("SKU-00001", 5), line("SKU-00500", 3))
	warmProjection(t, e, keyWeb, req)

	resp, err := e.checkAvailability(t, keyWeb, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_CACHED || resp.GetStale() {
		t.Errorf("confidence %v stale %v, want CACHED and not stale", resp.GetConfidence(), resp.GetStale())
	}
	if l := resp.GetLines()[0]; l.GetAvailableQuantity() != 600 || len(l.GetWarehouses()) != 3 ||
		l.GetPromise().GetStatus() != storefrontv1.DeliveryPromise_STATUS_IN_STOCK {
		t.Errorf("SKU-00001 from the projection: %v", l)
	}

	// A stock event is applied: the next answers show it without asking
	// inventory.
	calls := e.inventory.calls.Load()
	e.inventory.setAvailable("SKU-00001", "WH-HAM", 0)
	wait.Eventually(t, 10*time.Second, "the stock event shows", func() error {
		resp, err := e.checkAvailability(t, keyWeb, req)
		if err != nil {
			return err
		}
		return wait.Check(resp.GetLines()[0].GetAvailableQuantity() == 300, "available %d", resp.GetLines()[0].GetAvailableQuantity())
	})
	if got := e.inventory.calls.Load(); got != calls {
		t.Errorf("inventory asked %d times while events kept the projection current", got-calls)
	}
	if m := e.metrics(t); !strings.Contains(m, `transload_gateway_stock_projection_events_total{outcome="applied"} 1`) ||
		!strings.Contains(m, "transload_gateway_stock_projection_seeds_total") {
		t.Errorf("projection metrics missing:\n%s", grepLines(m, "stock_projection"))
	}

	// A gap (an event lost between) makes the SKU ask inventory again,
	// whose answer reseeds it.
	e.inventory.mu.Lock()
	publish := e.inventory.publish
	e.inventory.publish = nil
	e.inventory.mu.Unlock()
	e.inventory.setAvailable("SKU-00500", "WH-HAM", 1) // revision 2, not published
	e.inventory.mu.Lock()
	e.inventory.publish = publish
	e.inventory.mu.Unlock()
	e.inventory.setAvailable("SKU-00500", "WH-HAM", 2) // revision 3: a gap
	wait.Eventually(t, 10*time.Second, "the gap sends SKU-00500 to inventory", func() error {
		before := e.inventory.calls.Load()
		resp, err := e.checkAvailability(t, keyWeb, req)
		if err != nil {
			return err
		}
		return wait.Check(e.inventory.calls.Load() == before+1 && resp.GetLines()[1].GetAvailableQuantity() == 8,
			"inventory calls +%d, SKU-00500 available %d", e.inventory.calls.Load()-before, resp.GetLines()[1].GetAvailableQuantity())
	})
	warmProjection(t, e, keyWeb, req)
	if m := e.metrics(t); !strings.Contains(m, `transload_gateway_stock_projection_events_total{outcome="gap"} 1`) {
		t.Errorf("gap not counted:\n%s", grepLines(m, "stock_projection"))
	}
}

// TestAvailabilityAsksInventoryWhileNATSIsDown: without the event feed the
// projection could miss changes, so it stops answering.
func TestAvailabilityAsksInventoryWhileNATSIsDown(t *testing.T) {
	t.Parallel()
	e, ns := projectionEnvNATS(t)
	req := availabilityRequest(line("SKU-00001", 5))
	warmProjection(t, e, keyWeb, req)
	ns.Shutdown()
	e.inventory.mu.Lock()
	e.inventory.publish = nil // no event can reach the gateway
	e.inventory.mu.Unlock()
	e.inventory.setAvailable("SKU-00001", "WH-HAM", 0)
	wait.Eventually(t, 10*time.Second, "availability read live once NATS is down", func() error {
		before := e.inventory.calls.Load()
		resp, err := e.checkAvailability(t, keyWeb, req)
		if err != nil {
			return err
		}
		return wait.Check(e.inventory.calls.Load() == before+1 && resp.GetLines()[0].GetAvailableQuantity() == 300,
			"inventory calls +%d, available %d", e.inventory.calls.Load()-before, resp.GetLines()[0].GetAvailableQuantity())
	})
}

// metrics returns the admin listener's /metrics text.
func (e *env) metrics(t testing.TB) string {
	t.Helper()
	resp, err := http.Get(e.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAvailabilityReadsOwnOrder: after a storefront's order, its next
// availability reflects the reservation even though no stock event has
// arrived (the events here are never published).
func TestAvailabilityReadsOwnOrder(t *testing.T) {
	t.Parallel()
	e := projectionEnv(t)
	e.inventory.mu.Lock()
	e.inventory.publish = nil // events late (never, here)
	e.inventory.mu.Unlock()
	req := availabilityRequest(line("SKU-00001", 2))
	warmProjection(t, e, keyC0001, req)

	e.orders.mu.Lock()
	e.orders.onCreate = func(r *orderv1.CreateOrderRequest) {
		// The order service reserves before it answers.
		e.inventory.setAvailable("SKU-00001", "WH-HAM", 298)
	}
	e.orders.mu.Unlock()
	e.createOrder(keyC0001, "C0001", "ryw-1")

	resp, err := e.checkAvailability(t, keyC0001, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetLines()[0].GetAvailableQuantity(); got != 598 {
		t.Errorf("available right after the own order: %d, want 598 (the reservation)", got)
	}
	// And that live answer reseeded the projection: later calls need no
	// inventory call and still show the reservation.
	before := e.inventory.calls.Load()
	resp, err = e.checkAvailability(t, keyC0001, req)
	if err != nil || resp.GetLines()[0].GetAvailableQuantity() != 598 || e.inventory.calls.Load() != before {
		t.Errorf("second call: available %d, inventory calls +%d, %v", resp.GetLines()[0].GetAvailableQuantity(), e.inventory.calls.Load()-before, err)
	}
}
