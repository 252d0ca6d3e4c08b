package storefront

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// rrWarehouseAvailable returns the available quantity of sku in warehouse
// wh, from the storefront's availability check with the warehouse
// breakdown.
func rrWarehouseAvailable(t *testing.T, sku, wh string) int64 {
	t.Helper()
	r := call(t, http.MethodPost, "/v1/availability:check", launcher.DemoAPIKey, map[string]any{
		"customerId": "C0001", "currencyCode": "EUR", "lines": linesJSON([]line{{sku, 1}}),
		"shipTo": map[string]any{"regionCode": "DE", "postalCode": "20457"}, "includeWarehouseBreakdown": true,
	})
	if r.Status != http.StatusOK {
		t.Fatalf("availability: %d %s", r.Status, r.Raw)
	}
	ls, _ := r.Body["lines"].([]any)
	for _, l := range ls {
		whs, _ := l.(map[string]any)["warehouses"].([]any)
		for _, w := range whs {
			m := w.(map[string]any)
			if fmt.Sprint(m["warehouse"]) == wh {
				return toInt(t, m["availableQuantity"])
			}
		}
	}
	return 0
}

// rrShippedFrom returns the warehouse that shipped sku on order.
func rrShippedFrom(t *testing.T, order, sku string) string {
	t.Helper()
	s := call(t, http.MethodGet, "/v1/"+order+"/shipments", launcher.DemoAPIKey, nil)
	ships, _ := s.Body["shipments"].([]any)
	for _, sh := range ships {
		m := sh.(map[string]any)
		ls, _ := m["lines"].([]any)
		for _, l := range ls {
			if fmt.Sprint(l.(map[string]any)["sku"]) == sku {
				return fmt.Sprint(m["warehouse"])
			}
		}
	}
	t.Fatalf("%s: no shipment of %s: %s", order, sku, s.Raw)
	return ""
}

// rrDelivered places an order with the demo key and waits until it is
// delivered; it returns the order's name.
func rrDelivered(t *testing.T, idem string, lines ...line) string {
	t.Helper()
	r := placeOrder(t, launcher.DemoAPIKey, idem, orderBody("C0001", lines...))
	if r.Status != http.StatusOK {
		t.Fatalf("create order %s: %d %s", idem, r.Status, r.Raw)
	}
	name := r.str("name")
	wait.Eventually(t, 90*time.Second, name+" delivered", func() error {
		return wait.Check(call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil).str("state") == "STATE_DELIVERED", "not delivered")
	})
	return name
}

// rrAuthorized creates a return of one unit of sku on order for a refund
// and returns its name and RMA number.
func rrAuthorized(t *testing.T, order, idem, sku string) (name, rma string) {
	t.Helper()
	r := call(t, http.MethodPost, "/v1/"+order+"/returns", launcher.DemoAPIKey, map[string]any{
		"resolution": "RESOLUTION_REFUND", "lines": []map[string]any{{"sku": sku, "quantity": 1, "reason": "REASON_DEFECTIVE"}},
	}, "Idempotency-Key: "+idem)
	if r.Status != http.StatusOK || r.str("state") != "STATE_AUTHORIZED" || r.str("rmaNumber") == "" {
		t.Fatalf("create return: %d %s", r.Status, r.Raw)
	}
	return r.str("name"), r.str("rmaNumber")
}

// rrReceived waits until the return has left AUTHORIZED (the warehouse's
// receipt reached the order service) and returns it.
func rrReceived(t *testing.T, name string) response {
	t.Helper()
	var g response
	wait.Eventually(t, 60*time.Second, name+" received", func() error {
		g = call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil)
		return wait.Check(g.Status == http.StatusOK && g.str("state") != "STATE_AUTHORIZED", "%d state %s", g.Status, g.str("state"))
	})
	return g
}

