package pricing

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// ListFilter selects price lists (ListPriceLists); zero fields match all.
type ListFilter struct {
	Currency string
	// Channel selects lists of one channel; HasChannel with an empty
	// Channel selects the all-channel lists.
	Channel    string
	HasChannel bool
	// ActiveTime selects lists effective at that instant.
	ActiveTime time.Time
}

// PriceFilter selects entries of a price list (ListPrices).
type PriceFilter struct {
	SKU       string // exact
	SKUPrefix string // sku:"DRL-*"
}

var (
	listTerm  = regexp.MustCompile(`^\s*([a-z_]+)\s*=\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.:+-]+)\s*$`)
	priceTerm = regexp.MustCompile(`^\s*sku\s*(=|:)\s*"((?:[^"\\]|\\.)*)"\s*$`)
)

func filterError(msg string) error {
	return &catalog.FieldError{Field: "filter", Message: msg}
}

// ParseListFilter parses `currency_code = "EUR" AND channel = "web" AND
// active_time = "2026-11-27T00:00:00Z"` (any subset). Errors are
// *catalog.FieldError on field "filter".
func ParseListFilter(s string) (ListFilter, error) {
	var f ListFilter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	seen := map[string]bool{}
	for _, term := range strings.Split(s, " AND ") {
		m := listTerm.FindStringSubmatch(term)
		if m == nil {
			return ListFilter{}, filterError(fmt.Sprintf("cannot parse term %q; use field = value joined with AND", strings.TrimSpace(term)))
		}
		field, value := m[1], m[2]
		if strings.HasPrefix(value, `"`) {
			v, err := strconv.Unquote(value)
			if err != nil {
				return ListFilter{}, filterError("bad quoted value " + value)
			}
			value = v
		}
		if seen[field] {
			return ListFilter{}, filterError("field " + field + " appears twice")
		}
		seen[field] = true
		switch field {
		case "currency_code":
			if len(value) != 3 || strings.ToUpper(value) != value {
				return ListFilter{}, filterError("currency_code must be an ISO 4217 code")
			}
			f.Currency = value
		case "channel":
			if value != "" && !catalog.ValidChannel(value) {
				return ListFilter{}, filterError("channel must be a channel code or \"\"")
			}
			f.Channel, f.HasChannel = value, true
		case "active_time":
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return ListFilter{}, filterError("active_time must be an RFC 3339 time")
			}
			f.ActiveTime = t.UTC()
		default:
			return ListFilter{}, filterError("unknown field " + field + "; use currency_code, channel or active_time")
		}
	}
	return f, nil
}

// ParsePriceFilter parses `sku = "X"` or `sku:"PREFIX*"`.
func ParsePriceFilter(s string) (PriceFilter, error) {
	if strings.TrimSpace(s) == "" {
		return PriceFilter{}, nil
	}
	m := priceTerm.FindStringSubmatch(s)
	if m == nil {
		return PriceFilter{}, filterError(`use sku = "SKU" or sku:"PREFIX*"`)
	}
	v, err := strconv.Unquote(`"` + m[2] + `"`)
	if err != nil {
		return PriceFilter{}, filterError("bad quoted value")
	}
	if m[1] == "=" {
		return PriceFilter{SKU: v}, nil
	}
	prefix, ok := strings.CutSuffix(v, "*")
	if !ok || prefix == "" || strings.Contains(prefix, "*") {
		return PriceFilter{}, filterError(`a prefix filter is sku:"PREFIX*"`)
	}
	return PriceFilter{SKUPrefix: prefix}, nil
}
