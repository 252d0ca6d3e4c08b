package webhooks

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// envDuration and envInt read the chaos sizes.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// waitDelivered waits until rcv got order's DELIVERED state.
func waitDelivered(t *testing.T, rcv *receiver, timeout time.Duration, orders ...string) {
	t.Helper()
	wait.Eventually(t, timeout, "DELIVERED webhooks", func() error {
		for _, o := range orders {
			states, _ := rcv.orderStates(o)
			if !slices.Contains(states, "STATE_DELIVERED") {
				return fmt.Errorf("%s: %v", o, states)
			}
		}
		return nil
	})
}

// Scenario 1: subscribe, place an order: accepted → confirmed → shipped
// (with tracking) → delivered arrive in order, signatures valid (the
// receiver checks), each webhook-id once.
func TestOrderLifecycleDelivered(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, ok)
	_, secret := subscribe(t, launcher.DemoAPIKey, rcv.URL(), orderType, shipmentType)
	rcv.setSecret(secret)
	order := placeOrder(t, launcher.DemoAPIKey, "C0001", "SKU-00021")
	waitDelivered(t, rcv, 60*time.Second, order)
	states, dups := rcv.orderStates(order)
	checkSequence(t, order, states)
	if len(dups) > 0 {
		t.Errorf("webhook-ids acknowledged twice without a failure: %v", dups)
	}
	tracked := false
	for _, d := range rcv.deliveries() {
		if d.Type == shipmentType && d.Order == order && d.State == "STATE_SHIPPED" && d.Tracking != "" {
			tracked = true
		}
	}
	if !tracked {
		t.Errorf("no shipment webhook with tracking for %s: %+v", order, rcv.deliveries())
	}
}

// Scenario 5: a customer-bound subscription never receives another
// customer's events.
func TestCustomerBoundSubscriptions(t *testing.T) {
	t.Parallel()
	r1, r2 := newReceiver(t, ok), newReceiver(t, ok)
	_, s1 := subscribe(t, launcher.DemoCustomerAPIKey, r1.URL(), orderType)
	r1.setSecret(s1)
	_, s2 := subscribe(t, customer2Key, r2.URL(), orderType)
	r2.setSecret(s2)
	o1 := placeOrder(t, launcher.DemoAPIKey, "C0001", "SKU-00022")
	o2 := placeOrder(t, launcher.DemoAPIKey, "C0002", "SKU-00022")
	waitDelivered(t, r1, 60*time.Second, o1)
	waitDelivered(t, r2, 60*time.Second, o2)
	for rcv, want := range map[*receiver]string{r1: "C0001", r2: "C0002"} {
		for _, d := range rcv.deliveries() {
			if d.Customer != want {
				t.Errorf("the %s receiver got %s of customer %s", want, d.Order, d.Customer)
			}
		}
	}
	// Neither customer sees the other's subscription.
	list := call(t, http.MethodGet, "/v1/webhookSubscriptions", customer2Key, nil)
	for _, s := range list.Body["webhookSubscriptions"].([]any) {
		if c := s.(map[string]any)["customerId"]; c != "C0002" {
			t.Errorf("C0002 lists a subscription of %v", c)
		}
	}
}

// Scenario 6: SSRF rules and redirects. The mesh allows loopback targets
// (as make run does); the refusals of loopback and private ranges under
// the production policy are unit-tested in services/notify
// (internal/target, internal/grpcapi). Here: the URL rules over REST, and a
// target that redirects is not followed.
func TestTargetRulesAndRedirect(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"http://user:pw@127.0.0.1:1/x", "http://127.0.0.1:1/x#frag", "ftp://127.0.0.1/x"} {
		r := call(t, http.MethodPost, "/v1/webhookSubscriptions", launcher.DemoAPIKey,
			map[string]any{"targetUri": bad, "eventTypes": []string{orderType}}, "Idempotency-Key: bad-"+strconv.Itoa(int(idem.Add(1))))
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", bad, r.Status, r.Raw)
		}
	}
	final := newReceiver(t, ok)
	final.setSecret("whsec_AAAA")
	redirect := newReceiver(t, func() (int, http.Header) {
		return http.StatusFound, http.Header{"Location": {final.URL()}}
	})
	name, secret := subscribe(t, launcher.DemoAPIKey, redirect.URL(), orderType)
	redirect.setSecret(secret)
	r := call(t, http.MethodPost, "/v1/"+name+":test", launcher.DemoAPIKey, map[string]any{"eventType": orderType})
	if r.Status != http.StatusOK || r.Body["success"] == true || r.str("httpStatusCode") != "302" {
		t.Fatalf("test delivery to a redirecting target: %d %s", r.Status, r.Raw)
	}
	if final.hits.Load() != 0 {
		t.Fatalf("the redirect was followed (%d hits)", final.hits.Load())
	}
	call(t, http.MethodDelete, "/v1/"+name, launcher.DemoAPIKey, nil)
}

