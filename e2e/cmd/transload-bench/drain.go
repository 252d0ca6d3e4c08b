package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"

	"github.com/transload/transload/deploy/local/launcher"
)

const (
	// drainWorkers place the backlog's orders concurrently.
	drainWorkers = 16
	// drainSKUCount is how many SKUs the backlog's single-line orders
	// spread over (the cheapest of erpsim's price list, so ten thousand
	// orders stay within the demo customers' credit).
	drainSKUCount = 16
	// The pause between reads of the ERP queue depth is a fortieth of the
	// time waited so far, within these bounds, so the drain time is read
	// to within 2.5 % + drainPollMin while a long drain is not slowed by
	// the probe (each read costs the order service a queue scan).
	drainPollMin = 50 * time.Millisecond
	drainPollMax = 500 * time.Millisecond
	// drainSettle bounds the waits before the outage: for the queue other
	// scenarios left to empty and for topped-up stock to show.
	drainSettle = 5 * time.Minute
)

// DrainResult is what measureBacklogDrain saw.
type DrainResult struct {
	// Orders were placed (accepted pending the ERP) while the ERP was
	// down; PlaceErrors failed, the first with FirstPlaceError.
	Orders          int
	PlaceErrors     int
	FirstPlaceError string
	// Placement is the time to place them at drainWorkers concurrency.
	Placement time.Duration
	// QueuedAtUp is the ERP queue depth when the ERP came back.
	QueuedAtUp int64
	// Drain is the time from the ERP coming back until the queue was
	// empty; Rate is Orders / Drain. FirstOut is the time until the
	// first entry left the queue (the worker's retry backoff and the
	// breaker's open time), so Drain − FirstOut is the sending itself.
	// Both are read to within 2.5 % + drainPollMin.
	Drain, FirstOut time.Duration
	Rate            float64
	// StatusReads counts the GetErpQueueStatus calls during the drain
	// (the probe competes with the drain for the order service) and
	// StatusTime sums their latency.
	StatusReads int
	StatusTime  time.Duration
	// Confirmed and Rejected count the ERP's outcome of the placed orders
	// (GET /control/sales-orders); Resubmitted those that reached the ERP
	// more than once (idempotent, so still one sales order each).
	Confirmed, Rejected, Resubmitted int
}

// String summarises the result in one paragraph.
func (d DrainResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d orders queued while the ERP was down, placed in %s (%.0f orders/s at c=%d",
		d.Orders, d.Placement.Round(time.Millisecond), float64(d.Orders)/max(d.Placement.Seconds(), 1e-9), drainWorkers)
	if d.PlaceErrors > 0 {
		fmt.Fprintf(&b, ", %d failed, first: %s", d.PlaceErrors, d.FirstPlaceError)
	}
	fmt.Fprintf(&b, "); ERP queue depth %d when the ERP came back, empty %s later: %.0f orders/s (the first entry left after %s",
		d.QueuedAtUp, d.Drain.Round(time.Millisecond), d.Rate, d.FirstOut.Round(time.Millisecond))
	if send := d.Drain - d.FirstOut; send > 0 {
		fmt.Fprintf(&b, ", then %.0f orders/s", float64(d.Orders)/send.Seconds())
	}
	fmt.Fprintf(&b, "); the ERP confirmed %d and rejected %d", d.Confirmed, d.Rejected)
	if d.Resubmitted > 0 {
		fmt.Fprintf(&b, "; %d reached it more than once", d.Resubmitted)
	}
	if d.StatusReads > 0 {
		fmt.Fprintf(&b, "; %d queue status reads, %s each on average", d.StatusReads, (d.StatusTime / time.Duration(d.StatusReads)).Round(10*time.Microsecond))
	}
	return b.String()
}

