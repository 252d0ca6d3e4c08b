package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// fakeStockPath is an ERP control API and a storefront over one stock
// figure: a change recorded in the ERP shows in availability after lag
// (never when lag < 0).
type fakeStockPath struct {
	t      *testing.T
	lag    time.Duration
	refuse bool

	mu      sync.Mutex
	stock   int64
	changes []string
}

func (f *fakeStockPath) servers() (base, erp string) {
	erpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/control/stock-events" {
			http.NotFound(w, r)
			return
		}
		if f.refuse {
			http.Error(w, `{"error":"unknown SKU"}`, http.StatusBadRequest)
			return
		}
		var ev struct {
			SKU, WarehouseCode, Kind string
			Quantity                 int64
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.SKU != freshnessSKU || ev.WarehouseCode != freshnessWarehouse {
			f.t.Errorf("stock event %+v, %v", ev, err)
		}
		f.mu.Lock()
		f.changes = append(f.changes, fmt.Sprintf("%s %+d", ev.Kind, ev.Quantity))
		f.mu.Unlock()
		if f.lag >= 0 {
			time.AfterFunc(f.lag, func() {
				f.mu.Lock()
				f.stock += ev.Quantity
				f.mu.Unlock()
			})
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{}`)
	}))
	f.t.Cleanup(erpSrv.Close)
	rest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/availability:check" || r.Header.Get("Authorization") != "Bearer "+launcher.DemoAPIKey {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		n := f.stock
		f.mu.Unlock()
		ber := fmt.Sprintf(`{"warehouse":%q,"availableQuantity":"%d"}`, freshnessWarehouse, n)
		if n == 0 {
			ber = fmt.Sprintf(`{"warehouse":%q}`, freshnessWarehouse) // protojson leaves out zero
		}
		fmt.Fprintf(w, `{"lines":[{"sku":%q,"availableQuantity":"999","warehouses":[{"warehouse":"WH-HAM","availableQuantity":"900"},%s]}]}`, freshnessSKU, ber)
	}))
	f.t.Cleanup(rest.Close)
	return rest.URL, erpSrv.URL
}

func TestRunFreshness(t *testing.T) {
	t.Parallel()
	f := &fakeStockPath{t: t, lag: 40 * time.Millisecond, stock: 20}
	base, erp := f.servers()
	got, err := runFreshness(t.Context(), base, erp, 3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 3 || len(got.Samples) != 3 {
		t.Fatalf("%d samples: %v", got.N, got)
	}
	for _, s := range got.Samples {
		if s < f.lag {
			t.Errorf("sample %s shorter than the path's lag %s: the wait did not wait for the change", s, f.lag)
		}
	}
	if got.Max < got.P99 || got.P99 < got.P50 || got.Reads < 3 {
		t.Errorf("figures out of order: %v", got)
	}
	if want := "RECEIPT +1,ADJUSTMENT -2,RECEIPT +3"; strings.Join(f.changes, ",") != want {
		t.Errorf("ERP changes %q, want %q", f.changes, want)
	}
	if !strings.Contains(got.String(), "3 changes") {
		t.Errorf("String() = %q", got.String())
	}
}

// TestRunFreshnessFromZero: a warehouse at zero is left out of the
// answer's quantity, and an adjustment below zero is never asked for.
func TestRunFreshnessFromZero(t *testing.T) {
	t.Parallel()
	f := &fakeStockPath{t: t}
	base, erp := f.servers()
	if _, err := runFreshness(t.Context(), base, erp, 2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if want := "RECEIPT +1,RECEIPT +2"; strings.Join(f.changes, ",") != want {
		t.Errorf("ERP changes %q, want %q", f.changes, want)
	}
}

func TestRunFreshnessErrors(t *testing.T) {
	t.Parallel()
	t.Run("a change that never shows is an error, not a sample", func(t *testing.T) {
		t.Parallel()
		f := &fakeStockPath{t: t, lag: -1, stock: 20}
		base, erp := f.servers()
		_, err := runFreshness(t.Context(), base, erp, 2, 150*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "availability still 20 after 150ms, want 21") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the ERP refusing the change", func(t *testing.T) {
		t.Parallel()
		f := &fakeStockPath{t: t, refuse: true}
		base, erp := f.servers()
		_, err := runFreshness(t.Context(), base, erp, 1, time.Second)
		if err == nil || !strings.Contains(err.Error(), "status 400") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("n below one", func(t *testing.T) {
		t.Parallel()
		if _, err := runFreshness(t.Context(), "http://127.0.0.1:1", "http://127.0.0.1:1", 0, time.Second); err == nil {
			t.Fatal("n = 0 is no error")
		}
	})
}
