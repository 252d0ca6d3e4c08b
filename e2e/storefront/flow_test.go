package storefront

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// The scenarios share one mesh and run in file order (no t.Parallel): the
// fault scenarios switch the ERP down and kill the order process.

// Scenario 1: availability and quote for 3 SKUs, an order placed, confirmed,
// shipped with tracking and delivered; shipments listed; stock reduced.
func TestOrderToDelivery(t *testing.T) {
	skus := []string{"SKU-00011", "SKU-00012", "SKU-00013"}
	before := availability(t, "C0001", skus...)
	for _, s := range skus {
		if before[s] < 5 {
			t.Fatalf("%s: only %d available before the order", s, before[s])
		}
	}
	q := call(t, http.MethodPost, "/v1/prices:quote", launcher.DemoAPIKey, map[string]any{
		"customerId": "C0001", "currencyCode": "EUR",
		"lines": linesJSON([]line{{skus[0], 2}, {skus[1], 1}, {skus[2], 3}}),
	})
	if q.Status != http.StatusOK {
		t.Fatalf("quote: %d %s", q.Status, q.Raw)
	}
	qlines, _ := q.Body["lines"].([]any)
	if len(qlines) != 3 {
		t.Fatalf("quote: %d lines, want 3: %s", len(qlines), q.Raw)
	}
	for _, l := range qlines {
		m := l.(map[string]any)
		unit := toInt(t, m["unitPrice"].(map[string]any)["amountMinor"])
		ext := toInt(t, m["extendedPrice"].(map[string]any)["amountMinor"])
		if unit <= 0 || ext != unit*toInt(t, m["quantity"]) {
			t.Fatalf("quote line %v: extended %d != unit %d × quantity", m["sku"], ext, unit)
		}
	}

	r := placeOrder(t, launcher.DemoAPIKey, "e2e-flow-1", orderBody("C0001", line{skus[0], 2}, line{skus[1], 1}, line{skus[2], 3}))
	if r.Status != http.StatusOK {
		t.Fatalf("create order: %d %s", r.Status, r.Raw)
	}
	name := r.str("name")
	if !strings.HasPrefix(name, "orders/") {
		t.Fatalf("order name %q", name)
	}
	if got := r.Header.Get("X-Correlation-Id"); got == "" {
		t.Errorf("no X-Correlation-Id on the response")
	}
	wait.Eventually(t, 90*time.Second, "order delivered", func() error {
		g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil)
		return wait.Check(g.str("state") == "STATE_DELIVERED", "state %s", g.str("state"))
	})
	s := call(t, http.MethodGet, "/v1/"+name+"/shipments", launcher.DemoAPIKey, nil)
	if s.Status != http.StatusOK {
		t.Fatalf("shipments: %d %s", s.Status, s.Raw)
	}
	ships, _ := s.Body["shipments"].([]any)
	if len(ships) == 0 {
		t.Fatalf("no shipments listed: %s", s.Raw)
	}
	shipped := map[string]int64{}
	for _, sh := range ships {
		m := sh.(map[string]any)
		if fmt.Sprint(m["trackingNumber"]) == "" || m["trackingNumber"] == nil || m["carrier"] == nil {
			t.Errorf("shipment without carrier/tracking: %v", m)
		}
		ls, _ := m["lines"].([]any)
		for _, l := range ls {
			lm := l.(map[string]any)
			shipped[fmt.Sprint(lm["sku"])] += toInt(t, lm["quantity"])
		}
	}
	want := map[string]int64{skus[0]: 2, skus[1]: 1, skus[2]: 3}
	for sku, q := range want {
		if shipped[sku] != q {
			t.Errorf("%s shipped %d, want %d", sku, shipped[sku], q)
		}
	}
	after := availability(t, "C0001", skus...)
	for sku, q := range want {
		if before[sku]-after[sku] != q {
			t.Errorf("%s: available %d → %d, want a drop of %d", sku, before[sku], after[sku], q)
		}
	}
}

