package storefront

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/deploy/local/launcher"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/testharness/wait"
)

// deliveredOrder places an order with the demo key and waits until it is
// delivered; it returns the order's name.
func deliveredOrder(t *testing.T, idem, customer string, lines ...line) string {
	t.Helper()
	r := placeOrder(t, launcher.DemoAPIKey, idem, orderBody(customer, lines...))
	if r.Status != http.StatusOK {
		t.Fatalf("create order %s: %d %s", idem, r.Status, r.Raw)
	}
	name := r.str("name")
	wait.Eventually(t, 90*time.Second, name+" delivered", func() error {
		g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil)
		return wait.Check(g.str("state") == "STATE_DELIVERED", "state %s", g.str("state"))
	})
	return name
}

// returnBody is a storefront Return with one line per SKU.
func returnBody(resolution string, lines ...line) map[string]any {
	var ls []map[string]any
	for _, l := range lines {
		ls = append(ls, map[string]any{"sku": l.SKU, "quantity": l.Qty, "reason": "REASON_DEFECTIVE"})
	}
	return map[string]any{"lines": ls, "resolution": resolution, "customerNote": "e2e"}
}

func createReturn(t *testing.T, key, order, idem string, body map[string]any) response {
	t.Helper()
	return call(t, http.MethodPost, "/v1/"+order+"/returns", key, body, "Idempotency-Key: "+idem)
}

// returnCount is how many returns the order lists for key.
func returnCount(t *testing.T, key, order string) int {
	t.Helper()
	r := call(t, http.MethodGet, "/v1/"+order+"/returns", key, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list returns of %s: %d %s", order, r.Status, r.Raw)
	}
	rs, _ := r.Body["returns"].([]any)
	return len(rs)
}

// wantRefused checks a refused return: 4xx with reason, the offending line
// named in the PreconditionFailure (subject), and nothing created.
func wantRefused(t *testing.T, r response, reason, subject, order string) {
	t.Helper()
	if r.Status/100 != 4 || r.reason() != reason {
		t.Fatalf("want %s: %d %s", reason, r.Status, r.Raw)
	}
	if subject != "" && !strings.Contains(r.Raw, `"subject":"`+subject+`"`) {
		t.Errorf("%s does not name %s in its PreconditionFailure: %s", reason, subject, r.Raw)
	}
	if n := returnCount(t, launcher.DemoAPIKey, order); n != 0 {
		t.Errorf("%s: %d returns exist after the refusal", order, n)
	}
}

