package storefront

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/tracing/tracingtest"
)

// TestTraceCrossesTheMesh follows one order placement through the exported
// spans: one trace runs from the gateway (REST → its own gRPC listener)
// into order, from order into inventory (the reservation), and on through
// the order's confirmation event into fulfillment, whose consumer continues
// the trace stored with the event in the outbox.
func TestTraceCrossesTheMesh(t *testing.T) {
	corr := correlation.New()
	r := placeOrder(t, launcher.DemoAPIKey, "e2e-trace-1",
		orderBody("C0002", line{"SKU-00021", 1}), "X-Correlation-Id: "+corr)
	if r.Status != http.StatusOK {
		t.Fatalf("create order: %d %s", r.Status, r.Raw)
	}
	root := traces.WaitFor(t, 30*time.Second, "the gateway's CreateOrder server span", func(s tracingtest.Span) bool {
		return s.Service == launcher.Gateway && s.Attributes["correlation_id"] == corr &&
			strings.HasSuffix(s.Name, "/CreateOrder")
	})
	// Each hop the trace must reach, as (service, span name suffix).
	hops := []struct{ service, name string }{
		{launcher.Order, "OrderService/CreateOrder"},
		{launcher.Inventory, "InventoryService/ReserveStock"},
		{launcher.Fulfillment, ""}, // the confirmation event's consumer and what it calls
	}
	for _, h := range hops {
		traces.WaitFor(t, 60*time.Second, h.service+" in the order's trace", func(s tracingtest.Span) bool {
			return s.TraceID == root.TraceID && s.Service == h.service && strings.HasSuffix(s.Name, h.name)
		})
	}
	if t.Failed() {
		return
	}
	var seen []string
	for _, s := range traces.Trace(root.TraceID) {
		seen = append(seen, s.Service+" "+s.Name)
	}
	sort.Strings(seen)
	t.Logf("trace %s: %d spans:\n  %s", root.TraceID, len(seen), strings.Join(slices.Compact(seen), "\n  "))
}
