// Package catalog is the catalog domain of the catalog-pricing service:
// products, the working catalog ("draft") that imports write to, and the
// immutable, numbered catalog versions that PublishCatalog freezes it into.
// It knows nothing of gRPC, SQL or the ERP; those are adapters around it.
package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/transload/transload/platform/fingerprint"
)

// Status is the lifecycle status of a product.
type Status int

// Product statuses; only StatusActive products are sellable.
const (
	StatusUnspecified Status = iota
	StatusDraft
	StatusActive
	StatusOnHold
	StatusDiscontinued
)

var statusNames = map[Status]string{
	StatusDraft:        "DRAFT",
	StatusActive:       "ACTIVE",
	StatusOnHold:       "ON_HOLD",
	StatusDiscontinued: "DISCONTINUED",
}

// String returns the status name without prefix, e.g. "ACTIVE".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "UNSPECIFIED"
}

// ParseStatus parses a status name as String renders it.
func ParseStatus(name string) (Status, bool) {
	for s, n := range statusNames {
		if n == name {
			return s, true
		}
	}
	return StatusUnspecified, false
}

// Attribute is one key/value attribute of a product.
type Attribute struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Product is one sellable item, identified by its SKU. Etag and UpdateTime
// are maintained by the service.
type Product struct {
	SKU         string      `json:"sku"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Attributes  []Attribute `json:"attributes,omitempty"`
	Brand       string      `json:"brand,omitempty"`
	Category    string      `json:"category,omitempty"`
	BaseUnit    string      `json:"base_unit"`
	PackSize    int64       `json:"pack_size"`
	Status      Status      `json:"status"`
	Channels    []string    `json:"channels,omitempty"`
	WeightGrams int64       `json:"weight_grams,omitempty"`
	GTIN        string      `json:"gtin,omitempty"`

	// Etag is the checksum of the content fields above.
	Etag string `json:"etag,omitempty"`
	// UpdateTime is when the product last changed in the working catalog.
	UpdateTime time.Time `json:"update_time"`
}

// SellableIn reports whether the product may be sold in channel: ACTIVE and
// listed in the channel.
func (p Product) SellableIn(channel string) bool {
	return p.Status == StatusActive && slices.Contains(p.Channels, channel)
}

// Sellable reports whether the product is ACTIVE and listed in at least one
// channel (CatalogVersion.sellable_product_count).
func (p Product) Sellable() bool {
	return p.Status == StatusActive && len(p.Channels) > 0
}

// InCategory reports whether the product's category is cat or below it.
func (p Product) InCategory(cat string) bool {
	return p.Category == cat || strings.HasPrefix(p.Category, cat+"/")
}

// ComputeEtag returns the checksum of the product's content: every field
// except Etag and UpdateTime, so re-importing identical content is detected
// as unchanged.
func (p Product) ComputeEtag() string {
	c := p
	c.Etag = ""
	c.UpdateTime = time.Time{}
	if c.PackSize == 0 {
		c.PackSize = 1
	}
	// The first 128 bits of the fingerprint: the etag clients hold and the
	// stores keep have always been 32 hex digits.
	return fingerprint.Of(c)[:32]
}

// Normalize fills server-maintained defaults (pack size 1) and the etag.
func (p *Product) Normalize() {
	if p.PackSize == 0 {
		p.PackSize = 1
	}
	p.Etag = p.ComputeEtag()
}

// Field validation patterns, mirroring the constraints declared on
// transload.catalog.v1.Product; import rows are exempt from request
// validation so each row is checked here and rejected on its own.
var (
	skuPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	attrKeyPattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	categoryPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)
	baseUnitPattern  = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,15}$`)
	channelPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	gtinPattern      = regexp.MustCompile(`^[0-9]{8,14}$`)
	maxPackSize      = int64(1_000_000)
	maxAttributes    = 200
	maxChannels      = 50
	maxTitleLen      = 200
	maxDescLen       = 10000
	maxBrandLen      = 100
	maxCategoryLen   = 200
	maxAttrValueLen  = 1000
	fieldPrefix      = "product."
	fieldAttrPattern = fieldPrefix + "attributes[%d].%s"
)

// ValidSKU reports whether sku is a well-formed SKU.
func ValidSKU(sku string) bool { return skuPattern.MatchString(sku) }

// ValidChannel reports whether ch is a well-formed channel code.
func ValidChannel(ch string) bool { return channelPattern.MatchString(ch) }

// ValidCategory reports whether cat is a well-formed category path.
func ValidCategory(cat string) bool { return categoryPattern.MatchString(cat) }

// Validate checks the product's fields and returns the first problem as a
// *FieldError whose Field is the path within an import row (for example
// "product.title"), or nil.
func (p Product) Validate() error {
	bad := func(field, msg string) error { return &FieldError{Field: fieldPrefix + field, Message: msg} }
	n := utf8.RuneCountInString
	switch {
	case !skuPattern.MatchString(p.SKU):
		return bad("name", `must be "products/{sku}" with a SKU of 1..64 letters, digits, '.', '_' or '-'`)
	case n(p.Title) < 1 || n(p.Title) > maxTitleLen:
		return bad("title", "must be 1..200 characters")
	case n(p.Description) > maxDescLen:
		return bad("description", "must be at most 10000 characters")
	case len(p.Attributes) > maxAttributes:
		return bad("attributes", "at most 200 attributes")
	case n(p.Brand) > maxBrandLen:
		return bad("brand", "must be at most 100 characters")
	case p.Category != "" && (!categoryPattern.MatchString(p.Category) || n(p.Category) > maxCategoryLen):
		return bad("category", "must be a '/'-separated path of letters, digits, '.', '_' or '-', at most 200 characters")
	case !baseUnitPattern.MatchString(p.BaseUnit):
		return bad("base_unit", "must be an upper-case unit code such as EA")
	case p.PackSize < 0 || p.PackSize > maxPackSize:
		return bad("pack_size", "must be 0..1000000")
	case statusNames[p.Status] == "":
		return bad("status", "must be DRAFT, ACTIVE, ON_HOLD or DISCONTINUED")
	case len(p.Channels) > maxChannels:
		return bad("channels", "at most 50 channels")
	case p.WeightGrams < 0:
		return bad("weight_grams", "must not be negative")
	case p.GTIN != "" && !gtinPattern.MatchString(p.GTIN):
		return bad("gtin", "must be 8 to 14 digits")
	}
	keys := make(map[string]bool, len(p.Attributes))
	for i, a := range p.Attributes {
		switch {
		case !attrKeyPattern.MatchString(a.Key):
			return &FieldError{Field: fmt.Sprintf(fieldAttrPattern, i, "key"), Message: "must be lower snake case"}
		case n(a.Value) < 1 || n(a.Value) > maxAttrValueLen:
			return &FieldError{Field: fmt.Sprintf(fieldAttrPattern, i, "value"), Message: "must be 1..1000 characters"}
		case keys[a.Key]:
			return &FieldError{Field: fmt.Sprintf(fieldAttrPattern, i, "key"), Message: "duplicate attribute key " + a.Key}
		}
		keys[a.Key] = true
	}
	seen := make(map[string]bool, len(p.Channels))
	for i, ch := range p.Channels {
		if !channelPattern.MatchString(ch) {
			return &FieldError{Field: fmt.Sprintf(fieldPrefix+"channels[%d]", i), Message: "must be a lower-case channel code"}
		}
		if seen[ch] {
			return &FieldError{Field: fmt.Sprintf(fieldPrefix+"channels[%d]", i), Message: "duplicate channel " + ch}
		}
		seen[ch] = true
	}
	return nil
}
