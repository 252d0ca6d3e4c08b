package pricing

import "time"

// ListFilter selects price lists (ListPriceLists); zero fields match all.
// The API layer builds it from the request's AIP-160 filter.
type ListFilter struct {
	Currency string
	// Channel selects lists of one channel; HasChannel with an empty
	// Channel selects the all-channel lists.
	Channel    string
	HasChannel bool
	// ActiveTime selects lists effective at that instant.
	ActiveTime time.Time
}

// PriceFilter selects entries of a price list (ListPrices); both fields
// may be set (both must match).
type PriceFilter struct {
	SKU       string // exact
	SKUPrefix string // sku:"DRL-*"
}
