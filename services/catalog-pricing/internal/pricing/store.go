package pricing

import (
	"context"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// Catalog is what quoting needs from the catalog: the products of a
// published version. catalog.Store satisfies it.
type Catalog interface {
	// Products returns the products of version v with the given SKUs.
	Products(ctx context.Context, v int64, skus []string) (map[string]catalog.Product, error)
}

// Store persists price lists, their entries and the global price version.
// Implementations: sqlstore, checked by storetest.
type Store interface {
	// PriceVersion returns the global price version (0 before any change).
	PriceVersion(ctx context.Context) (int64, error)
	// Versions returns the current published catalog version number (0
	// before the first publish), the price version and the price version
	// of the published rule set in one read, the only database access of a
	// cached quote. It must reflect every write acknowledged before the
	// call (sqlstore answers from memory on SQLite between its own write
	// transactions, and reads on PostgreSQL).
	Versions(ctx context.Context) (Versions, error)
	// PublishedRuleSet returns the rule set published at price version v.
	PublishedRuleSet(ctx context.Context, v int64) (RuleSnapshot, error)
	// Rule returns one draft rule of kind table (ErrRuleNotFound wrapped).
	Rule(ctx context.Context, table, id string) (RuleRow, error)
	// Usage returns the live redemptions (reserved or committed) of every
	// promotion that has any: in total and by customer.
	Usage(ctx context.Context, customer string) (map[string]Usage, error)
	// Rules returns up to limit draft rules of kind table with ids after
	// after, by id.
	Rules(ctx context.Context, table, after string, limit int) ([]RuleRow, error)
	// Currencies returns the distinct currencies of all price lists, sorted.
	Currencies(ctx context.Context) ([]string, error)
	// QuoteLists returns the price lists in currency that apply to channel
	// (channel-specific or all-channel), whatever their window.
	QuoteLists(ctx context.Context, currency, channel string) ([]PriceList, error)
	// PricesFor returns the entries of the given lists for the given SKUs.
	PricesFor(ctx context.Context, listIDs, skus []string) ([]Price, error)
	// PriceList returns one list (ErrPriceListNotFound wrapped).
	PriceList(ctx context.Context, id string) (PriceList, error)
	// ListPriceLists returns up to limit lists matching f with ids after
	// after, by id.
	ListPriceLists(ctx context.Context, f ListFilter, after string, limit int) ([]PriceList, error)
	// Price returns one entry (ErrPriceNotFound wrapped).
	Price(ctx context.Context, listID, sku string) (Price, error)
	// ListPrices returns up to limit entries of a list with SKUs after
	// after, by SKU.
	ListPrices(ctx context.Context, listID string, f PriceFilter, after string, limit int) ([]Price, error)
	// InTx runs fn in one read-write transaction (may be retried).
	InTx(ctx context.Context, fn func(tx Tx) error) error
}

// PricesChanged is what a committed pricing change announces
// (transload.catalog.v1.PricesChangedEvent).
type PricesChanged struct {
	PriceVersion  int64
	EffectiveTime time.Time
	RuleKinds     []RuleKind
	Rules         []string
	SKUs          []string
	AllSKUs       bool
	// CustomerIDs limits the change to these customers' quotes (a
	// contract changed); empty: every customer.
	CustomerIDs []string
}

// Tx is the transactional part of Store.
type Tx interface {
	// Lock serialises pricing writers until the transaction ends, so
	// per-row outcomes and the price version reflect one consistent state.
	Lock() error
	// Requests reads and writes idempotency records (shared with the
	// catalog).
	catalog.Requests
	// PriceList returns one list (ErrPriceListNotFound wrapped).
	PriceList(id string) (PriceList, error)
	// PutPriceList inserts or replaces a list header.
	PutPriceList(l PriceList) error
	// DeletePriceList removes a list and its entries.
	DeletePriceList(id string) error
	// Prices returns the entries of a list, keyed by SKU (all of them when
	// skus is nil).
	Prices(listID string, skus []string) (map[string]Price, error)
	// PutPrices inserts or replaces entries.
	PutPrices(ps []Price) error
	// DeletePrices removes entries of a list.
	DeletePrices(listID string, skus []string) error
	// DraftSKUs returns which of skus exist in the working catalog.
	DraftSKUs(skus []string) (map[string]bool, error)
	// CountPrices returns the number of entries of a list.
	CountPrices(listID string) (int64, error)
	// PriceVersion returns the global price version.
	PriceVersion() (int64, error)
	// BumpPriceVersion increments and returns the global price version.
	BumpPriceVersion() (int64, error)
	// AppendPricesChanged writes the PricesChanged event to the outbox.
	AppendPricesChanged(ev PricesChanged) error
	// AppendAudit writes an audit record.
	AppendAudit(r catalog.AuditRecord) error

	// Rule returns one draft rule of kind table (ErrRuleNotFound wrapped).
	Rule(table, id string) (RuleRow, error)
	// AllRules returns every draft rule of kind table, by id.
	AllRules(table string) ([]RuleRow, error)
	// PutRule inserts or replaces a draft rule.
	PutRule(table string, r RuleRow) error
	// DeleteRule removes a draft rule.
	DeleteRule(table, id string) error
	// PublishedRules returns the rule set published at price version v
	// with v, or for v == 0 the latest published one with its version (0
	// and an empty set when none was published). A v that published no
	// rule set returns the latest one before it.
	PublishedRules(v int64) (int64, RuleSnapshot, error)
	// PublishedDigest returns the digest of the rule set published at v
	// ("" for 0).
	PublishedDigest(v int64) (string, error)
	// PublishedBefore returns the latest price version before v that
	// published a rule set (0: none).
	PublishedBefore(v int64) (int64, error)
	// PutPublishedRules stores the rule set of price version v and makes
	// it the quoted one.
	PutPublishedRules(v int64, body []byte, digest string) error

	// Reservation returns the rows of a promotion reservation (none: it
	// does not exist).
	Reservation(id string) ([]ReservationRow, error)
	// PutReservation inserts one row of a reservation.
	PutReservation(r ReservationRow) error
	// SetReservationState moves every row of a reservation to state.
	SetReservationState(id string, state ReservationState, at time.Time) error
	// Usage returns the live redemptions (reserved or redeemed) of every
	// promotion that has any: in total and by customer.
	Usage(customer string) (map[string]Usage, error)
}