// Issue #9 scenario 2: the return rules, each refused with its reason,
// nothing created: more than delivered, outside the window, an undelivered
// order, another customer's order (404 like a missing one).
func TestReturnRules(t *testing.T) {
	delivered := deliveredOrder(t, "e2e-ret-rules", "C0001", line{"SKU-00141", 2}, line{"SKU-00142", 1})

	// Not delivered yet: the order was just placed.
	fresh := placeOrder(t, launcher.DemoAPIKey, "e2e-ret-fresh", orderBody("C0001", line{"SKU-00143", 1}))
	if fresh.Status != http.StatusOK {
		t.Fatalf("create: %d %s", fresh.Status, fresh.Raw)
	}
	wantRefused(t, createReturn(t, launcher.DemoAPIKey, fresh.str("name"), "e2e-ret-undelivered",
		returnBody("RESOLUTION_REFUND", line{"SKU-00143", 1})), "ERROR_REASON_RETURN_LINE_NOT_SHIPPED", fresh.str("name"), fresh.str("name"))

	// More than delivered: the second request line asks 3 of 2.
	wantRefused(t, createReturn(t, launcher.DemoAPIKey, delivered, "e2e-ret-too-many",
		returnBody("RESOLUTION_REFUND", line{"SKU-00142", 1}, line{"SKU-00141", 3})), "ERROR_REASON_RETURN_QUANTITY_EXCEEDED", "return.lines[1]", delivered)

	// Another customer's order, with a key bound to C0001: 404 exactly as a
	// missing order.
	other := deliveredOrder(t, "e2e-ret-other", "C0002", line{"SKU-00144", 1})
	notMine := createReturn(t, launcher.DemoCustomerAPIKey, other, "e2e-ret-notmine", returnBody("RESOLUTION_REFUND", line{"SKU-00144", 1}))
	missing := createReturn(t, launcher.DemoCustomerAPIKey, "orders/O-DOES-NOT-EXIST", "e2e-ret-missing", returnBody("RESOLUTION_REFUND", line{"SKU-00144", 1}))
	if notMine.Status != http.StatusNotFound || missing.Status != http.StatusNotFound || notMine.reason() != missing.reason() {
		t.Fatalf("not mine: %d %s; missing: %d %s", notMine.Status, notMine.Raw, missing.Status, missing.Raw)
	}
	if n := returnCount(t, launcher.DemoAPIKey, other); n != 0 {
		t.Errorf("%d returns on another customer's order", n)
	}

	// Outside the window: the order service runs with a 2 s window for a
	// moment (an operator's configuration change), then gets the default
	// back.
	restored := false
	restartOrder(t, context.Background(), "ORDER_RETURN_WINDOW=2s")
	t.Cleanup(func() {
		if !restored { // the test stopped early: later tests get the default back
			restartOrder(t, context.Background(), "ORDER_RETURN_WINDOW=720h")
		}
	})
	time.Sleep(2500 * time.Millisecond)
	wantRefused(t, createReturn(t, launcher.DemoAPIKey, delivered, "e2e-ret-late",
		returnBody("RESOLUTION_REFUND", line{"SKU-00142", 1})), "ERROR_REASON_RETURN_WINDOW_CLOSED", "return.lines[0]", delivered)
	restartOrder(t, t.Context(), "ORDER_RETURN_WINDOW=720h")
	restored = true

	// Within the rules: authorized with an RMA number; the same key replays.
	ok := createReturn(t, launcher.DemoAPIKey, delivered, "e2e-ret-ok", returnBody("RESOLUTION_REFUND", line{"SKU-00141", 1}))
	if ok.Status != http.StatusOK || ok.str("state") != "STATE_AUTHORIZED" || ok.str("rmaNumber") == "" {
		t.Fatalf("valid return: %d %s", ok.Status, ok.Raw)
	}
	again := createReturn(t, launcher.DemoAPIKey, delivered, "e2e-ret-ok", returnBody("RESOLUTION_REFUND", line{"SKU-00141", 1}))
	if again.str("name") != ok.str("name") || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %s (Idempotent-Replayed %q)", again.Status, again.Raw, again.Header.Get("Idempotent-Replayed"))
	}
	if got := call(t, http.MethodGet, "/v1/"+ok.str("name"), launcher.DemoCustomerAPIKey, nil); got.Status != http.StatusOK || got.str("name") != ok.str("name") {
		t.Errorf("get own return with the customer key: %d %s", got.Status, got.Raw)
	}
	if n := returnCount(t, launcher.DemoAPIKey, delivered); n != 1 {
		t.Errorf("%d returns, want 1", n)
	}
}

// restartOrder restarts every order replica with env added (ctx: a
// cleanup runs after t.Context() ended), so no replica keeps the old
// return window, TTL or posting interval.
func restartOrder(t *testing.T, ctx context.Context, env ...string) {
	t.Helper()
	if err := restartAll(ctx, launcher.Order, env...); err != nil {
		t.Fatalf("restart order: %v", err)
	}
}

