package storefront

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// Issue #14: an Idempotency-Key is scoped by the principal it belongs to
// (channel and customer binding). The key bound to customer C0001 and the
// channel key (once for C0001, in a second round for C0002) send the same
// key at the same time: each principal gets its own order, every repeat
// replays the caller's own order, never the other's, and neither is
// refused as a reused key.
func TestIdempotencyKeyScopedPerCaller(t *testing.T) {
	for _, other := range []string{"C0001", "C0002"} {
		t.Run("channel key for "+other, func(t *testing.T) { scopedPerCaller(t, other) })
	}
}

func scopedPerCaller(t *testing.T, channelKeyCustomer string) {
	idem := fmt.Sprintf("e2e-scoped-%d", time.Now().UnixNano())
	type caller struct{ label, key, customer string }
	callers := []caller{{"bound key", launcher.DemoCustomerAPIKey, "C0001"}, {"channel key", launcher.DemoAPIKey, channelKeyCustomer}}
	const repeats = 5
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		names   = map[caller]map[string]bool{}
		created = map[caller]int{}
	)
	for _, c := range callers {
		names[c] = map[string]bool{}
		for range repeats {
			wg.Go(func() {
				r := placeOrder(t, c.key, idem, orderBody(c.customer, line{"SKU-00031", 1}))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.Status == http.StatusOK:
					if got := r.str("customerId"); got != c.customer {
						t.Errorf("%s/%s got the order %s of customer %s", c.label, c.customer, r.str("name"), got)
					}
					names[c][r.str("name")] = true
					if r.Header.Get("Idempotent-Replayed") != "true" {
						created[c]++
					}
				case r.Status == http.StatusConflict && r.reason() == "ERROR_REASON_REQUEST_IN_PROGRESS":
					// the caller's own first request is still running
				default:
					t.Errorf("%s/%s: %d %s", c.label, c.customer, r.Status, r.Raw)
				}
			})
		}
	}
	wg.Wait()
	for _, c := range callers {
		if len(names[c]) != 1 || created[c] != 1 {
			t.Errorf("%s/%s: orders %v, %d first executions; want one order created once", c.label, c.customer, names[c], created[c])
		}
	}
	// After the burst each caller replays its own order.
	for _, c := range callers {
		r := placeOrder(t, c.key, idem, orderBody(c.customer, line{"SKU-00031", 1}))
		if r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") != "true" || !names[c][r.str("name")] {
			t.Errorf("%s/%s replay: %d replayed=%q %s", c.label, c.customer, r.Status, r.Header.Get("Idempotent-Replayed"), r.Raw)
		}
	}
}

// Issue #14: a request refused as invalid (400) stores nothing under its
// key, so the corrected request with the same key is placed.
func TestIdempotencyKeyAfterValidationFailure(t *testing.T) {
	idem := fmt.Sprintf("e2e-after-400-%d", time.Now().UnixNano())
	bad := placeOrder(t, launcher.DemoAPIKey, idem, orderBody("C0004", line{"SKU-00032", 0}))
	if bad.Status != http.StatusBadRequest {
		t.Fatalf("quantity 0: %d %s, want 400", bad.Status, bad.Raw)
	}
	good := placeOrder(t, launcher.DemoAPIKey, idem, orderBody("C0004", line{"SKU-00032", 1}))
	if good.Status != http.StatusOK || good.Header.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("the corrected request with the same key: %d replayed=%q %s", good.Status,
			good.Header.Get("Idempotent-Replayed"), good.Raw)
	}
}