// Scenario 2: one Idempotency-Key sent 20 times concurrently creates one
// order; the same key with another payload is rejected.
func TestIdempotentCreate(t *testing.T) {
	body := orderBody("C0002", line{"SKU-00021", 1})
	var wg sync.WaitGroup
	results := make([]response, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = placeOrder(t, launcher.DemoAPIKey, "e2e-idem-1", body)
		}()
	}
	wg.Wait()
	names := map[string]int{}
	replayed := 0
	for _, r := range results {
		switch {
		case r.Status == http.StatusOK:
			names[r.str("name")]++
			if r.Header.Get("Idempotent-Replayed") == "true" {
				replayed++
			}
		case r.Status == http.StatusConflict && r.reason() == "ERROR_REASON_REQUEST_IN_PROGRESS":
			// a concurrent duplicate may be told to retry; it never creates an order
		default:
			t.Fatalf("duplicate create: %d %s", r.Status, r.Raw)
		}
	}
	if len(names) != 1 {
		t.Fatalf("20 concurrent creates with one key made %d orders: %v", len(names), names)
	}
	if ok := names[firstKey(names)]; replayed != ok-1 {
		t.Errorf("%d successful answers, %d marked replayed; want all but one", ok, replayed)
	}
	// A retry after the burst returns the same order, marked as a replay.
	again := placeOrder(t, launcher.DemoAPIKey, "e2e-idem-1", body)
	if again.Status != http.StatusOK || again.str("name") != firstKey(names) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d replayed=%q %s", again.Status, again.Header.Get("Idempotent-Replayed"), again.Raw)
	}
	other := placeOrder(t, launcher.DemoAPIKey, "e2e-idem-1", orderBody("C0002", line{"SKU-00021", 2}))
	if other.Status != http.StatusConflict || other.reason() != "ERROR_REASON_IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("same key, other payload: %d %s", other.Status, other.Raw)
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

// Scenario 3: a SKU with 10 units in total and 50 concurrent single-unit
// orders: exactly 10 accepted, the rest out of stock naming the SKU.
func TestNoOversell(t *testing.T) {
	const sku = "SKU-00500"
	if got := availability(t, "C0003", sku)[sku]; got != 10 {
		t.Fatalf("%s available %d before the burst, want 10 (erpsim seed)", sku, got)
	}
	var wg sync.WaitGroup
	results := make([]response, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = placeOrder(t, launcher.DemoAPIKey, fmt.Sprintf("e2e-oversell-%d", i), orderBody("C0003", line{sku, 1}))
		}()
	}
	wg.Wait()
	accepted := 0
	for _, r := range results {
		switch r.Status {
		case http.StatusOK:
			accepted++
		default:
			if r.reason() != "ERROR_REASON_OUT_OF_STOCK" || !strings.Contains(r.Raw, sku) {
				t.Errorf("rejected order: %d %s; want OUT_OF_STOCK naming %s", r.Status, r.Raw, sku)
			}
		}
	}
	if accepted != 10 {
		t.Fatalf("%d orders accepted for 10 units", accepted)
	}
	if got := availability(t, "C0003", sku)[sku]; got != 0 {
		t.Fatalf("%s available %d after the burst, want 0", sku, got)
	}
}

