package storefront

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// The suite runs on one process per service and, with TRANSLOAD_E2E_SCALE=1,
// on issue #13's scale topology (two replicas of catalog-pricing, inventory,
// order, fulfillment and the gateway). A test that takes a service down or
// changes its configuration does it to every replica through these helpers
// (mesh.Replicas lists one process outside the scale topology), so it means
// the same on both: a killed service has no replica left to answer, and a
// reconfigured one has no replica left running the old configuration.

// killAll sends SIGKILL to every replica of service and waits until each
// is gone.
func killAll(service string) {
	for _, name := range mesh.Replicas(service) {
		mesh.Kill(name)
	}
}

// restartAll kills every replica of service, then starts each again with
// env added to its environment (a later entry of a variable wins) and
// waits until each is ready. All are down before the first starts, so no
// replica with the old configuration runs beside one with the new (a
// scheduler lease or durable consumer is never held by the old one).
func restartAll(ctx context.Context, service string, env ...string) error {
	killAll(service)
	return startAll(ctx, service, env...)
}

// startAll starts every replica of service again after killAll, env
// added as restartAll adds it, and waits until each is ready.
func startAll(ctx context.Context, service string, env ...string) error {
	for _, name := range mesh.Replicas(service) {
		if err := mesh.Restart(ctx, name, env...); err != nil {
			return fmt.Errorf("restart %s: %w", name, err)
		}
	}
	return nil
}

// Issue #13: one Idempotency-Key sent concurrently through every gateway
// replica (one gateway outside the scale topology) creates one order and
// takes stock once; a retry through any gateway replays it.
func TestIdempotencyKeyAcrossGateways(t *testing.T) {
	const sku = "SKU-00061" // no other test orders it
	idem := fmt.Sprintf("e2e-idem-gw-%d", time.Now().UnixNano())
	body := orderBody("C0002", line{sku, 1})
	before := availability(t, "C0002", sku)[sku]
	gateways := mesh.RESTURLs()
	var wg sync.WaitGroup
	results := make([]response, 5*len(gateways))
	for i := range results {
		wg.Go(func() { results[i] = placeOrderVia(t, gateways[i%len(gateways)], idem, body) })
	}
	wg.Wait()
	names := map[string]bool{}
	for _, r := range results {
		switch {
		case r.Status == http.StatusOK:
			names[r.str("name")] = true
		case r.Status == http.StatusConflict && r.reason() == "ERROR_REASON_REQUEST_IN_PROGRESS":
			// a concurrent duplicate may be told to retry; it never creates an order
		default:
			t.Fatalf("create through %d gateways: %d %s", len(gateways), r.Status, r.Raw)
		}
	}
	if len(names) != 1 {
		t.Fatalf("%d concurrent creates with one key through %d gateways made %d orders: %v", len(results), len(gateways), len(names), names)
	}
	for _, gw := range gateways {
		again := placeOrderVia(t, gw, idem, body)
		if again.Status != http.StatusOK || !names[again.str("name")] || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay through %s: %d replayed=%q %s", gw, again.Status, again.Header.Get("Idempotent-Replayed"), again.Raw)
		}
	}
	wait.Eventually(t, 10*time.Second, "one unit of "+sku+" taken", func() error {
		after := availability(t, "C0002", sku)[sku]
		return wait.Check(after == before-1, "available %d, was %d before", after, before)
	})
}

// placeOrderVia posts an order with an Idempotency-Key to the gateway at
// base (one of mesh.RESTURLs; call and placeOrder use the first).
func placeOrderVia(t *testing.T, base, idem string, body map[string]any) response {
	t.Helper()
	buf, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/v1/orders", bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+launcher.DemoAPIKey)
	req.Header.Set("Idempotency-Key", idem)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s/v1/orders: %v", base, err)
	}
	defer resp.Body.Close()
	r := response{Status: resp.StatusCode, Header: resp.Header}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.Raw = string(raw)
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		t.Fatalf("POST %s/v1/orders: status %d, body is not JSON: %q", base, resp.StatusCode, raw)
	}
	return r
}
