package catalog

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// Actor identifies who caused a change (audit trail, CatalogVersion.publisher).
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Version is a published, immutable catalog version, or the draft (Number 0,
// Draft true) with the counts of the working catalog at read time.
type Version struct {
	Number          int64
	Draft           bool
	PublishTime     time.Time
	PreviousVersion int64
	ProductCount    int64
	SellableCount   int64
	AddedCount      int64
	ChangedCount    int64
	RemovedCount    int64
	Checksum        string
	Note            string
	Publisher       Actor
}

// DraftVersion is the version number under which the working catalog is
// stored; published versions start at 1.
const DraftVersion int64 = 0

// RefKind says how a VersionRef selects a version.
type RefKind int

// Ways to select a catalog version.
const (
	RefCurrent RefKind = iota
	RefDraft
	RefNumber
)

// VersionRef selects a catalog version: the current one (default), the
// draft, or a number.
type VersionRef struct {
	Kind   RefKind
	Number int64
}

// String renders the ref as a resource name, "catalogVersions/current".
func (r VersionRef) String() string {
	switch r.Kind {
	case RefDraft:
		return "catalogVersions/draft"
	case RefNumber:
		return VersionName(r.Number)
	case RefCurrent:
	}
	return "catalogVersions/current"
}

// VersionName returns the resource name of version n ("catalogVersions/7";
// "catalogVersions/draft" for DraftVersion).
func VersionName(n int64) string {
	if n == DraftVersion {
		return "catalogVersions/draft"
	}
	return "catalogVersions/" + strconv.FormatInt(n, 10)
}

// ParseVersionRef parses "", "catalogVersions/current", "catalogVersions/draft"
// or "catalogVersions/{n}".
func ParseVersionRef(name string) (VersionRef, error) {
	if name == "" {
		return VersionRef{Kind: RefCurrent}, nil
	}
	id, ok := strings.CutPrefix(name, "catalogVersions/")
	if !ok {
		return VersionRef{}, &FieldError{Field: "catalog_version", Message: "must be catalogVersions/{number|current|draft}"}
	}
	switch id {
	case "current":
		return VersionRef{Kind: RefCurrent}, nil
	case "draft":
		return VersionRef{Kind: RefDraft}, nil
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 {
		return VersionRef{}, &FieldError{Field: "catalog_version", Message: "must be catalogVersions/{number|current|draft}"}
	}
	return VersionRef{Kind: RefNumber, Number: n}, nil
}

// Digest is the part of a stored product that publishing compares.
type Digest struct {
	SKU      string
	Etag     string
	Sellable bool
}

// Checksum is the lower-case hex SHA-256 over digests sorted by SKU, each
// contributing "sku:etag\n"; two versions with the same checksum list
// identical products.
func Checksum(ds []Digest) string {
	sorted := append([]Digest(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].SKU < sorted[j].SKU })
	var b strings.Builder
	for _, d := range sorted {
		b.WriteString(d.SKU + ":" + d.Etag + "\n")
	}
	return fingerprint.Bytes([]byte(b.String()))
}

// Diff compares the products of a new version with the previous one and
// returns the counts and the sorted SKUs added, changed or removed.
func Diff(prev, next []Digest) (added, changed, removed int64, skus []string) {
	old := make(map[string]string, len(prev))
	for _, d := range prev {
		old[d.SKU] = d.Etag
	}
	seen := make(map[string]bool, len(next))
	for _, d := range next {
		seen[d.SKU] = true
		etag, ok := old[d.SKU]
		switch {
		case !ok:
			added++
			skus = append(skus, d.SKU)
		case etag != d.Etag:
			changed++
			skus = append(skus, d.SKU)
		}
	}
	for _, d := range prev {
		if !seen[d.SKU] {
			removed++
			skus = append(skus, d.SKU)
		}
	}
	sort.Strings(skus)
	return added, changed, removed, skus
}

// PublishedEvent is what PublishCatalog announces
// (transload.catalog.v1.CatalogPublishedEvent); the store writes it to the
// outbox in the publishing transaction.
type PublishedEvent struct {
	Version     Version
	ChangedSKUs []string
	Truncated   bool
}

// MaxChangedSKUs caps PublishedEvent.ChangedSKUs.
const MaxChangedSKUs = 1000
