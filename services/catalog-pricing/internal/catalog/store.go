package catalog

import (
	"context"
	"time"
)

// ListQuery selects one page of products of one stored version.
type ListQuery struct {
	// Version is the stored version number (DraftVersion for the draft).
	Version int64
	Filter  Filter
	// After is the last SKU of the previous page; "" starts at the first.
	After string
	// Limit is the page size.
	Limit int
}

// Store persists products and versions. Implementations: sqlstore (SQLite
// and PostgreSQL), checked by storetest.
type Store interface {
	// CurrentVersion returns the latest published version, or an error
	// wrapping ErrVersionNotFound before the first publish.
	CurrentVersion(ctx context.Context) (Version, error)
	// Version returns published version n or an error wrapping
	// ErrVersionNotFound.
	Version(ctx context.Context, n int64) (Version, error)
	// DraftDigests returns the digests of every product of the working
	// catalog.
	DraftDigests(ctx context.Context) ([]Digest, error)
	// ListVersions returns up to limit published versions with numbers
	// below before (0: no bound), newest first.
	ListVersions(ctx context.Context, before int64, limit int) ([]Version, error)
	// Products returns the products of stored version v (DraftVersion for
	// the draft) with the given SKUs, keyed by SKU; missing SKUs are
	// absent from the map.
	Products(ctx context.Context, v int64, skus []string) (map[string]Product, error)
	// ListProducts returns the products matching q, ordered by SKU.
	ListProducts(ctx context.Context, q ListQuery) ([]Product, error)
	// AuditRecords returns up to limit audit records with ids above after,
	// oldest first.
	AuditRecords(ctx context.Context, after int64, limit int) ([]StoredAudit, error)
	// InTx runs fn in one read-write transaction; fn may run more than
	// once (retries) and must not have side effects outside tx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
}

// Request is a stored idempotency record: the response of the first call
// with a request id, and a hash of its payload.
type Request struct {
	Kind        string
	ID          string
	PayloadHash string
	Response    []byte
}

// Tx is the transactional part of Store.
type Tx interface {
	Requests
	// DraftProducts returns the draft products with the given SKUs.
	DraftProducts(skus []string) (map[string]Product, error)
	// PutDraftProducts inserts or replaces draft products.
	PutDraftProducts(ps []Product) error
	// LockCurrentVersion returns the current published version number (0
	// before the first publish) and serialises the transactions that call
	// it (publishes and imports) until the transaction ends.
	LockCurrentVersion() (int64, error)
	// Version returns published version n (ErrVersionNotFound wrapped).
	Version(n int64) (Version, error)
	// Digests returns the digests of stored version v (DraftVersion: the
	// draft).
	Digests(v int64) ([]Digest, error)
	// CreateVersion stores v, copies the draft's products into it and
	// makes it current.
	CreateVersion(v Version) error
	// AppendPublished writes the CatalogPublished event to the outbox.
	AppendPublished(ev PublishedEvent) error
	// AppendAudit writes an audit record.
	AppendAudit(r AuditRecord) error
}

// AuditRecord is one append-only audit entry of a state change: who did
// what to which resource, with JSON snapshots before and after (nil when
// the resource did not exist before or does not exist after). The store
// adds the time and the correlation id of the request.
type AuditRecord struct {
	Action   string
	Resource string
	Actor    Actor
	Before   any
	After    any
}

// StoredAudit is an AuditRecord as read back.
type StoredAudit struct {
	ID            int64
	OccurTime     time.Time
	CorrelationID string
	Action        string
	Resource      string
	Actor         Actor
	Before, After string // JSON, "" when absent
}
