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