// measureBacklogDrain measures how fast a backlog built during an ERP
// outage drains once the ERP is back:
//
//  1. with the ERP up, waits until the ERP queue is empty (what other
//     scenarios left) and tops up the stock of drainSKUs through ERP
//     receipts if n orders would not fit, waiting until the storefront
//     shows it;
//  2. takes the ERP down (control API, fault down) and places n
//     single-line orders through REST at drainWorkers concurrency; they
//     are accepted pending the ERP and queue for it;
//  3. brings the ERP back and reads the ERP queue depth from the order
//     service (GetErpQueueStatus; an entry leaves the queue once the ERP
//     answered it), more often early than late, until it is zero: Drain
//     and Rate;
//  4. checks with the ERP (GET /control/sales-orders) that every placed
//     order reached it, counting confirmed and rejected; a placed order
//     the ERP never got is an error.
//
// The ERP is brought back on every return path. The wait for the empty
// queue is bounded by 2 min + 50 ms per order (a timeout is an error).
func measureBacklogDrain(ctx context.Context, m *launcher.Mesh, n int) (DrainResult, error) {
	var res DrainResult
	if n < 1 {
		return res, fmt.Errorf("drain: n = %d, want at least 1", n)
	}
	base := m.RESTURL()
	erp := "http://" + m.Proc(launcher.ERPSim).AdminAddr
	conn, err := m.Dial(launcher.Order)
	if err != nil {
		return res, fmt.Errorf("drain: %w", err)
	}
	defer conn.Close()
	orders := orderv1.NewOrderServiceClient(conn)
	depth := func() (int64, error) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		t0 := time.Now()
		st, err := orders.GetErpQueueStatus(cctx, &orderv1.GetErpQueueStatusRequest{})
		if err != nil {
			return 0, fmt.Errorf("ERP queue status: %w", err)
		}
		res.StatusReads++
		res.StatusTime += time.Since(t0)
		return st.GetDepth(), nil
	}
	setDown := func(ctx context.Context, down bool) error {
		return callJSON(ctx, http.MethodPost, erp+"/control/faults", "", "", map[string]bool{"down": down}, nil)
	}

	if err := setDown(ctx, false); err != nil {
		return res, fmt.Errorf("drain: bring the ERP up: %w", err)
	}
	if _, _, err := waitDepthZero(ctx, depth, drainSettle); err != nil {
		return res, fmt.Errorf("drain: before the outage: %w", err)
	}
	skus := drainSKUs()
	if err := topUpStock(ctx, base, erp, skus, int64(n/len(skus)+1)); err != nil {
		return res, fmt.Errorf("drain: %w", err)
	}

	if err := setDown(ctx, true); err != nil {
		return res, fmt.Errorf("drain: take the ERP down: %w", err)
	}
	up := false
	defer func() {
		if !up {
			// Whatever failed, leave the mesh with its ERP.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = setDown(cctx, false)
		}
	}()
	start := time.Now()
	ids, errs, firstErr := placeBacklog(ctx, base, skus, n)
	res.Placement = time.Since(start)
	res.Orders, res.PlaceErrors = len(ids), errs
	if firstErr != nil {
		res.FirstPlaceError = firstErr.Error()
	}
	if len(ids) == 0 {
		return res, fmt.Errorf("drain: no order placed while the ERP was down (%d failed, first: %w)", errs, firstErr)
	}
	if res.QueuedAtUp, err = depth(); err != nil {
		return res, fmt.Errorf("drain: %w", err)
	}
	if res.QueuedAtUp < int64(len(ids)) {
		return res, fmt.Errorf("drain: %d orders placed while the ERP was down but the ERP queue holds %d", len(ids), res.QueuedAtUp)
	}

	res.StatusReads, res.StatusTime = 0, 0 // count the drain's reads only
	upAt := time.Now()
	if err := setDown(ctx, false); err != nil {
		return res, fmt.Errorf("drain: bring the ERP back: %w", err)
	}
	up = true
	firstOut, empty, err := waitDepthZero(ctx, depth, 2*time.Minute+time.Duration(n)*50*time.Millisecond)
	if err != nil {
		return res, fmt.Errorf("drain: after the outage: %w", err)
	}
	// Both from just before the ERP came back.
	res.FirstOut, res.Drain = firstOut.Sub(upAt), empty.Sub(upAt)
	res.Rate = float64(len(ids)) / res.Drain.Seconds()

	var so struct {
		Orders []struct {
			OrderID     string `json:"orderId"`
			State       string `json:"state"`
			Submissions int    `json:"submissions"`
		} `json:"orders"`
	}
	if err := callJSON(ctx, http.MethodGet, erp+"/control/sales-orders", "", "", nil, &so); err != nil {
		return res, fmt.Errorf("drain: read the ERP's sales orders: %w", err)
	}
	byID := make(map[string]int, len(so.Orders))
	for i, o := range so.Orders {
		byID[o.OrderID] = i
	}
	var missing []string
	for _, id := range ids {
		i, ok := byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		o := so.Orders[i]
		if o.State == "STATE_REJECTED" {
			res.Rejected++
		} else {
			res.Confirmed++
		}
		if o.Submissions > 1 {
			res.Resubmitted++
		}
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("drain: the ERP queue is empty but the ERP never received %d of the %d orders, e.g. %s",
			len(missing), len(ids), strings.Join(missing[:min(5, len(missing))], ", "))
	}
	return res, nil
}

