package grpcapi

import (
	"errors"
	"strings"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// The filters of the four lists (AIP-160 through platform/aip): each is
// declared once here, parsed in the handler and handed to the domain as
// its typed filter. Page tokens are bound to the list, its filter and its
// parent or version reference (aip.Query).

// productFilter is ListProducts' filter: channel, status, category (with
// its sub-categories) and brand, joined by AND.
var productFilter = aip.Schema{
	{Name: "channel", Check: check(catalog.ValidChannel, "channel must be a channel code")},
	{Name: "status", Kind: aip.KindEnum, Enum: catalogv1.ProductStatus_value, EnumPrefix: "PRODUCT_STATUS_"},
	{Name: "category", Check: check(catalog.ValidCategory, "category must be a category path")},
	{Name: "brand", Check: check(func(s string) bool { return s != "" }, "brand must not be empty")},
}

// priceListFilter is ListPriceLists' filter; channel = "" selects the
// all-channel lists.
var priceListFilter = aip.Schema{
	{Name: "currency_code", Check: check(validCurrency, "currency_code must be an ISO 4217 code")},
	{Name: "channel", Check: check(func(s string) bool { return s == "" || catalog.ValidChannel(s) },
		`channel must be a channel code or ""`)},
	{Name: "active_time", Kind: aip.KindTime},
}

// priceFilter is ListPrices' filter: sku = "X" or the prefix sku:"PREFIX*".
var priceFilter = aip.Schema{
	{Name: "sku", Ops: []aip.Op{aip.OpEq, aip.OpHas}, Check: func(t aip.Term) error {
		if _, ok := skuPrefix(t.Value.Text); t.Op == aip.OpHas && !ok {
			return errors.New(`a prefix filter is sku:"PREFIX*"`)
		}
		return nil
	}},
}

// check makes a Field.Check from a predicate on the value as written.
func check(ok func(string) bool, msg string) func(aip.Term) error {
	return func(t aip.Term) error {
		if !ok(t.Value.Text) {
			return errors.New(msg)
		}
		return nil
	}
}

func validCurrency(s string) bool { return len(s) == 3 && strings.ToUpper(s) == s }

// skuPrefix returns the prefix of the value of a `sku:"PREFIX*"` term: one
// trailing wildcard after a non-empty prefix.
func skuPrefix(value string) (string, bool) {
	prefix, ok := strings.CutSuffix(value, "*")
	return prefix, ok && prefix != "" && !strings.Contains(prefix, "*")
}

// parseProductFilter reads ListProducts' filter. Errors are
// *aip.FilterError.
func parseProductFilter(s string) (catalog.Filter, error) {
	return parse(productFilter, s, func(f aip.Filter) catalog.Filter {
		out := catalog.Filter{Channel: text(f, "channel"), Category: text(f, "category"), Brand: text(f, "brand")}
		if v, ok := f.Find("status", aip.OpEq); ok {
			out.Status = statusFromProto(catalogv1.ProductStatus(v.Enum))
		}
		return out
	})
}

// parsePriceListFilter reads ListPriceLists' filter. Errors are
// *aip.FilterError.
func parsePriceListFilter(s string) (pricing.ListFilter, error) {
	return parse(priceListFilter, s, func(f aip.Filter) pricing.ListFilter {
		out := pricing.ListFilter{Currency: text(f, "currency_code")}
		if v, ok := f.Find("channel", aip.OpEq); ok {
			out.Channel, out.HasChannel = v.Text, true
		}
		if v, ok := f.Find("active_time", aip.OpEq); ok {
			out.ActiveTime = v.Time
		}
		return out
	})
}

// parsePriceFilter reads ListPrices' filter. Errors are *aip.FilterError.
func parsePriceFilter(s string) (pricing.PriceFilter, error) {
	return parse(priceFilter, s, func(f aip.Filter) pricing.PriceFilter {
		out := pricing.PriceFilter{SKU: text(f, "sku")}
		if v, ok := f.Find("sku", aip.OpHas); ok {
			out.SKUPrefix, _ = skuPrefix(v.Text)
		}
		return out
	})
}

// parse parses filter against schema and reads the result into the
// domain's filter F.
func parse[F any](schema aip.Schema, filter string, read func(aip.Filter) F) (F, error) {
	f, err := schema.Parse(filter)
	if err != nil {
		var zero F
		return zero, err
	}
	return read(f), nil
}

// text returns the value of the `field = value` term of f, "" if none.
func text(f aip.Filter, field string) string {
	v, _ := f.Find(field, aip.OpEq)
	return v.Text
}

// pageSize is the number of items a list returns for page_size.
func pageSize(requested int32) int {
	return int(aip.ClampPageSize(requested, aip.DefaultPageSize, aip.MaxPageSize))
}

// keysetList is a list ordered by one unique key K of its items T: it
// decodes the page token of q (the key to continue after, zero on the
// first page), asks list for one item more than the page holds, and
// returns the page and the next token.
func keysetList[T any, K aip.KeyValue](q aip.Query, token string, size int32, key func(T) K,
	list func(after K, limit int) ([]T, error)) ([]T, string, error) {
	var after K
	if err := aip.DecodePageToken(token, q, &after); err != nil {
		return nil, "", err
	}
	n := pageSize(size)
	items, err := list(after, n+1)
	if err != nil {
		return nil, "", err
	}
	page, next := aip.KeysetPage(items, n, q, func(x T) []aip.Key { return []aip.Key{aip.KeyOf(key(x))} })
	return page, next, nil
}

// errOtherVersion rejects a page token whose version the request's
// catalog_version cannot continue on (only a forged token has one).
var errOtherVersion = &aip.PageTokenError{Msg: "page token is for another catalog version"}
