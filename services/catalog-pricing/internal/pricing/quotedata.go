package pricing

import (
	"context"
	"strings"
	"sync"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// quoteDataMax bounds each map of quoteData; past it the map starts over.
const quoteDataMax = 50_000

// quoteData keeps what computing a quote reads from the database, for the
// current catalog and price versions only: the products of catalog
// version cv (published versions are immutable) and the price lists and
// entries read at price version pv (every pricing change increments it).
// A quote at another version starts the maps over, so a publication or a
// price change is never answered from memory. Before it, a 20-line quote
// made three database reads besides the versions (lists, products,
// prices), about half of a computed quote's CPU in BenchmarkQuote. Values
// are shared and read-only.
type quoteData struct {
	mu       sync.Mutex
	cv, pv   int64
	products map[string]catalog.Product
	lists    map[string][]PriceList
	// prices: entries by lists key + "\x00" + SKU; an empty slice records
	// that the SKU has no entry in those lists.
	prices map[string][]Price
}

// atCatalog returns the products map for cv, starting over at a new
// version. Call with mu held.
func (d *quoteData) atCatalog(cv int64) {
	if d.cv != cv || d.products == nil || len(d.products) > quoteDataMax {
		d.cv, d.products = cv, map[string]catalog.Product{}
	}
}

// atPrice starts the price maps over at a new price version. Call with mu
// held.
func (d *quoteData) atPrice(pv int64) {
	if d.pv != pv || d.lists == nil || len(d.prices) > quoteDataMax || len(d.lists) > quoteDataMax {
		d.pv, d.lists, d.prices = pv, map[string][]PriceList{}, map[string][]Price{}
	}
}

// productsAt returns the products of catalog version cv with the given
// SKUs, reading only the ones not yet in memory.
func (d *quoteData) productsAt(ctx context.Context, cat Catalog, cv int64, skus []string) (map[string]catalog.Product, error) {
	out := make(map[string]catalog.Product, len(skus))
	var missing []string
	d.mu.Lock()
	d.atCatalog(cv)
	for _, s := range skus {
		if p, ok := d.products[s]; ok {
			out[s] = p
		} else {
			missing = append(missing, s)
		}
	}
	d.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	read, err := cat.Products(ctx, cv, missing)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.atCatalog(cv)
	for s, p := range read {
		out[s] = p
		d.products[s] = p
	}
	d.mu.Unlock()
	return out, nil
}

// quoteListsAt returns Store.QuoteLists(currency, channel) as read at
// price version pv.
func (d *quoteData) quoteListsAt(ctx context.Context, st Store, pv int64, currency, channel string) ([]PriceList, error) {
	key := currency + "\x00" + channel
	d.mu.Lock()
	d.atPrice(pv)
	ls, ok := d.lists[key]
	d.mu.Unlock()
	if ok {
		return ls, nil
	}
	ls, err := st.QuoteLists(ctx, currency, channel)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.atPrice(pv)
	d.lists[key] = ls
	d.mu.Unlock()
	return ls, nil
}

// pricesAt returns the entries of lists ids for skus by SKU, as read at
// price version pv, reading only the SKUs not yet in memory.
func (d *quoteData) pricesAt(ctx context.Context, st Store, pv int64, ids, skus []string) (map[string][]Price, error) {
	prefix := strings.Join(ids, ",") + "\x00"
	out := make(map[string][]Price, len(skus))
	var missing []string
	d.mu.Lock()
	d.atPrice(pv)
	for _, s := range skus {
		if ps, ok := d.prices[prefix+s]; ok {
			out[s] = ps
		} else {
			missing = append(missing, s)
		}
	}
	d.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	read, err := st.PricesFor(ctx, ids, missing)
	if err != nil {
		return nil, err
	}
	got := make(map[string][]Price, len(missing))
	for _, s := range missing {
		got[s] = []Price{}
	}
	for _, p := range read {
		got[p.SKU] = append(got[p.SKU], p)
	}
	d.mu.Lock()
	d.atPrice(pv)
	for s, ps := range got {
		out[s] = ps
		d.prices[prefix+s] = ps
	}
	d.mu.Unlock()
	return out, nil
}
