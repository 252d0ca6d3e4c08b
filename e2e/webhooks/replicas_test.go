package webhooks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// placeRetrying places a one-line order as a storefront does: a 503 is
// retried with the same Idempotency-Key (for up to 60 s), and the body of
// every 503 answer is returned with the order's name.
func placeRetrying(t *testing.T, customer, sku string) (name string, unavailable []string) {
	t.Helper()
	key := fmt.Sprintf("Idempotency-Key: wh-rep-%d-%d", time.Now().UnixNano(), idem.Add(1))
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := call(t, http.MethodPost, "/v1/orders", launcher.DemoAPIKey, map[string]any{
			"customerId": customer, "currencyCode": "EUR",
			"shipTo": map[string]any{"recipient": "Demo GmbH", "lines": []string{"Hafenstr. 1"}, "locality": "Hamburg",
				"postalCode": "20457", "regionCode": "DE"},
			"lines": []map[string]any{{"sku": sku, "quantity": 1}},
		}, key)
		switch {
		case r.Status == http.StatusOK:
			return r.str("name"), unavailable
		case r.Status != http.StatusServiceUnavailable:
			t.Fatalf("place order: %d %s", r.Status, r.Raw)
		case time.Now().After(deadline):
			t.Fatalf("place order: still 503 after 60 s of retries: %s", r.Raw)
		}
		unavailable = append(unavailable, strings.TrimSpace(r.Raw))
		time.Sleep(200 * time.Millisecond)
	}
}

// Issue #13 on webhooks: an order replica is SIGKILLed in the middle of a
// burst of orders (on the single-process topology the order process,
// restarted before the rest of the burst; on the scale topology the
// second replica, restarted after the burst, so the rest is placed while
// only the first serves). Every order's webhooks still arrive once each
// (no webhook-id acknowledged twice) and in order, accepted to delivered.
// On the scale topology no order placed while the healthy replica serves
// is refused with CIRCUIT_OPEN: the gateway's breakers are per replica.
func TestOrderReplicaKilledMidBurst(t *testing.T) {
	n := envInt("TRANSLOAD_WEBHOOK_BURST", 6)
	rcv := newReceiver(t, ok)
	_, secret := subscribe(t, launcher.DemoAPIKey, rcv.URL(), orderType)
	rcv.setSecret(secret)
	replicas := mesh.Replicas(launcher.Order)
	victim := replicas[len(replicas)-1]
	survivor := len(replicas) > 1
	orders := make([]string, 0, n)
	var refusedOpen []string
	retried := 0
	for i := range n {
		if i == n/2 {
			mesh.Kill(victim)
			t.Logf("SIGKILLed %s after %d of %d orders", victim, i, n)
			if !survivor {
				if err := mesh.Restart(t.Context(), victim); err != nil {
					t.Fatal(err)
				}
			}
		}
		name, unavailable := placeRetrying(t, "C0001", fmt.Sprintf("SKU-%05d", 41+i%5))
		orders = append(orders, name)
		retried += len(unavailable)
		for _, reason := range unavailable {
			if survivor && i >= n/2 && strings.Contains(reason, "CIRCUIT_OPEN") {
				refusedOpen = append(refusedOpen, reason)
			}
		}
	}
	if survivor {
		if err := mesh.Restart(t.Context(), victim); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d orders placed, %d answers 503 retried with the same key", n, retried)
	if len(refusedOpen) > 0 {
		t.Errorf("%d answers 503 CIRCUIT_OPEN while %s served the orders: %v", len(refusedOpen), replicas[0], refusedOpen)
	}
	waitDelivered(t, rcv, 120*time.Second, orders...)
	for _, o := range orders {
		states, dups := rcv.orderStates(o)
		checkSequence(t, o, states)
		if len(dups) > 0 {
			t.Errorf("%s: webhook-ids acknowledged twice: %v", o, dups)
		}
	}
}
