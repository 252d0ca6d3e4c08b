package catalog

// Filter selects products in ListProducts; zero fields match everything.
// The API layer builds it from the request's AIP-160 filter.
type Filter struct {
	Channel string
	Status  Status
	// Category matches the category and everything below it.
	Category string
	Brand    string
}

// Cursor is where a listing continues: after SKU After of stored version
// Version, the version its first page resolved the request's reference
// to, so paging across a publish stays on one consistent version.
type Cursor struct {
	Version int64
	After   string
}

// Admits reports whether a listing of r may continue on stored version v:
// a numbered reference on that number, the draft on the draft, current
// on a published version.
func (r VersionRef) Admits(v int64) bool {
	switch r.Kind {
	case RefNumber:
		return v == r.Number
	case RefDraft:
		return v == DraftVersion
	case RefCurrent:
		return v != DraftVersion
	}
	return false
}
