package erp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDemoSeedIdentities(t *testing.T) {
	t.Parallel()
	s := DemoSeed()
	if diff := cmp.Diff(s, DemoSeed()); diff != "" {
		t.Fatalf("DemoSeed is not deterministic:\n%s", diff)
	}
	if len(s.Customers) != 20 || s.Customers[0].ID != "C0001" || s.Customers[19].ID != "C0020" {
		t.Errorf("customers %s..%s (%d)", s.Customers[0].ID, s.Customers[len(s.Customers)-1].ID, len(s.Customers))
	}
	for i, c := range s.Customers {
		if !c.HasCreditLimit || c.CreditLimitMinor <= 0 || c.Currency != "EUR" {
			t.Errorf("%s has no credit limit in EUR", c.ID)
		}
		wantState := AccountActive
		if c.ID == "C0020" {
			wantState = AccountCreditHold
		}
		if c.State != wantState {
			t.Errorf("%s state %s, want %s", c.ID, c.State, wantState)
		}
		if i < 10 && (!c.AllowsChannel("web") || !c.AllowsChannel("b2b")) {
			t.Errorf("%s must be allowed on web and b2b, has %v", c.ID, c.AllowedChannels)
		}
	}
	if len(s.Products) != 500 || s.Products[0].SKU != "SKU-00001" || s.Products[499].SKU != "SKU-00500" {
		t.Errorf("products %d", len(s.Products))
	}
	gtins := map[string]bool{}
	for _, p := range s.Products {
		if p.UoM != "EA" || p.Title == "" || p.Category == "" || len(p.Attributes) == 0 || gtins[p.GTIN] {
			t.Errorf("product %+v incomplete or GTIN reused", p)
		}
		gtins[p.GTIN] = true
		if !validEAN13(p.GTIN) {
			t.Errorf("GTIN %s of %s has a wrong check digit", p.GTIN, p.SKU)
		}
	}
	totals := map[string]int64{}
	for _, r := range s.Stock {
		totals[r.SKU] += r.OnHand
		if r.SKU != ScarceSKU && r.OnHand < 200 {
			t.Errorf("%s in %s has %d, want hundreds", r.SKU, r.WarehouseCode, r.OnHand)
		}
	}
	if totals[ScarceSKU] != 10 || len(totals) != 500 || len(s.Stock) != 1500 {
		t.Errorf("%s totals %d over %d rows", ScarceSKU, totals[ScarceSKU], len(s.Stock))
	}
	var codes []string
	for i, w := range s.Warehouses {
		codes = append(codes, w.Code)
		if w.Priority != i+1 || len(w.Channels) != 2 || !w.Active {
			t.Errorf("warehouse %+v", w)
		}
	}
	if diff := cmp.Diff([]string{"WH-HAM", "WH-MUC", "WH-BER"}, codes); diff != "" {
		t.Errorf("warehouses (-want +got):\n%s", diff)
	}
	for _, lp := range s.ListPrices {
		if lp.UnitPriceMinor < 100 || lp.UoM != "EA" {
			t.Errorf("list price %+v", lp)
		}
	}
}

func validEAN13(s string) bool {
	if len(s) != 13 {
		return false
	}
	sum := 0
	for i, r := range s[:12] {
		d := int(r - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return int(s[12]-'0') == (10-sum%10)%10
}

func TestPrices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n             int
		standard, b2b int64
	}{
		{1, 999 + 419*100, (999 + 419*100) * 9 / 10},
		{500, 999, 899},
	}
	for _, tt := range tests {
		if got := StandardPriceMinor(tt.n); got != tt.standard {
			t.Errorf("StandardPriceMinor(%d) = %d, want %d", tt.n, got, tt.standard)
		}
		if got := B2BPriceMinor(tt.n); got != tt.b2b {
			t.Errorf("B2BPriceMinor(%d) = %d, want %d", tt.n, got, tt.b2b)
		}
	}
}
