package control_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/erpsim/internal/control"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
	"github.com/transload/transload/services/erpsim/internal/store/sqlstore"
)

// newPriceHandler serves the control API over a real seeded simulator.
func newPriceHandler(t *testing.T) (*control.Handler, *erp.Service) {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	svc := erp.NewService(sqlstore.New(db))
	if _, err := svc.SeedDemo(t.Context()); err != nil {
		t.Fatal(err)
	}
	return control.New(faults.New(), svc, slog.New(slog.NewTextHandler(io.Discard, nil))), svc
}

// TestPricesChangeTheExportAndFeed: POST /control/prices sets the list
// price the price export reads and records one numbered event per row.
func TestPricesChangeTheExportAndFeed(t *testing.T) {
	h, svc := newPriceHandler(t)
	sku := erp.SKU(3)
	code, body := do(t, h, http.MethodPost, "/control/prices",
		`{"listPrices":[{"priceListId":"`+erp.PriceListStandard+`","sku":"`+sku+`","unitPriceMinor":4321}]}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /control/prices = %d %v", code, body)
	}
	evs, _ := body["priceEvents"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["sourceSequence"].(float64) != 1 || evs[0].(map[string]any)["unit"] != "EA" {
		t.Fatalf("priceEvents = %v", body["priceEvents"])
	}
	exp, err := svc.Prices(t.Context(), []string{erp.PriceListStandard})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, lp := range exp.ListPrices {
		if lp.SKU == sku {
			found = lp.UnitPriceMinor == 4321
		}
	}
	if !found {
		t.Errorf("the export does not show the new price of %s", sku)
	}
	feed, head, err := svc.PriceEvents(t.Context(), 0, 10)
	if err != nil || head != 1 || len(feed) != 1 || feed[0].Price.UnitPriceMinor != 4321 {
		t.Errorf("PriceEvents = %+v head %d, %v", feed, head, err)
	}
}

// TestPricesRejectsBadInput: every bad body is a 400 and records nothing.
func TestPricesRejectsBadInput(t *testing.T) {
	h, svc := newPriceHandler(t)
	std := erp.PriceListStandard
	for name, body := range map[string]string{
		"not JSON":           `{`,
		"unknown field":      `{"prices":[]}`,
		"no rows":            `{"listPrices":[]}`,
		"unknown price list": `{"listPrices":[{"priceListId":"NOPE","sku":"SKU-00001","unitPriceMinor":1}]}`,
		"unknown SKU":        `{"listPrices":[{"priceListId":"` + std + `","sku":"SKU-X","unitPriceMinor":1}]}`,
		"negative price":     `{"listPrices":[{"priceListId":"` + std + `","sku":"SKU-00001","unitPriceMinor":-1}]}`,
		"missing sku":        `{"listPrices":[{"priceListId":"` + std + `","unitPriceMinor":1}]}`,
		"duplicate row": `{"listPrices":[{"priceListId":"` + std + `","sku":"SKU-00001","unitPriceMinor":1},` +
			`{"priceListId":"` + std + `","sku":"SKU-00001","unitPriceMinor":2}]}`,
		"one bad row of two": `{"listPrices":[{"priceListId":"` + std + `","sku":"SKU-00001","unitPriceMinor":1},` +
			`{"priceListId":"` + std + `","sku":"SKU-X","unitPriceMinor":2}]}`,
	} {
		if code, got := do(t, h, http.MethodPost, "/control/prices", body); code != http.StatusBadRequest || got["error"] == "" {
			t.Errorf("%s: = %d %v, want 400 with an error", name, code, got)
		}
	}
	if evs, head, err := svc.PriceEvents(t.Context(), 0, 10); err != nil || head != 0 || len(evs) != 0 {
		t.Errorf("bad requests recorded events: %+v head %d, %v", evs, head, err)
	}
}

// TestPricesContracts: a contract row replaces the ERP's contract and is
// one price event carrying the contract; every bad contract is a 400 that
// names the field and records nothing.
func TestPricesContracts(t *testing.T) {
	h, svc := newPriceHandler(t)
	cust := erp.CustomerID(14)
	row := func(prices string) string {
		return `{"contracts":[{"contractId":"CTR-T","customerId":"` + cust + `","startTime":"2026-01-01T00:00:00Z","prices":[` + prices + `]}]}`
	}
	for name, tc := range map[string]struct{ body, field string }{
		"unknown customer": {`{"contracts":[{"contractId":"CTR-T","customerId":"C9999","prices":[{"sku":"SKU-00001","unitPriceMinor":1}]}]}`, "contracts[0].customerId"},
		"no contract id":   {`{"contracts":[{"customerId":"` + cust + `","prices":[{"sku":"SKU-00001","unitPriceMinor":1}]}]}`, "contracts[0].contractId"},
		"no prices":        {row(``), "contracts[0].prices"},
		"unknown SKU":      {row(`{"sku":"SKU-X","unitPriceMinor":1}`), "contracts[0].prices[0].sku"},
		"neither":          {row(`{"sku":"SKU-00001"}`), "contracts[0].prices[0].unitPriceMinor"},
		"both":             {row(`{"sku":"SKU-00001","unitPriceMinor":5,"discountBasisPoints":5}`), "contracts[0].prices[0]"},
		"discount > 100 %": {row(`{"sku":"SKU-00001","discountBasisPoints":10001}`), "contracts[0].prices[0].discountBasisPoints"},
		"duplicate SKU":    {row(`{"sku":"SKU-00001","unitPriceMinor":1},{"sku":"SKU-00001","unitPriceMinor":2}`), "contracts[0].prices[1].sku"},
		"end before start": {`{"contracts":[{"contractId":"CTR-T","customerId":"` + cust + `","startTime":"2026-02-01T00:00:00Z","endTime":"2026-01-01T00:00:00Z","prices":[{"sku":"SKU-00001","unitPriceMinor":1}]}]}`, "contracts[0].endTime"},
	} {
		code, got := do(t, h, http.MethodPost, "/control/prices", tc.body)
		if code != http.StatusBadRequest || got["field"] != tc.field || got["error"] == "" {
			t.Errorf("%s: = %d %v, want 400 on field %s", name, code, got, tc.field)
		}
	}
	if evs, head, err := svc.PriceEvents(t.Context(), 0, 10); err != nil || head != 0 || len(evs) != 0 {
		t.Fatalf("bad requests recorded events: %+v head %d, %v", evs, head, err)
	}

	code, body := do(t, h, http.MethodPost, "/control/prices", row(`{"sku":"SKU-00001","unitPriceMinor":777},{"sku":"SKU-00002","discountBasisPoints":300}`))
	if code != http.StatusCreated {
		t.Fatalf("POST /control/prices = %d %v", code, body)
	}
	evs, _ := body["priceEvents"].([]any)
	if len(evs) != 1 {
		t.Fatalf("priceEvents = %v", body["priceEvents"])
	}
	c, _ := evs[0].(map[string]any)["contract"].(map[string]any)
	if c["contractId"] != "CTR-T" || c["customerId"] != cust || len(c["prices"].([]any)) != 2 {
		t.Errorf("contract event = %v", evs[0])
	}
	all, err := svc.Contracts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got *erp.Contract
	for i := range all {
		if all[i].ID == "CTR-T" {
			got = &all[i]
		}
	}
	if got == nil || got.CustomerID != cust || got.Prices[0].UnitPriceMinor != 777 || got.Prices[1].DiscountBps != 300 || got.Prices[1].UoM != "EA" {
		t.Errorf("stored contract = %+v", got)
	}
}
