package storefront

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// TestContractChangeReachesTheQuote: a customer contract changed in the
// ERP (erpsim POST /control/prices, a contract row) travels through the
// ERP's price change feed to catalog-pricing and reaches the storefront
// quote of that customer, and of no other, without a restart or a full
// sync. C0014 and C0015 are used by no other test; the contract is ended
// again at cleanup.
func TestContractChangeReachesTheQuote(t *testing.T) {
	const (
		customer, other = "C0014", "C0015"
		sku             = "SKU-00421"
		contractID      = "CTR-E2E-FEED-C0014"
	)
	lines := []line{{sku, 3}}
	quote := func(c string) pricedLine {
		return pricedLines(t, call(t, http.MethodPost, "/v1/prices:quote", launcher.DemoAPIKey, map[string]any{
			"customerId": c, "currencyCode": "EUR", "lines": linesJSON(lines),
		}), "quote "+c)[sku]
	}
	list := quote(other)
	if list.kind != "RULE_KIND_LIST_PRICE" || list.unit <= 1 {
		t.Fatalf("%s %s = %+v; want a list price", other, sku, list)
	}
	contract := func(end time.Time) map[string]any {
		c := map[string]any{"contractId": contractID, "customerId": customer, "displayName": "e2e feed contract",
			"startTime": "2026-01-01T00:00:00Z", "prices": []map[string]any{{"sku": sku, "unitPriceMinor": list.unit * 7 / 10}}}
		if !end.IsZero() {
			c["endTime"] = end.UTC().Format(time.RFC3339Nano)
		}
		return map[string]any{"contracts": []map[string]any{c}}
	}
	control(t, launcher.ERPSim, "/control/prices", contract(time.Time{}))
	t.Cleanup(func() {
		// End the contract: its window closes now, so C0014 pays list again.
		control(t, launcher.ERPSim, "/control/prices", contract(time.Now()))
	})
	want := list.unit * 7 / 10
	wait.Eventually(t, 20*time.Second, customer+" sees the contract price", func() error {
		got := quote(customer)
		if got.unit != want || got.extended != want*3 || got.kind != "RULE_KIND_CUSTOMER_CONTRACT" {
			return fmt.Errorf("%s %s = %+v; want contract price %d", customer, sku, got, want)
		}
		return nil
	})
	if got := quote(other); got != list {
		t.Errorf("%s %s = %+v after %s's contract; want the list price %+v", other, sku, got, customer, list)
	}
}
