package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePricePath is a storefront whose quote shows a price set through set
// after quoteLag and whose availability shows it after availLag (never
// when negative).
type fakePricePath struct {
	quoteLag, availLag time.Duration

	mu           sync.Mutex
	quote, avail int64
	sets         []int64
}

func (f *fakePricePath) set(_ context.Context, _ int, amount int64) error {
	f.mu.Lock()
	f.sets = append(f.sets, amount)
	f.mu.Unlock()
	for _, x := range []struct {
		lag time.Duration
		p   *int64
	}{{f.quoteLag, &f.quote}, {f.availLag, &f.avail}} {
		if x.lag >= 0 {
			time.AfterFunc(x.lag, func() { f.mu.Lock(); *x.p = amount; f.mu.Unlock() })
		}
	}
	return nil
}

func (f *fakePricePath) server(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Lines []struct{ SKU string } `json:"lines"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Lines) != 1 || req.Lines[0].SKU != priceSKU {
			t.Errorf("%s: request %+v, %v", r.URL.Path, req, err)
		}
		f.mu.Lock()
		p := f.quote
		if strings.HasSuffix(r.URL.Path, "availability:check") {
			p = f.avail
		}
		f.mu.Unlock()
		fmt.Fprintf(w, `{"lines":[{"sku":%q,"unitPrice":{"currencyCode":"EUR","amountMinor":"%d"}}]}`, priceSKU, p)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestPricePropagationTimesBothViews: each sample waits for the slower of
// quote and availability, the changes alternate away from and back to the
// starting price, and an odd count ends with a restoring change that is
// not a sample.
func TestPricePropagationTimesBothViews(t *testing.T) {
	t.Parallel()
	f := &fakePricePath{quoteLag: 5 * time.Millisecond, availLag: 40 * time.Millisecond, quote: 1000, avail: 1000}
	res, err := runPricePropagation(t.Context(), f.server(t), f.set, 3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 3 || res.P99 < 40*time.Millisecond || res.QuoteP99 >= res.AvailP99 || res.P99 > 5*time.Second {
		t.Errorf("result %+v: want 3 samples, each at least the availability's 40ms lag", res)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []int64{1001, 1000, 1003, 1000}; fmt.Sprint(f.sets) != fmt.Sprint(want) {
		t.Errorf("prices set %v, want %v (back to 1000 at the end)", f.sets, want)
	}
	if !strings.Contains(res.String(), "PASS") {
		t.Errorf("a p99 of %s is within %s: %s", res.P99, priceGoal, res)
	}
}

// TestPricePropagationLostChangeFails: a price the availability never
// shows fails the scenario after the deadline instead of being a sample.
func TestPricePropagationLostChangeFails(t *testing.T) {
	t.Parallel()
	f := &fakePricePath{quoteLag: 0, availLag: -1, quote: 1000, avail: 1000}
	_, err := runPricePropagation(t.Context(), f.server(t), f.set, 2, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "availability false") {
		t.Errorf("err = %v, want the lost change named", err)
	}
	if r := (PriceResult{P99: 2 * priceGoal}); !strings.Contains(r.String(), "MISS") {
		t.Errorf("p99 above the goal: %s", r)
	}
}