// Scenario 5: business and input errors are clear.
func TestClearErrors(t *testing.T) {
	hold := placeOrder(t, launcher.DemoAPIKey, "e2e-hold-1", orderBody("C0020", line{"SKU-00031", 1}))
	if hold.Status/100 != 4 || hold.reason() != "ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD" {
		t.Fatalf("credit hold: %d %s", hold.Status, hold.Raw)
	}

	// An order of C0002, read with a key bound to C0001, looks like a missing order.
	other := placeOrder(t, launcher.DemoAPIKey, "e2e-owner-1", orderBody("C0002", line{"SKU-00032", 1}))
	if other.Status != http.StatusOK {
		t.Fatalf("create: %d %s", other.Status, other.Raw)
	}
	notMine := call(t, http.MethodGet, "/v1/"+other.str("name"), launcher.DemoCustomerAPIKey, nil)
	missing := call(t, http.MethodGet, "/v1/orders/does-not-exist", launcher.DemoCustomerAPIKey, nil)
	if notMine.Status != http.StatusNotFound || missing.Status != http.StatusNotFound {
		t.Fatalf("not mine: %d %s; missing: %d %s", notMine.Status, notMine.Raw, missing.Status, missing.Raw)
	}
	if notMine.reason() != missing.reason() {
		t.Errorf("not-mine reason %q differs from missing reason %q", notMine.reason(), missing.reason())
	}

	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"malformed JSON", `{"customerId": "C0001", "lines": [`, ""},
		{"unknown SKU", orderBody("C0001", line{"SKU-99999", 1}), "sku"},
		{"zero quantity", orderBody("C0001", line{"SKU-00033", 0}), "quantity"},
		{"negative quantity", orderBody("C0001", line{"SKU-00033", -2}), "quantity"},
		{"unknown currency", func() map[string]any {
			b := orderBody("C0001", line{"SKU-00033", 1})
			b["currencyCode"] = "XYZ"
			return b
		}(), "currency"},
	}
	for i, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, http.MethodPost, "/v1/orders", launcher.DemoAPIKey, tt.body, fmt.Sprintf("Idempotency-Key: e2e-bad-%d", i))
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Raw)
			}
			if r.str("message") == "" || r.str("code") == "" {
				t.Errorf("error body lacks code/message: %s", r.Raw)
			}
			if tt.field == "" {
				return
			}
			fields := r.violatedFields()
			if !slices.ContainsFunc(fields, func(f string) bool { return strings.Contains(strings.ToLower(f), tt.field) }) {
				t.Fatalf("no field violation naming %q: %v in %s", tt.field, fields, r.Raw)
			}
		})
	}
}

// Scenario 4: with the ERP down, 200 orders are accepted pending ERP and
// none is lost; once it is back all are confirmed and the ERP holds exactly
// one sales order per order.
func TestERPDownThenBack(t *testing.T) {
	control(t, launcher.ERPSim, "/control/faults", map[string]any{"down": true})
	defer control(t, launcher.ERPSim, "/control/faults", map[string]any{"down": false})
	names := placeBurst(t, "e2e-erpdown", 200, 8)
	for _, n := range names {
		g := call(t, http.MethodGet, "/v1/"+n, launcher.DemoAPIKey, nil)
		if g.Status != http.StatusOK {
			t.Fatalf("get %s: %d %s", n, g.Status, g.Raw)
		}
		if s := g.str("state"); s != "STATE_ACCEPTED_PENDING_ERP" {
			t.Fatalf("%s is %s while the ERP is down, want STATE_ACCEPTED_PENDING_ERP", n, s)
		}
	}
	control(t, launcher.ERPSim, "/control/faults", map[string]any{"down": false})
	wait.Eventually(t, 120*time.Second, "all 200 orders confirmed", func() error {
		pending := 0
		for _, n := range names {
			if call(t, http.MethodGet, "/v1/"+n, launcher.DemoAPIKey, nil).str("state") == "STATE_ACCEPTED_PENDING_ERP" {
				pending++
			}
		}
		return wait.Check(pending == 0, "%d still pending", pending)
	})
	assertOncePerOrder(t, names)
}