// Issue #9 scenario 4: a return for a replacement, its request sent 8
// times at once, is one return; when the warehouse received the goods,
// exactly one replacement order was placed for it.
func TestReturnReplacementPlacedOnce(t *testing.T) {
	delivered := deliveredOrder(t, "e2e-ret-repl", "C0003", line{"SKU-00145", 2})
	body := returnBody("RESOLUTION_REPLACEMENT", line{"SKU-00145", 1})
	var (
		wg      sync.WaitGroup
		results = make([]response, 8)
	)
	for i := range results {
		wg.Go(func() { results[i] = createReturn(t, launcher.DemoAPIKey, delivered, "e2e-ret-repl-1", body) })
	}
	wg.Wait()
	names := map[string]bool{}
	for _, r := range results {
		switch {
		case r.Status == http.StatusOK:
			names[r.str("name")] = true
		case r.Status == http.StatusConflict && r.reason() == "ERROR_REASON_REQUEST_IN_PROGRESS":
		default:
			t.Fatalf("create return: %d %s", r.Status, r.Raw)
		}
	}
	if len(names) != 1 {
		t.Fatalf("%d returns for one Idempotency-Key: %v", len(names), names)
	}
	var name string
	for n := range names {
		name = n
	}
	var replacement string
	wait.Eventually(t, 60*time.Second, name+" replaced", func() error {
		g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil)
		replacement = g.str("replacementOrder")
		return wait.Check(replacement != "", "state %s, no replacement order yet", g.str("state"))
	})
	// The customer's orders hold the replacement once.
	list := call(t, http.MethodGet, "/v1/orders?filter="+strings.ReplaceAll(`customer_id = "C0003"`, " ", "%20")+"&pageSize=500", launcher.DemoAPIKey, nil)
	orders, _ := list.Body["orders"].([]any)
	count := 0
	for _, o := range orders {
		if note := fmt.Sprint(o.(map[string]any)["note"]); strings.Contains(note, strings.TrimPrefix(name, delivered+"/returns/")) {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d replacement orders for %s, want 1 (%s)", count, name, replacement)
	}
	if g := call(t, http.MethodGet, "/v1/"+replacement, launcher.DemoAPIKey, nil); g.Status != http.StatusOK {
		t.Errorf("replacement %s: %d %s", replacement, g.Status, g.Raw)
	}
	// Across orders: the channel key lists C0003's return, a key bound to
	// C0001 does not, and reading it with that key is a 404.
	listed := func(key string) bool {
		r := call(t, http.MethodGet, "/v1/orders/-/returns?pageSize=500", key, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list returns: %d %s", r.Status, r.Raw)
		}
		rs, _ := r.Body["returns"].([]any)
		for _, it := range rs {
			if fmt.Sprint(it.(map[string]any)["name"]) == name {
				return true
			}
		}
		return false
	}
	if !listed(launcher.DemoAPIKey) || listed(launcher.DemoCustomerAPIKey) {
		t.Errorf("orders/-/returns: channel key sees %s: %v, C0001's key sees it: %v", name, listed(launcher.DemoAPIKey), listed(launcher.DemoCustomerAPIKey))
	}
	if g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoCustomerAPIKey, nil); g.Status != http.StatusNotFound {
		t.Errorf("another customer's return read with C0001's key: %d %s", g.Status, g.Raw)
	}
}

// authorizedReturn requests a refund of one unit of sku on order and
// returns the return's name and RMA number (authorized by policy).
func authorizedReturn(t *testing.T, order, idem, sku string) (name, rma string) {
	t.Helper()
	r := createReturn(t, launcher.DemoAPIKey, order, idem, returnBody("RESOLUTION_REFUND", line{sku, 1}))
	if r.Status != http.StatusOK || r.str("state") != "STATE_AUTHORIZED" || r.str("rmaNumber") == "" {
		t.Fatalf("create return: %d %s", r.Status, r.Raw)
	}
	return r.str("name"), r.str("rmaNumber")
}

// receiveScrapped has wmssim receive one unit of sku of expected return
// rma damaged and scrapped (its control API), as soon as fulfillment has
// registered the return with it.
func receiveScrapped(t *testing.T, rma, sku string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"lines": []map[string]any{
		{"sku": sku, "quantity": 1, "condition": "DAMAGED", "disposition": "SCRAP", "note": "e2e: crushed box"}}})
	url := "http://" + mesh.Proc(launcher.WMSSim).AdminAddr + "/control/returns/" + rma + ":receive"
	wait.Eventually(t, 30*time.Second, rma+" received as scrap", func() error {
		resp, err := httpClient.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusOK:
			return nil
		case http.StatusNotFound: // not registered yet
			return fmt.Errorf("%d %s", resp.StatusCode, raw)
		}
		t.Fatalf("receive %s: %d %s", rma, resp.StatusCode, raw)
		return nil
	})
}