// waitDepthZero reads the ERP queue depth until it is zero, pausing a
// fortieth of the time waited so far (drainPollMin..drainPollMax),
// and returns the time of the first read below the first one (zero if
// none) and of the read that saw zero; after timeout it fails naming the
// depth.
func waitDepthZero(ctx context.Context, depth func() (int64, error), timeout time.Duration) (firstOut, empty time.Time, err error) {
	start := time.Now()
	initial := int64(-1)
	for {
		d, err := depth()
		if err != nil {
			return firstOut, empty, err
		}
		now := time.Now()
		if initial < 0 {
			initial = d
		} else if d < initial && firstOut.IsZero() {
			firstOut = now
		}
		if d == 0 {
			if firstOut.IsZero() {
				firstOut = now
			}
			return firstOut, now, nil
		}
		if now.Sub(start) > timeout {
			return firstOut, empty, fmt.Errorf("ERP queue still holds %d entries after %s", d, timeout)
		}
		if err := sleepCtx(ctx, min(max(now.Sub(start)/40, drainPollMin), drainPollMax)); err != nil {
			return firstOut, empty, err
		}
	}
}

// drainSKUs are the drainSKUCount cheapest SKUs of erpsim's price list
// PL-EUR (999 + ((n × 7919) mod 500) × 100 cents for SKU-n), without
// SKU-00500 (10 units, kept for the oversell test) and freshnessSKU.
func drainSKUs() []string {
	type sku struct {
		name  string
		price int
	}
	var all []sku
	for n := 1; n < 500; n++ {
		s := fmt.Sprintf("SKU-%05d", n)
		if s == freshnessSKU {
			continue
		}
		all = append(all, sku{s, 999 + (n*7919)%500*100})
	}
	slices.SortFunc(all, func(a, b sku) int { return cmp.Or(cmp.Compare(a.price, b.price), strings.Compare(a.name, b.name)) })
	out := make([]string, drainSKUCount)
	for i := range out {
		out[i] = all[i].name
	}
	return out
}

// topUpStock makes sure the storefront shows at least need units of every
// sku: for each short one it records an ERP receipt of the difference (plus
// a margin) in WH-HAM and waits until availability shows it.
func topUpStock(ctx context.Context, base, erp string, skus []string, need int64) error {
	short := func() (map[string]int64, error) {
		lines := make([]map[string]any, len(skus))
		for i, s := range skus {
			lines[i] = map[string]any{"sku": s, "quantity": 1}
		}
		var resp struct {
			Lines []struct {
				SKU               string      `json:"sku"`
				AvailableQuantity json.Number `json:"availableQuantity"`
			} `json:"lines"`
		}
		req := map[string]any{"currencyCode": "EUR", "shipTo": map[string]string{"regionCode": "DE", "postalCode": "20457"}, "lines": lines}
		if err := callJSON(ctx, http.MethodPost, base+"/v1/availability:check", launcher.DemoAPIKey, "", req, &resp); err != nil {
			return nil, fmt.Errorf("availability: %w", err)
		}
		out := map[string]int64{}
		for _, l := range resp.Lines {
			got, err := quantity(l.AvailableQuantity)
			if err != nil {
				return nil, fmt.Errorf("availability of %s: %w", l.SKU, err)
			}
			if got < need {
				out[l.SKU] = need - got
			}
		}
		return out, nil
	}
	missing, err := short()
	if err != nil {
		return err
	}
	for _, s := range slices.Sorted(maps.Keys(missing)) {
		ev := map[string]any{"sku": s, "warehouseCode": "WH-HAM", "kind": "RECEIPT", "quantity": missing[s] + 50, "reference": "bench-drain-topup"}
		if err := callJSON(ctx, http.MethodPost, erp+"/control/stock-events", "", "", ev, nil); err != nil {
			return fmt.Errorf("top up %s: %w", s, err)
		}
	}
	deadline := time.Now().Add(drainSettle)
	for len(missing) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("stock topped up in the ERP but the storefront still shows too little of %d SKUs after %s", len(missing), drainSettle)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
		if missing, err = short(); err != nil {
			return err
		}
	}
	return nil
}

// placeBacklog places n single-line orders of one unit through REST at
// drainWorkers concurrency, customers C0001..C0010 and skus in turn, and
// returns the ids of the accepted ones and the failures.
func placeBacklog(ctx context.Context, base string, skus []string, n int) (ids []string, errs int, first error) {
	run := time.Now().UnixNano()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range drainWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := map[string]any{
					"customerId": fmt.Sprintf("C%04d", 1+i%10), "currencyCode": "EUR",
					"shipTo": map[string]any{"recipient": "Bench", "lines": []string{"1 Bench St"}, "locality": "Hamburg", "postalCode": "20457", "regionCode": "DE"},
					"lines":  []map[string]any{{"sku": skus[i%len(skus)], "quantity": 1}},
				}
				var out struct {
					Name string `json:"name"`
				}
				err := callJSON(ctx, http.MethodPost, base+"/v1/orders", launcher.DemoAPIKey, fmt.Sprintf("bench-drain-%d-%d", run, i), body, &out)
				if err == nil && !strings.HasPrefix(out.Name, "orders/") {
					err = fmt.Errorf("order %d: answer without an order name", i)
				}
				mu.Lock()
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				} else {
					ids = append(ids, strings.TrimPrefix(out.Name, "orders/"))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return ids, errs, first
}
