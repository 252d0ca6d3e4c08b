package pricing

import (
	"testing"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

func TestRejectRow(t *testing.T) {
	list := PriceList{ID: "PL-EUR", Currency: "EUR"}
	ok := PriceRow{RowNumber: 1, SKU: "A-1", UnitMinor: 1000, Currency: "EUR",
		Breaks: []Break{{MinQuantity: 10, UnitMinor: 900}}, BreakCurrencies: []string{"EUR"}}
	cases := []struct {
		name                         string
		mutate                       func(*PriceRow)
		rowSeen, skuSeen, notInDraft bool
		reason                       catalog.RowReason
		field                        string
	}{
		{name: "valid", mutate: func(*PriceRow) {}},
		{name: "row number again", mutate: func(*PriceRow) {}, rowSeen: true, reason: catalog.ReasonRowInvalid, field: "row_number"},
		{name: "bad sku", mutate: func(r *PriceRow) { r.SKU = "a b" }, reason: catalog.ReasonRowInvalid, field: "sku"},
		{name: "sku again", mutate: func(*PriceRow) {}, skuSeen: true, reason: catalog.ReasonRowInvalid, field: "sku"},
		{name: "currency", mutate: func(r *PriceRow) { r.Currency = "USD" }, reason: catalog.ReasonCurrencyMismatch, field: "unit_price.currency_code"},
		{name: "negative", mutate: func(r *PriceRow) { r.UnitMinor = -1 }, reason: catalog.ReasonRowInvalid, field: "unit_price.amount_minor"},
		{name: "too many breaks", mutate: func(r *PriceRow) { r.Breaks = make([]Break, 21) }, reason: catalog.ReasonRowInvalid, field: "quantity_breaks"},
		{name: "not in the draft", mutate: func(*PriceRow) {}, notInDraft: true, reason: catalog.ReasonProductNotFound, field: "sku"},
		{name: "break currency", mutate: func(r *PriceRow) { r.BreakCurrencies = []string{"USD"} },
			reason: catalog.ReasonCurrencyMismatch, field: "quantity_breaks[0].unit_price.currency_code"},
		{name: "break above the price", mutate: func(r *PriceRow) { r.Breaks = []Break{{MinQuantity: 10, UnitMinor: 1100}} },
			reason: catalog.ReasonInvalidQuantityBreaks, field: "quantity_breaks[0]"},
		{name: "first problem wins", mutate: func(r *PriceRow) { r.Currency, r.UnitMinor = "USD", -1 },
			reason: catalog.ReasonCurrencyMismatch, field: "unit_price.currency_code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ok
			c.mutate(&r)
			reason, field, msg := rejectRow(r, list, c.rowSeen, c.skuSeen, !c.notInDraft)
			if reason != c.reason || field != c.field || (reason != catalog.ReasonNone) != (msg != "") {
				t.Fatalf("rejectRow = %d %q %q, want %d %q", reason, field, msg, c.reason, c.field)
			}
		})
	}
}