// Issue #14: a request that failed because inventory was down (503, or 504
// when the dead process's port still accepts connections and the call runs
// into the deadline) leaves its key free: once inventory is back the same
// request creates the order (a first execution, not a replay of the
// outage; while the failed call's claim lease runs the retry may be told
// REQUEST_IN_PROGRESS).
func TestIdempotencyKeyAfterOutage(t *testing.T) {
	idem := fmt.Sprintf("e2e-after-503-%d", time.Now().UnixNano())
	body := orderBody("C0004", line{"SKU-00033", 1})
	// Every replica: on the scale topology a surviving one would answer.
	killAll(launcher.Inventory)
	restarted := false
	defer func() {
		if !restarted {
			_ = startAll(context.Background(), launcher.Inventory)
		}
	}()
	down := placeOrder(t, launcher.DemoAPIKey, idem, body)
	if down.Status != http.StatusServiceUnavailable && down.Status != http.StatusGatewayTimeout {
		t.Fatalf("inventory down: %d %s, want 503 or 504", down.Status, down.Raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := startAll(ctx, launcher.Inventory); err != nil {
		t.Fatal(err)
	}
	restarted = true
	var r response
	wait.Eventually(t, 60*time.Second, "the retry after inventory came back", func() error {
		r = placeOrder(t, launcher.DemoAPIKey, idem, body)
		retry := r.Status >= 500 || r.Status == http.StatusConflict && r.reason() == "ERROR_REASON_REQUEST_IN_PROGRESS"
		return wait.Check(!retry, "still %d %s", r.Status, r.reason())
	})
	if r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("retry after the outage: %d replayed=%q %s", r.Status, r.Header.Get("Idempotent-Replayed"), r.Raw)
	}
}

// Issue #14: the ERP commits a sales order but its answer is lost (erpsim's
// loseAnswers fault: the order service sees ERP_TIMEOUT). The order is
// confirmed once, the ERP holds exactly one sales order for it (the
// resubmission is recognised as a duplicate), and the queue moves on: an
// order placed after it is confirmed too.
func TestERPAnswerLost(t *testing.T) {
	control(t, launcher.ERPSim, "/control/faults", map[string]any{"loseAnswers": 1})
	defer control(t, launcher.ERPSim, "/control/faults", map[string]any{"loseAnswers": 0})
	suffix := time.Now().UnixNano()
	var names []string
	for i, customer := range []string{"C0005", "C0006"} {
		r := placeOrder(t, launcher.DemoAPIKey, fmt.Sprintf("e2e-lost-%d-%d", suffix, i), orderBody(customer, line{"SKU-00034", 1}))
		if r.Status != http.StatusOK {
			t.Fatalf("place: %d %s", r.Status, r.Raw)
		}
		names = append(names, r.str("name"))
	}
	// Confirmed, or already past it: the WMS may ship and deliver an order
	// before the poll sees it confirmed.
	confirmed := map[string]bool{"STATE_CONFIRMED": true, "STATE_PARTIALLY_SHIPPED": true, "STATE_SHIPPED": true, "STATE_DELIVERED": true}
	wait.Eventually(t, 60*time.Second, "both orders confirmed", func() error {
		for _, n := range names {
			if s := call(t, http.MethodGet, "/v1/"+n, launcher.DemoAPIKey, nil).str("state"); !confirmed[s] {
				return fmt.Errorf("%s is %s", n, s)
			}
		}
		return nil
	})
	if f := control(t, launcher.ERPSim, "/control/faults", nil); f["loseAnswers"] != nil {
		t.Errorf("faults after the run = %v, want the lost answer used up", f)
	}
	assertOncePerOrder(t, names)
}

// Issue #14: quantities and line counts beyond the contract's bounds are
// refused with a 400 naming the field with a reason of its own (the bound's
// rule: INT64_GT_LTE, REPEATED_MAX_ITEMS), before any amount is computed: a
// quantity of 2^31-1 or 2^63-1 never reaches pricing (no wrapped total), and
// neither do 201 lines.
func TestOrderLimits(t *testing.T) {
	many := make([]line, 201)
	for i := range many {
		many[i] = line{fmt.Sprintf("SKU-%05d", i+1), 1}
	}
	for i, tt := range []struct {
		name          string
		body          map[string]any
		field, reason string
	}{
		{"quantity 2^31-1", orderBody("C0001", line{"SKU-00035", 1<<31 - 1}), "order.lines[0].quantity", "INT64_GT_LTE"},
		{"quantity 2^63-1", orderBody("C0001", line{"SKU-00035", 1<<63 - 1}), "order.lines[0].quantity", "INT64_GT_LTE"},
		{"201 lines", orderBody("C0001", many...), "order.lines", "REPEATED_MAX_ITEMS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := placeOrder(t, launcher.DemoAPIKey, fmt.Sprintf("e2e-limits-%d-%d", i, time.Now().UnixNano()), tt.body)
			if r.Status != http.StatusBadRequest || !slices.Contains(r.violatedFields(), tt.field) {
				t.Fatalf("%d %s; want 400 naming %s", r.Status, r.Raw, tt.field)
			}
			if got := violationReason(r, tt.field); got != tt.reason {
				t.Errorf("reason of %s = %q, want %q: %s", tt.field, got, tt.reason, r.Raw)
			}
		})
	}
}

// violationReason is the reason of the BadRequest field violation of
// field, "" if none.
func violationReason(r response, field string) string {
	for _, d := range r.details() {
		vs, _ := d["fieldViolations"].([]any)
		for _, v := range vs {
			if m, ok := v.(map[string]any); ok && m["field"] == field {
				return fmt.Sprint(m["reason"])
			}
		}
	}
	return ""
}