// Scenario 2: the receiver answers 503 (with Retry-After) for a while,
// then recovers: every event arrives, in order per order, none lost;
// duplicates carry the same webhook-id.
func TestReceiverOutageRecovers(t *testing.T) {
	t.Parallel()
	outage := envDuration("TRANSLOAD_WEBHOOK_OUTAGE", 3*time.Second)
	until := time.Now().Add(outage)
	// Retry-After spreads the attempts so that the outage stays below the
	// mesh's WEBHOOK_DISABLE_AFTER (20): about four failures per order.
	retryAfter := strconv.Itoa(max(1, int((outage / 4).Seconds())))
	var failed atomic.Int64
	rcv := newReceiver(t, func() (int, http.Header) {
		if time.Now().Before(until) {
			failed.Add(1)
			return http.StatusServiceUnavailable, http.Header{"Retry-After": {retryAfter}}
		}
		return http.StatusOK, nil
	})
	_, secret := subscribe(t, launcher.DemoAPIKey, rcv.URL(), orderType)
	rcv.setSecret(secret)
	orders := []string{placeOrder(t, launcher.DemoAPIKey, "C0001", "SKU-00023"), placeOrder(t, launcher.DemoAPIKey, "C0002", "SKU-00023")}
	waitDelivered(t, rcv, outage+60*time.Second, orders...)
	if failed.Load() == 0 {
		t.Fatal("no attempt hit the outage: the test proves nothing")
	}
	for _, o := range orders {
		states, _ := rcv.orderStates(o)
		checkSequence(t, o, states)
	}
	t.Logf("%d attempts answered 503 during the %v outage", failed.Load(), outage)
}

// Scenario 3: the receiver is down past the failure threshold: the
// subscription is disabled and an exception raised; enabled again, the
// pending deliveries go out.
func TestDisabledThenEnabled(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, func() (int, http.Header) { return http.StatusInternalServerError, nil })
	name, secret := subscribe(t, launcher.DemoAPIKey, rcv.URL(), orderType)
	rcv.setSecret(secret)
	order := placeOrder(t, launcher.DemoAPIKey, "C0001", "SKU-00024")
	wait.Eventually(t, 60*time.Second, "subscription disabled", func() error {
		g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil)
		return wait.Check(g.str("state") == "STATE_DISABLED", "state %s", g.str("state"))
	})
	wait.Eventually(t, 30*time.Second, "exception on the desk", func() error {
		r := call(t, http.MethodGet, "/v1/ops/exceptions?filter="+urlQuery(`kind = KIND_WEBHOOK_DISABLED AND resource = "`+name+`"`),
			launcher.DemoOperatorAPIKey, nil)
		ex, _ := r.Body["exceptions"].([]any)
		return wait.Check(len(ex) == 1, "%d exceptions: %s", len(ex), r.Raw)
	})
	log := call(t, http.MethodGet, "/v1/"+name+"/deliveries", launcher.DemoAPIKey, nil)
	ds, _ := log.Body["webhookDeliveryRecords"].([]any)
	if len(ds) == 0 {
		t.Fatalf("empty delivery log: %s", log.Raw)
	}
	oldest, _ := ds[len(ds)-1].(map[string]any)
	attempts, _ := oldest["attempts"].([]any)
	if oldest["state"] != "STATE_PENDING" || len(attempts) == 0 || attempts[0].(map[string]any)["statusCode"] != float64(500) {
		t.Fatalf("the disabled subscription's oldest delivery: %v", oldest)
	}
	rcv.setStatus(ok)
	if r := call(t, http.MethodPost, "/v1/"+name+":enable", launcher.DemoAPIKey, map[string]any{}); r.Status != http.StatusOK || r.str("state") != "STATE_ACTIVE" {
		t.Fatalf("enable: %d %s", r.Status, r.Raw)
	}
	waitDelivered(t, rcv, 60*time.Second, order)
	states, _ := rcv.orderStates(order)
	checkSequence(t, order, states)
}

// Scenario 4: SIGKILL the notify process in the middle of a burst of
// orders: after the restart every event is delivered.
func TestNotifyKilledMidBurst(t *testing.T) {
	n := envInt("TRANSLOAD_WEBHOOK_BURST", 10)
	rcv := newReceiver(t, ok)
	_, secret := subscribe(t, launcher.DemoAPIKey, rcv.URL(), orderType)
	rcv.setSecret(secret)
	orders := make([]string, 0, n)
	for i := range n {
		orders = append(orders, placeOrder(t, launcher.DemoAPIKey, "C0001", fmt.Sprintf("SKU-%05d", 31+i%5)))
		if i == n/2 {
			mesh.Kill(launcher.Notify)
		}
	}
	if err := mesh.Restart(t.Context(), launcher.Notify); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, rcv, 120*time.Second, orders...)
	for _, o := range orders {
		states, _ := rcv.orderStates(o)
		checkSequence(t, o, states)
	}
}
