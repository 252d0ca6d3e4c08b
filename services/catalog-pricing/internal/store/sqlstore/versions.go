package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// versionsCache keeps the last Versions read of a SQLite database with the
// number of write transactions that had ended when the read began. Every
// write transaction of this process on the database ends with writes
// incremented (after its commit or rollback), so a kept read is returned
// only while no write has ended since it began: a quote sees every
// publication, import or rule change acknowledged before it started, as
// with a read of its own, without the read (about a tenth of a repeated
// quote's CPU, issue #11). A write still committing may or may not be
// seen, as with a read.
//
// It relies on this process being the only writer of its SQLite file,
// which is how catalog-pricing runs on SQLite (replicas need PostgreSQL,
// where every quote still reads). All Stores of one *sqldb.DB share one
// cache (cacheFor), so a second sqlstore.New on the same database counts
// its writes too.
type versionsCache struct {
	writes atomic.Int64
	last   atomic.Pointer[versionsRead]
}

type versionsRead struct {
	writes int64
	v      pricing.Versions
}

// caches holds the versionsCache of every SQLite database a Store was made on.
var caches sync.Map // *sqldb.DB → *versionsCache

// cacheFor returns db's versionsCache, or nil when db is not SQLite.
func cacheFor(db *sqldb.DB) *versionsCache {
	if db.Dialect() != sqldb.SQLite {
		return nil
	}
	c, _ := caches.LoadOrStore(db, &versionsCache{})
	return c.(*versionsCache)
}

// wrote records the end of a write transaction.
func (c *versionsCache) wrote() {
	if c != nil {
		c.writes.Add(1)
	}
}

// Versions implements pricing.Store: the catalog, price and rule versions
// of catalog_state, from the versionsCache on SQLite while no write
// transaction ended since they were read.
func (s *PricingStore) Versions(ctx context.Context) (pricing.Versions, error) {
	c := s.versions
	var writes int64
	if c != nil {
		writes = c.writes.Load()
		if r := c.last.Load(); r != nil && r.writes == writes {
			return r.v, nil
		}
	}
	var v pricing.Versions
	if err := s.pool(ctx).row(`SELECT current_version, price_version, rules_version FROM catalog_state WHERE id = 1`).
		Scan(&v.Catalog, &v.Price, &v.Rules); err != nil {
		return v, fmt.Errorf("read versions: %w", err)
	}
	if c != nil {
		c.last.Store(&versionsRead{writes: writes, v: v})
	}
	return v, nil
}