// unitPrice is the unit price of sku on order.
func unitPrice(t *testing.T, order, sku string) int64 {
	t.Helper()
	o := call(t, http.MethodGet, "/v1/"+order, launcher.DemoAPIKey, nil)
	ls, _ := o.Body["lines"].([]any)
	for _, l := range ls {
		m := l.(map[string]any)
		if fmt.Sprint(m["sku"]) == sku {
			return toInt(t, m["unitPrice"].(map[string]any)["amountMinor"])
		}
	}
	t.Fatalf("%s has no line of %s: %s", order, sku, o.Raw)
	return 0
}

// creditMemoLines are the ERP journal lines posted for the credit memos of
// return rma (document ids "{rma}:{receipt}").
func creditMemoLines(t *testing.T, rma string) []map[string]any {
	t.Helper()
	j := control(t, launcher.ERPSim, "/control/journal", nil)
	raw, _ := j["lines"].([]any)
	var out []map[string]any
	for _, it := range raw {
		l := it.(map[string]any)
		if strings.HasPrefix(fmt.Sprint(l["documentId"]), rma+":") {
			out = append(out, l)
		}
	}
	return out
}

// Issue #9 scenarios 1 and 3, the money side: a refund of one unit
// received restocked, and one received damaged and scrapped, each get a
// credit memo for exactly that unit's price, posted to the ERP once; both
// returns then read completed with the credit memo number.
func TestReturnCreditMemoPostedOnce(t *testing.T) {
	restored := false
	restartOrder(t, context.Background(), "ORDER_POSTING_INTERVAL=1s")
	t.Cleanup(func() {
		if !restored {
			restartOrder(t, context.Background(), "ORDER_POSTING_INTERVAL=10s")
		}
	})
	restockOrder := deliveredOrder(t, "e2e-ret-credit-1", "C0004", line{"SKU-00146", 2}, line{"SKU-00147", 1})
	scrapOrder := deliveredOrder(t, "e2e-ret-credit-2", "C0004", line{"SKU-00148", 1})
	// wmssim receives nothing on its own until the scrapped receipt went
	// through its control API, so a slow machine cannot let the automatic
	// receipt (WMSSIM_RETURN_RECEIPT_DELAY) take the scrapped return first;
	// the restocked return is then received by wmssim on its own.
	control(t, launcher.WMSSim, "/control/faults", map[string]any{"holdReturns": true})
	held := true
	t.Cleanup(func() {
		if held {
			control(t, launcher.WMSSim, "/control/faults", map[string]any{"holdReturns": false})
		}
	})
	restock, restockRMA := authorizedReturn(t, restockOrder, "e2e-ret-credit-1r", "SKU-00146")
	scrap, scrapRMA := authorizedReturn(t, scrapOrder, "e2e-ret-credit-2r", "SKU-00148")
	receiveScrapped(t, scrapRMA, "SKU-00148")
	control(t, launcher.WMSSim, "/control/faults", map[string]any{"holdReturns": false})
	held = false

	for _, rc := range []struct {
		name, rma, order, sku, disposition string
	}{
		{restock, restockRMA, restockOrder, "SKU-00146", "DISPOSITION_RESTOCK"},
		{scrap, scrapRMA, scrapOrder, "SKU-00148", "DISPOSITION_SCRAP"},
	} {
		var g response
		wait.Eventually(t, 90*time.Second, rc.name+" completed", func() error {
			g = call(t, http.MethodGet, "/v1/"+rc.name, launcher.DemoAPIKey, nil)
			return wait.Check(g.str("state") == "STATE_COMPLETED" && g.str("creditMemoNumber") != "",
				"state %s credit memo %q", g.str("state"), g.str("creditMemoNumber"))
		})
		price := unitPrice(t, rc.order, rc.sku)
		refund, _ := g.Body["refundAmount"].(map[string]any)
		if got := toInt(t, refund["amountMinor"]); got != price {
			t.Errorf("%s: refund %d, want the unit price %d", rc.name, got, price)
		}
		ls, _ := g.Body["lines"].([]any)
		if len(ls) != 1 || fmt.Sprint(ls[0].(map[string]any)["disposition"]) != rc.disposition {
			t.Errorf("%s: lines %v, want one %s", rc.name, ls, rc.disposition)
		}
		time.Sleep(1500 * time.Millisecond) // a second posting would show by now
		lines := creditMemoLines(t, rc.rma)
		if len(lines) != 1 || toInt(t, lines[0]["amountMinor"]) != price || fmt.Sprint(lines[0]["erpDocumentNumber"]) != g.str("creditMemoNumber") {
			t.Errorf("%s: ERP journal credit memo lines %v, want one of %d numbered %s", rc.name, lines, price, g.str("creditMemoNumber"))
		}
	}
	restartOrder(t, t.Context(), "ORDER_POSTING_INTERVAL=10s")
	restored = true
}

