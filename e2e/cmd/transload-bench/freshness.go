package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// The freshness scenario moves the stock of one SKU in one warehouse that
// no other scenario orders (orderSKUs, drainSKUs), so what it waits for is
// its own change.
const (
	freshnessSKU       = "SKU-00401"
	freshnessWarehouse = "WH-BER"
	// freshnessDeadline bounds each wait; a change not visible by then
	// fails the scenario (a lost change is not a slow sample).
	freshnessDeadline = 15 * time.Second
	// freshnessPoll is the pause between availability reads while waiting.
	freshnessPoll = 5 * time.Millisecond
)

// FreshnessResult is what measureFreshness saw: per stock change, the time
// from the ERP call recording it until the storefront's availability
// showed the new quantity.
type FreshnessResult struct {
	N             int
	P50, P99, Max time.Duration
	// Samples are the delays in the order measured.
	Samples        []time.Duration
	SKU, Warehouse string
	// Reads counts the availability calls made while waiting.
	Reads int
}

// String summarises the result in one line.
func (f FreshnessResult) String() string {
	return fmt.Sprintf("ERP stock change → storefront availability (%s@%s, %d changes, %d availability reads): p50 %s, p99 %s, max %s",
		f.SKU, f.Warehouse, f.N, f.Reads, f.P50.Round(time.Millisecond), f.P99.Round(time.Millisecond), f.Max.Round(time.Millisecond))
}

// measureFreshness records n stock changes in the ERP simulator through
// its control API (POST /control/stock-events on its admin port),
// alternating a receipt of q units with an adjustment of −q so stock stays
// put, and after each polls the storefront's REST availability (with the
// warehouse breakdown) every few milliseconds until freshnessWarehouse
// shows the new quantity. The clock starts before the ERP call, so a
// sample is an upper bound. It works whether inventory polls the ERP feed
// or the ERP pushes; each wait ends after freshnessDeadline with an error.
// Between changes it pauses 0.1–1.1 s (a fixed spread) so that with a
// polling adapter the changes land at different points of the interval.
func measureFreshness(ctx context.Context, m *launcher.Mesh, n int) (FreshnessResult, error) {
	return runFreshness(ctx, m.RESTURL(), "http://"+m.Proc(launcher.ERPSim).AdminAddr, n, freshnessDeadline)
}

// runFreshness is measureFreshness against the storefront at base and the
// ERP control API at erp, each wait bounded by deadline.
func runFreshness(ctx context.Context, base, erp string, n int, deadline time.Duration) (FreshnessResult, error) {
	res := FreshnessResult{SKU: freshnessSKU, Warehouse: freshnessWarehouse}
	if n < 1 {
		return res, fmt.Errorf("freshness: n = %d, want at least 1", n)
	}
	cur, err := warehouseAvailable(ctx, base, freshnessSKU, freshnessWarehouse)
	if err != nil {
		return res, fmt.Errorf("freshness: %w", err)
	}
	for i := range n {
		q := int64(1 + i%7)
		ev := map[string]any{"sku": freshnessSKU, "warehouseCode": freshnessWarehouse,
			"kind": "RECEIPT", "quantity": q, "reference": fmt.Sprintf("bench-freshness-%d", i)}
		if i%2 == 1 && cur >= q {
			ev["kind"], ev["quantity"], ev["reasonCode"] = "ADJUSTMENT", -q, "CYCLE_COUNT"
			q = -q
		}
		want := cur + q
		start := time.Now()
		if err := callJSON(ctx, http.MethodPost, erp+"/control/stock-events", "", "", ev, nil); err != nil {
			return res, fmt.Errorf("freshness: record stock change %d in the ERP: %w", i+1, err)
		}
		until := start.Add(deadline)
		for {
			got, err := warehouseAvailable(ctx, base, freshnessSKU, freshnessWarehouse)
			res.Reads++
			if err != nil {
				return res, fmt.Errorf("freshness: change %d: %w", i+1, err)
			}
			if got == want {
				res.Samples = append(res.Samples, time.Since(start))
				break
			}
			if time.Now().After(until) {
				return res, fmt.Errorf("freshness: change %d (%+d of %s@%s in the ERP): availability still %d after %s, want %d",
					i+1, q, freshnessSKU, freshnessWarehouse, got, deadline, want)
			}
			if err := sleepCtx(ctx, freshnessPoll); err != nil {
				return res, err
			}
		}
		cur = want
		if i < n-1 {
			if err := sleepCtx(ctx, 100*time.Millisecond+time.Duration(i*379%1000)*time.Millisecond); err != nil {
				return res, err
			}
		}
	}
	sorted := slices.Sorted(slices.Values(res.Samples))
	res.N, res.P50, res.P99, res.Max = len(sorted), percentile(sorted, 50), percentile(sorted, 99), sorted[len(sorted)-1]
	return res, nil
}

// warehouseAvailable reads the available quantity of sku in warehouse wh
// from the storefront (POST /v1/availability:check with the warehouse
// breakdown); a warehouse the answer leaves out has none.
func warehouseAvailable(ctx context.Context, base, sku, wh string) (int64, error) {
	req := map[string]any{
		"currencyCode":              "EUR",
		"shipTo":                    map[string]string{"regionCode": "DE", "postalCode": "20457"},
		"lines":                     []map[string]any{{"sku": sku, "quantity": 1}},
		"includeWarehouseBreakdown": true,
	}
	var resp struct {
		Lines []struct {
			Warehouses []struct {
				Warehouse         string      `json:"warehouse"`
				AvailableQuantity json.Number `json:"availableQuantity"`
			} `json:"warehouses"`
		} `json:"lines"`
	}
	if err := callJSON(ctx, http.MethodPost, base+"/v1/availability:check", launcher.DemoAPIKey, "", req, &resp); err != nil {
		return 0, fmt.Errorf("availability of %s: %w", sku, err)
	}
	if len(resp.Lines) != 1 {
		return 0, fmt.Errorf("availability of %s: %d lines for 1", sku, len(resp.Lines))
	}
	for _, w := range resp.Lines[0].Warehouses {
		if w.Warehouse != wh {
			continue
		}
		return quantity(w.AvailableQuantity)
	}
	return 0, nil
}

// quantity reads an int64 of a REST answer: protojson writes it as a
// string and leaves it out when zero.
func quantity(n json.Number) (int64, error) {
	if n == "" {
		return 0, nil
	}
	return n.Int64()
}

// callJSON sends in (if not nil) as JSON with method to url, with the API
// key as bearer token and the idempotency key when set, and decodes a 2xx
// answer into out (if not nil). Any other status is an error quoting the
// answer. The call is bounded by client's timeout and ctx.
func callJSON(ctx context.Context, method, url, apiKey, idem string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %.300s", method, url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, url, err)
	}
	return nil
}

// sleepCtx pauses for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