// Scenario 6: the order process is killed with SIGKILL during a burst of 100
// orders and restarted: every order that got a success answer exists and
// reaches the ERP exactly once.
func TestOrderProcessKilledMidBurst(t *testing.T) {
	var names []string
	var succeeded atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		names = placeBurstTolerant(t, "e2e-kill", 100, 4, &succeeded)
	}()
	// Kill once a third of the burst has been acknowledged, so the crash
	// lands in the middle of it with requests in flight.
	wait.Eventually(t, 60*time.Second, "a third of the burst acknowledged", func() error {
		n := succeeded.Load()
		return wait.Check(n >= 33, "%d acknowledged", n)
	})
	mesh.Kill(launcher.Order)
	atKill := succeeded.Load()
	if err := mesh.Restart(t.Context(), launcher.Order); err != nil {
		t.Fatal(err)
	}
	<-done
	if atKill >= 100 {
		t.Fatalf("the burst had finished before the kill (%d acknowledged)", atKill)
	}
	t.Logf("killed the order process with %d of 100 orders acknowledged; %d acknowledged in the end", atKill, len(names))
	if len(names) != 100 {
		t.Errorf("%d of 100 orders acknowledged after the restart, want all (retries with the same key)", len(names))
	}
	wait.Eventually(t, 120*time.Second, "every acknowledged order confirmed", func() error {
		for _, n := range names {
			g := call(t, http.MethodGet, "/v1/"+n, launcher.DemoAPIKey, nil)
			if g.Status != http.StatusOK {
				return fmt.Errorf("%s: %d %s", n, g.Status, g.Raw)
			}
			if g.str("state") == "STATE_ACCEPTED_PENDING_ERP" {
				return errors.New(n + " pending")
			}
		}
		return nil
	})
	assertOncePerOrder(t, names)
}

// placeBurst places n single-line orders with `workers` in parallel and
// requires every one to succeed.
func placeBurst(t *testing.T, prefix string, n, workers int) []string {
	t.Helper()
	names := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := placeOrder(t, launcher.DemoAPIKey, fmt.Sprintf("%s-%d", prefix, i), orderBody(fmt.Sprintf("C%04d", 1+i%10), line{fmt.Sprintf("SKU-%05d", 100+i%50), 1}))
				if r.Status != http.StatusOK {
					if failed.Add(1) <= 3 {
						t.Errorf("order %d: %d %s", i, r.Status, r.Raw)
					}
					continue
				}
				names[i] = r.str("name")
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d orders failed", f, n)
	}
	return names
}

// placeBurstTolerant is placeBurst for a burst that crosses a crash: a
// failed request is retried with the same Idempotency-Key until it succeeds
// or 60s pass; it returns the orders that got a success answer and counts
// them in succeeded as they come.
func placeBurstTolerant(t *testing.T, prefix string, n, workers int, succeeded *atomic.Int64) []string {
	var mu sync.Mutex
	var names []string
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := orderBody(fmt.Sprintf("C%04d", 1+i%10), line{fmt.Sprintf("SKU-%05d", 200+i%50), 1})
				deadline := time.Now().Add(60 * time.Second)
				for time.Now().Before(deadline) {
					r := placeOrderNoFail(prefix, i, body)
					if r.Status == http.StatusOK {
						mu.Lock()
						names = append(names, r.str("name"))
						mu.Unlock()
						succeeded.Add(1)
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return names
}

// placeOrderNoFail is placeOrder for requests that may hit a dead process:
// transport errors come back as status 0 instead of failing the test.
func placeOrderNoFail(prefix string, i int, body map[string]any) (r response) {
	ft := &failSoft{}
	defer func() {
		if recover() != nil {
			r = response{}
		}
	}()
	return call(ft, http.MethodPost, "/v1/orders", launcher.DemoAPIKey, body, fmt.Sprintf("Idempotency-Key: %s-%d", prefix, i))
}

// failSoft turns Fatal into a panic the caller recovers from.
type failSoft struct{ testing.TB }

func (f *failSoft) Helper()                   {}
func (f *failSoft) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (f *failSoft) Fatalf(s string, a ...any) { panic(fmt.Sprintf(s, a...)) }

// assertOncePerOrder checks through erpsim's control API that each order
// became exactly one sales order.
func assertOncePerOrder(t *testing.T, names []string) {
	t.Helper()
	so := control(t, launcher.ERPSim, "/control/sales-orders", nil)
	list, _ := so["orders"].([]any)
	seen := map[string]int{}
	for _, o := range list {
		m := o.(map[string]any)
		seen[fmt.Sprint(m["orderId"])]++
	}
	for _, n := range names {
		id := strings.TrimPrefix(n, "orders/")
		if seen[id] != 1 {
			t.Errorf("order %s: %d sales orders in the ERP, want exactly 1", id, seen[id])
		}
	}
}
