package erpsync

import (
	"context"
	"errors"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// Errors a Source returns (wrapped with detail). The importer retries the
// first two and reports the third.
var (
	// ErrUnavailable: the ERP could not be reached, was too slow, was
	// throttling or its breaker is open; retry later.
	ErrUnavailable = errors.New("erp unavailable")
	// ErrIncomplete: an export stream ended without its trailer or with
	// another item count than announced; it must not be imported.
	ErrIncomplete = errors.New("erp export incomplete")
	// ErrRejected: the ERP refused the request (a permanent answer).
	ErrRejected = errors.New("erp rejected the request")
)

// CatalogExport is a complete product export, already in the catalog's
// terms.
type CatalogExport struct {
	ExportID string
	Products []catalog.Product
}

// PriceExport is a complete list price export: the price lists (one per
// ERP list and channel) and the rows of each, keyed by price list id.
type PriceExport struct {
	ExportID string
	Lists    []pricing.PriceList
	Rows     map[string][]pricing.PriceRow
	// Skipped counts ERP list prices the importer cannot represent yet
	// (own channel or validity window differing from their list's).
	Skipped int
	// ListsByERP maps each ERP price list id to the price lists it became
	// (one per channel); nil means each list's id is the ERP's.
	ListsByERP map[string][]string
	// Contracts, ChannelRules and Promotions are the export's pricing
	// rules in the pricing domain's terms; RulesSkipped counts ERP rules
	// the engine cannot represent (customer-restricted promotions, fixed
	// promotional prices, base price list overrides).
	Contracts    []pricing.Contract
	ChannelRules []pricing.ChannelRule
	Promotions   []pricing.Promotion
	RulesSkipped int
}

// Source is where exports come from; erpclient.Client implements it.
// Both methods read one whole export and return it only when it is
// complete. Their errors wrap ErrUnavailable, ErrIncomplete or
// ErrRejected, or are ctx's own error when the caller's context ended.
type Source interface {
	FetchCatalog(ctx context.Context) (CatalogExport, error)
	FetchPrices(ctx context.Context) (PriceExport, error)
}

// erpListMap is pe.ListsByERP, or each list to itself when the source does
// not say.
func erpListMap(pe PriceExport) map[string][]string {
	if pe.ListsByERP != nil {
		return pe.ListsByERP
	}
	m := make(map[string][]string, len(pe.Lists))
	for _, l := range pe.Lists {
		m[l.ID] = []string{l.ID}
	}
	return m
}
