package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// The price propagation scenario (issue #11: "a price change published in
// the ERP simulator reaches the storefront quote within a bounded time
// (report p99)"). Each change starts in the ERP: erpsim's control API
// (POST /control/prices) records it as a price event; catalog-pricing
// follows the ERP's price feed (erp.v1 ListPriceEvents, polled every
// 200 ms) and imports it as a new price version; the storefront's REST
// quote and availability (which cache prices keyed by the price version)
// then show it. The clock starts at the control call, so the figure is the
// whole path ERP change → storefront.
const (
	priceSKU = "SKU-00499" // no other scenario orders or prices it
	// priceERPList is the ERP price list the storefront's anonymous quote
	// reads (catalog-pricing keeps the ERP's id).
	priceERPList = "PL-EUR"
	// priceGoal bounds the p99. Issue #11 asks for a bounded time without
	// a figure; this is issue #12's freshness budget for stock (ERP →
	// availability), the same path shape.
	priceGoal     = 500 * time.Millisecond
	priceDeadline = 15 * time.Second
	pricePoll     = 5 * time.Millisecond
)

// PriceResult is what measurePricePropagation saw: per price change, the
// time from the import call until both the quote and the availability
// answer showed the new price.
type PriceResult struct {
	N                   int
	P50, P99, Max       time.Duration
	QuoteP99, AvailP99  time.Duration
	Samples             []time.Duration
	QuoteReads, AvReads int
}

// String summarises the result with its verdict against priceGoal.
func (r PriceResult) String() string {
	verdict := "PASS"
	if r.P99 > priceGoal {
		verdict = "MISS"
	}
	return fmt.Sprintf("ERP price change (erpsim POST /control/prices) → storefront quote and availability (%s, %d changes, %d quote and %d availability reads): "+
		"p50 %s, p99 %s (quote %s, availability %s), max %s; goal p99 ≤ %s: %s.",
		priceSKU, r.N, r.QuoteReads, r.AvReads, r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond),
		r.QuoteP99.Round(time.Millisecond), r.AvailP99.Round(time.Millisecond), r.Max.Round(time.Millisecond), priceGoal, verdict)
}

// priceSetter applies list price amount (EUR cents) to priceSKU as the
// i-th change.
type priceSetter func(ctx context.Context, i int, amount int64) error

// measurePricePropagation runs the scenario on the mesh: n list price
// changes made in the ERP through erpsim's control API, the storefront
// read over REST; the original price is set back at the end.
func measurePricePropagation(ctx context.Context, m *launcher.Mesh, n int) (PriceResult, error) {
	erp := "http://" + m.Proc(launcher.ERPSim).AdminAddr
	set := func(ctx context.Context, _ int, amount int64) error {
		body := map[string]any{"listPrices": []map[string]any{{"priceListId": priceERPList, "sku": priceSKU, "unitPriceMinor": amount}}}
		return callJSON(ctx, http.MethodPost, erp+"/control/prices", "", "", body, nil)
	}
	return runPricePropagation(ctx, m.RESTURL(), set, n, priceDeadline)
}