// wmsExpectedReturnState is the state wmssim holds expected return rma in
// (codes.NotFound while it never registered it), read through its wms.v1
// API as fulfillment reads it.
func wmsExpectedReturnState(t *testing.T, rma string) (wmsv1.ExpectedReturn_State, codes.Code) {
	t.Helper()
	conn, err := mesh.Dial(launcher.WMSSim)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	er, err := wmsv1.NewWmsAdapterServiceClient(conn).GetExpectedReturn(ctx, &wmsv1.GetExpectedReturnRequest{Name: "expectedReturns/" + rma})
	return er.GetState(), status.Code(err)
}

// holdReturnReceipts keeps wmssim's automatic return receipts waiting for
// the rest of the test, so a return stays AUTHORIZED until the test acts.
func holdReturnReceipts(t *testing.T) {
	t.Helper()
	control(t, launcher.WMSSim, "/control/faults", map[string]any{"holdReturns": true})
	t.Cleanup(func() { control(t, launcher.WMSSim, "/control/faults", map[string]any{"holdReturns": false}) })
}

// A customer withdraws an authorized return whose goods it never sent
// (POST {return}:cancel, idempotent on Idempotency-Key, scoped like the
// return): the return reads CANCELLED, frees its quantity, fulfillment
// cancels the expected return at the WMS, and a parcel the WMS receives
// anyway is not lost: it lands on the exception desk. Its SKU and keys are
// its own; the customer (every web customer is some test's) only orders.
func TestReturnCancelledByCustomer(t *testing.T) {
	holdReturnReceipts(t)
	delivered := deliveredOrder(t, "e2e-ret-cancel", "C0004", line{"SKU-00155", 1})
	name, rma := authorizedReturn(t, delivered, "e2e-ret-cancel-1", "SKU-00155")
	wait.Eventually(t, 30*time.Second, rma+" registered at the WMS", func() error {
		st, code := wmsExpectedReturnState(t, rma)
		return wait.Check(code == codes.OK && st == wmsv1.ExpectedReturn_STATE_EXPECTED, "state %s, %s", st, code)
	})
	cancel := func(key, idem string) response {
		return call(t, http.MethodPost, "/v1/"+name+":cancel", key, map[string]any{"reason": "e2e: parcel never sent"}, "Idempotency-Key: "+idem)
	}
	// Another customer's key: not found, like a missing return.
	if r := cancel(launcher.DemoCustomerAPIKey, "e2e-ret-cancel-other"); r.Status != http.StatusNotFound {
		t.Fatalf("cancel with another customer's key: %d %s", r.Status, r.Raw)
	}
	first := cancel(launcher.DemoAPIKey, "e2e-ret-cancel-c1")
	if first.Status != http.StatusOK || first.str("state") != "STATE_CANCELLED" {
		t.Fatalf("cancel: %d %s", first.Status, first.Raw)
	}
	// The replay answers the return as stored (microseconds), not a
	// second change.
	microseconds := func(r response) time.Time {
		at, err := time.Parse(time.RFC3339Nano, r.str("updateTime"))
		if err != nil {
			t.Fatalf("updateTime of %s: %v", r.Raw, err)
		}
		return at.Truncate(time.Microsecond)
	}
	if again := cancel(launcher.DemoAPIKey, "e2e-ret-cancel-c1"); again.Status != http.StatusOK || again.str("state") != "STATE_CANCELLED" ||
		!microseconds(again).Equal(microseconds(first)) {
		t.Errorf("replayed cancel: %d %s, first %s", again.Status, again.Raw, first.Raw)
	}
	if r := cancel(launcher.DemoAPIKey, "e2e-ret-cancel-c2"); r.Status != http.StatusBadRequest || r.reason() != "ERROR_REASON_RETURN_NOT_CANCELLABLE" {
		t.Errorf("cancel of a cancelled return: %d %s", r.Status, r.Raw)
	}
	// The cancelled return holds nothing: the unit may be returned again.
	if r := createReturn(t, launcher.DemoAPIKey, delivered, "e2e-ret-cancel-2", returnBody("RESOLUTION_REFUND", line{"SKU-00155", 1})); r.Status != http.StatusOK {
		t.Errorf("return after the cancellation: %d %s", r.Status, r.Raw)
	}
	wait.Eventually(t, 30*time.Second, rma+" cancelled at the WMS", func() error {
		st, code := wmsExpectedReturnState(t, rma)
		return wait.Check(code == codes.OK && st == wmsv1.ExpectedReturn_STATE_CANCELLED, "state %s, %s", st, code)
	})
	// The parcel arrives anyway.
	control(t, launcher.WMSSim, "/control/returns/"+rma+":receive", map[string]any{})
	exc := onDesk(t, "KIND_WMS_REJECTION", "returnAuthorizations/"+rma)
	if d, _ := exc["details"].(map[string]any); d["wmsCode"] != "RETURN_AUTHORIZATION_CLOSED" {
		t.Errorf("late parcel exception %v", exc)
	}
	if g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil); g.str("state") != "STATE_CANCELLED" {
		t.Errorf("return after the late parcel: %s", g.Raw)
	}
}