// Issue #9 scenario 1, the warehouse side: a delivered order of two SKUs,
// one unit of one line returned for a refund; the WMS (wmssim) receives it
// on its own and restocks it; the return reaches RECEIVED or later with a
// refund, and the storefront's availability of that SKU in the warehouse
// that shipped it rises by exactly one (the other SKU's does not move),
// also after the receipt had time to be applied twice.
func TestReturnReceiptRestocks(t *testing.T) {
	const sku, other = "SKU-00151", "SKU-00152"
	order := rrDelivered(t, "e2e-rr-restock", line{sku, 2}, line{other, 1})
	wh := rrShippedFrom(t, order, sku)
	before, otherBefore := rrWarehouseAvailable(t, sku, wh), rrWarehouseAvailable(t, other, rrShippedFrom(t, order, other))

	name, _ := rrAuthorized(t, order, "e2e-rr-restock-1", sku)
	got := rrReceived(t, name)
	if s := got.str("state"); s != "STATE_RECEIVED" && s != "STATE_COMPLETED" {
		t.Fatalf("return after the receipt: %s", got.Raw)
	}
	if refund, _ := got.Body["refundAmount"].(map[string]any); toInt(t, refund["amountMinor"]) <= 0 {
		t.Errorf("no refund amount on the received return: %s", got.Raw)
	}
	wait.Eventually(t, 30*time.Second, sku+" restocked in "+wh, func() error {
		n := rrWarehouseAvailable(t, sku, wh)
		return wait.Check(n == before+1, "available %d, want %d", n, before+1)
	})
	time.Sleep(time.Second) // a second restock would show now
	if n := rrWarehouseAvailable(t, sku, wh); n != before+1 {
		t.Errorf("%s in %s: available %d after the receipt, want %d (restocked once)", sku, wh, n, before+1)
	}
	if n := rrWarehouseAvailable(t, other, rrShippedFrom(t, order, other)); n != otherBefore {
		t.Errorf("%s: available %d, want %d unchanged", other, n, otherBefore)
	}
}

// Issue #9 scenario 3, the warehouse side: the warehouse receives the
// returned unit damaged and scraps it (control API: receive with damage);
// the return is still received, and the SKU's availability does not move.
func TestDamagedReturnReceiptIsNotRestocked(t *testing.T) {
	const sku = "SKU-00153"
	order := rrDelivered(t, "e2e-rr-damaged", line{sku, 1})
	wh := rrShippedFrom(t, order, sku)
	before := rrWarehouseAvailable(t, sku, wh)

	// wmssim receives nothing on its own meanwhile: the receipt below is
	// the only one, however slow the machine.
	control(t, launcher.WMSSim, "/control/faults", map[string]any{"holdReturns": true})
	t.Cleanup(func() { control(t, launcher.WMSSim, "/control/faults", map[string]any{"holdReturns": false}) })
	name, rma := rrAuthorized(t, order, "e2e-rr-damaged-1", sku)
	// The receipt through the control API as soon as the expected return
	// is registered.
	url := "http://" + mesh.Proc(launcher.WMSSim).AdminAddr + "/control/returns/" + rma + ":receive"
	body := `{"lines":[{"sku":"` + sku + `","quantity":1,"condition":"DAMAGED","disposition":"SCRAP","note":"crushed"}]}`
	wait.Eventually(t, 30*time.Second, rma+" received damaged at the WMS", func() error {
		resp, err := httpClient.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return wait.Check(resp.StatusCode == http.StatusOK, "control receive: %d", resp.StatusCode)
	})
	got := rrReceived(t, name)
	if s := got.str("state"); s != "STATE_RECEIVED" && s != "STATE_COMPLETED" {
		t.Fatalf("return after the damaged receipt: %s", got.Raw)
	}
	time.Sleep(time.Second) // a restock would show by now
	if n := rrWarehouseAvailable(t, sku, wh); n != before {
		t.Errorf("%s in %s: available %d after a scrapped receipt, want %d", sku, wh, n, before)
	}
}