// runPricePropagation makes n price changes with set (alternating the
// current price plus 1..7 cents and back), after each polling the
// storefront at base until its quote and its availability both show the
// new unit price; each wait is bounded by deadline. It ends on the price
// it started from.
func runPricePropagation(ctx context.Context, base string, set priceSetter, n int, deadline time.Duration) (PriceResult, error) {
	var res PriceResult
	if n < 1 {
		return res, fmt.Errorf("price propagation: n = %d, want at least 1", n)
	}
	orig, err := storefrontUnitPrice(ctx, base, "/v1/prices:quote")
	if err != nil {
		return res, fmt.Errorf("price propagation: %w", err)
	}
	var quoteSamples, availSamples []time.Duration
	for i := range n {
		want := orig + int64(1+i%7)
		if i%2 == 1 {
			want = orig
		}
		quoteAt, availAt, err := applyPrice(ctx, base, set, i, want, deadline, &res)
		if err != nil {
			return res, err
		}
		res.Samples = append(res.Samples, max(quoteAt, availAt))
		quoteSamples, availSamples = append(quoteSamples, quoteAt), append(availSamples, availAt)
		if err := sleepCtx(ctx, 100*time.Millisecond+time.Duration(i*379%1000)*time.Millisecond); err != nil {
			return res, err
		}
	}
	if n%2 == 1 { // back to the original price; not a sample
		if _, _, err := applyPrice(ctx, base, set, n, orig, deadline, &res); err != nil {
			return res, err
		}
	}
	sorted := slices.Sorted(slices.Values(res.Samples))
	res.N, res.P50, res.P99, res.Max = len(sorted), percentile(sorted, 50), percentile(sorted, 99), sorted[len(sorted)-1]
	res.QuoteP99 = percentile(slices.Sorted(slices.Values(quoteSamples)), 99)
	res.AvailP99 = percentile(slices.Sorted(slices.Values(availSamples)), 99)
	return res, nil
}

// applyPrice makes change i (want cents) with set and polls the storefront
// at base until the quote and the availability show it, returning when
// each did (counted from before the change).
func applyPrice(ctx context.Context, base string, set priceSetter, i int, want int64, deadline time.Duration, res *PriceResult) (quoteAt, availAt time.Duration, err error) {
	start := time.Now()
	if err := set(ctx, i, want); err != nil {
		return 0, 0, fmt.Errorf("price propagation: change %d: %w", i+1, err)
	}
	until := start.Add(deadline)
	views := []struct {
		path  string
		at    *time.Duration
		reads *int
	}{{"/v1/prices:quote", &quoteAt, &res.QuoteReads}, {"/v1/availability:check", &availAt, &res.AvReads}}
	for {
		for _, v := range views {
			if *v.at != 0 {
				continue
			}
			got, err := storefrontUnitPrice(ctx, base, v.path)
			*v.reads++
			if err != nil {
				return 0, 0, fmt.Errorf("price propagation: change %d: %w", i+1, err)
			}
			if got == want {
				*v.at = time.Since(start)
			}
		}
		if quoteAt != 0 && availAt != 0 {
			return quoteAt, availAt, nil
		}
		if time.Now().After(until) {
			return 0, 0, fmt.Errorf("price propagation: change %d (%s to %d cents): quote shows it %v, availability %v, after %s",
				i+1, priceSKU, want, quoteAt != 0, availAt != 0, deadline)
		}
		if err := sleepCtx(ctx, pricePoll); err != nil {
			return 0, 0, err
		}
	}
}

// storefrontUnitPrice reads priceSKU's unit price for one unit from the
// storefront's quote or availability (path), anonymous channel pricing.
func storefrontUnitPrice(ctx context.Context, base, path string) (int64, error) {
	req := map[string]any{"currencyCode": "EUR", "lines": []map[string]any{{"sku": priceSKU, "quantity": 1}}}
	if path == "/v1/availability:check" {
		req["shipTo"] = map[string]string{"regionCode": "DE", "postalCode": "20457"}
	}
	var resp struct {
		Lines []struct {
			UnitPrice struct {
				AmountMinor json.Number `json:"amountMinor"`
			} `json:"unitPrice"`
		} `json:"lines"`
	}
	if err := callJSON(ctx, http.MethodPost, base+path, launcher.DemoAPIKey, "", req, &resp); err != nil {
		return 0, fmt.Errorf("%s of %s: %w", path, priceSKU, err)
	}
	if len(resp.Lines) != 1 {
		return 0, fmt.Errorf("%s of %s: %d lines for 1", path, priceSKU, len(resp.Lines))
	}
	return quantity(resp.Lines[0].UnitPrice.AmountMinor)
}