// An authorized return whose goods do not arrive within
// ORDER_RETURN_AUTHORIZATION_TTL (3 s here; the order process restarted
// with it, restored after) is closed by the expiry task: the customer sees
// it CANCELLED, and the WMS no longer expects it.
func TestReturnAuthorizationExpires(t *testing.T) {
	holdReturnReceipts(t)
	restartOrder(t, context.Background(), "ORDER_RETURN_AUTHORIZATION_TTL=3s")
	t.Cleanup(func() { restartOrder(t, context.Background(), "ORDER_RETURN_AUTHORIZATION_TTL=720h") })
	delivered := deliveredOrder(t, "e2e-ret-expire", "C0004", line{"SKU-00156", 1})
	name, rma := authorizedReturn(t, delivered, "e2e-ret-expire-1", "SKU-00156")
	wait.Eventually(t, 30*time.Second, name+" expired", func() error {
		g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil)
		return wait.Check(g.str("state") == "STATE_CANCELLED", "state %s", g.str("state"))
	})
	// Cancelled at the WMS, or never registered there when the expiry
	// overtook the registration (which is then skipped).
	wait.Eventually(t, 30*time.Second, rma+" withdrawn from the WMS", func() error {
		st, code := wmsExpectedReturnState(t, rma)
		return wait.Check(code == codes.NotFound || st == wmsv1.ExpectedReturn_STATE_CANCELLED, "state %s, %s", st, code)
	})
}
