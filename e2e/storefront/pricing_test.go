package storefront

import (
	"net/http"
	"testing"

	"github.com/transload/transload/deploy/local/launcher"
)

// pricedLine is the price part of an availability, quote or order line.
type pricedLine struct {
	unit, extended int64
	kind           string
}

func pricedLines(t *testing.T, r response, what string) map[string]pricedLine {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", what, r.Status, r.Raw)
	}
	out := map[string]pricedLine{}
	ls, _ := r.Body["lines"].([]any)
	for _, l := range ls {
		m := l.(map[string]any)
		unit, _ := m["unitPrice"].(map[string]any)
		ext, _ := m["extendedPrice"].(map[string]any)
		kind := ""
		for _, k := range []string{"priceExplanation", "winningRule"} {
			if e, ok := m[k].(map[string]any); ok {
				kind, _ = e["ruleKind"].(string)
			}
		}
		out[m["sku"].(string)] = pricedLine{unit: toInt(t, unit["amountMinor"]), extended: toInt(t, ext["amountMinor"]), kind: kind}
	}
	return out
}

// TestContractPricing: the demo ERP's contract of C0002 (SKU-00001..05 at
// 80 % of list, SKU-00006..10 15 % off) reaches the storefront through
// the catalog's ERP sync: C0002 sees its contract price, explained as a
// customer contract, in availability, in the quote and in the placed
// order; C0003 (no contract) sees list prices for the same lines.
func TestContractPricing(t *testing.T) {
	skus := []string{"SKU-00001", "SKU-00006"}
	lines := []line{{skus[0], 2}, {skus[1], 1}}
	avail := func(customer string) map[string]pricedLine {
		return pricedLines(t, call(t, http.MethodPost, "/v1/availability:check", launcher.DemoAPIKey, map[string]any{
			"customerId": customer, "currencyCode": "EUR", "lines": linesJSON(lines),
			"shipTo": map[string]any{"regionCode": "DE", "postalCode": "20457"},
		}), "availability "+customer)
	}
	quote := func(customer string) map[string]pricedLine {
		return pricedLines(t, call(t, http.MethodPost, "/v1/prices:quote", launcher.DemoAPIKey, map[string]any{
			"customerId": customer, "currencyCode": "EUR", "lines": linesJSON(lines),
		}), "quote "+customer)
	}
	list := quote("C0003")
	for _, s := range skus {
		if list[s].kind != "RULE_KIND_LIST_PRICE" || list[s].unit <= 0 {
			t.Fatalf("C0003 %s = %+v; want the list price", s, list[s])
		}
	}
	want := map[string]int64{
		skus[0]: list[skus[0]].unit * 8 / 10,                               // fixed contract price, 80 % of list
		skus[1]: list[skus[1]].unit - (list[skus[1]].unit*1500+5000)/10000, // 15 % off list, rounded half up
	}
	check := func(what string, got map[string]pricedLine) {
		t.Helper()
		for i, s := range skus {
			g := got[s]
			if g.unit != want[s] || g.extended != want[s]*int64(lines[i].Qty) || g.kind != "RULE_KIND_CUSTOMER_CONTRACT" {
				t.Errorf("%s %s = %+v; want contract price %d", what, s, g, want[s])
			}
		}
	}
	check("availability C0002", avail("C0002"))
	check("quote C0002", quote("C0002"))
	for s, g := range avail("C0003") {
		if g.unit != list[s].unit || g.kind != "RULE_KIND_LIST_PRICE" {
			t.Errorf("availability C0003 %s = %+v; want list %d", s, g, list[s].unit)
		}
	}
	r := placeOrder(t, launcher.DemoAPIKey, "e2e-contract-1", orderBody("C0002", lines...))
	check("order C0002", pricedLines(t, r, "order"))
	if total := toInt(t, r.Body["total"].(map[string]any)["amountMinor"]); total < want[skus[0]]*2+want[skus[1]] {
		t.Errorf("order total %d below its lines", total)
	}
}

// TestPromotionCodeInAvailability: the demo coupon WELCOME10 (10 % off,
// stackable, once per customer) entered in an availability check lowers
// C0004's list prices by 10 %; an unknown code comes back as a code issue
// of the answer, not as a failed request or line.
func TestPromotionCodeInAvailability(t *testing.T) {
	lines := []line{{"SKU-00051", 1}, {"SKU-00052", 3}}
	check := func(codes ...string) response {
		return call(t, http.MethodPost, "/v1/availability:check", launcher.DemoAPIKey, map[string]any{
			"customerId": "C0004", "currencyCode": "EUR", "lines": linesJSON(lines), "promotionCodes": codes,
			"shipTo": map[string]any{"regionCode": "DE", "postalCode": "20457"},
		})
	}
	plain := pricedLines(t, check(), "availability without codes")
	r := check("welcome10", "NOPE")
	coded := pricedLines(t, r, "availability with codes")
	for _, l := range lines {
		p, c := plain[l.SKU], coded[l.SKU]
		if want := p.unit - (p.unit*1000+5000)/10000; c.unit != want || c.kind != "RULE_KIND_PROMOTION" || c.extended != want*int64(l.Qty) {
			t.Errorf("%s with WELCOME10 = %+v; want %d (list %d − 10 %%)", l.SKU, c, want, p.unit)
		}
	}
	issues, _ := r.Body["promotionCodeIssues"].([]any)
	if len(issues) != 1 || issues[0].(map[string]any)["code"] != "NOPE" || issues[0].(map[string]any)["reason"] != "REASON_UNKNOWN" {
		t.Errorf("code issues = %v; want NOPE unknown", r.Body["promotionCodeIssues"])
	}
	// Without the code again: list prices (no promotion price was cached
	// under the code-free key).
	if again := pricedLines(t, check(), "availability without codes again"); again["SKU-00051"].unit != plain["SKU-00051"].unit {
		t.Errorf("availability after the coded one = %+v; want list %d", again["SKU-00051"], plain["SKU-00051"].unit)
	}
}
