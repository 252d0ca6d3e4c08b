package sqlstore

import (
	"context"
	"sync"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// txWarehouses keeps, on SQLite, the warehouse table that write
// transactions (reservations, backorder allocation) read, so a
// reservation does not read and JSON-decode every warehouse row again
// (about a tenth of a reservation's CPU in the sustained profile).
//
// It is exact, not a TTL cache: on SQLite only this process writes the
// database and every write transaction holds the database's write lock,
// so the table a transaction reads can only differ from the cached one if
// a warehouse write ran in between. Every warehouse write goes through
// writeWarehouses, which marks the cache unusable from before its
// transaction begins until after it committed or rolled back; a reader
// uses the cache only while no write is in flight, and fills it only
// when no write began or ended while it read the table in its own
// transaction. A reader sharing a group-commit batch with a writer sees
// the write in flight and reads the table like any other.
//
// On PostgreSQL, replicas share the database, so transactions always read
// the table.
type txWarehouses struct {
	mu sync.Mutex
	// gen counts warehouse writes begun and ended.
	gen uint64
	// writing is the number of warehouse writes in flight.
	writing int
	// list is the cached table (nil: none) read at generation listGen;
	// shared with callers, which must not change it.
	list    []inventory.Warehouse
	listGen uint64
}

// warehouseCaches holds one txWarehouses per database: two Stores over
// one database (the service's and the loader's) share it.
var warehouseCaches sync.Map // *sqldb.DB → *txWarehouses

func (s *Store) warehouseCache() *txWarehouses {
	if s.db.Dialect() != sqldb.SQLite {
		return nil
	}
	c, _ := warehouseCaches.LoadOrStore(s.db, &txWarehouses{})
	return c.(*txWarehouses)
}

// writeWarehouses runs write, a transaction that may change the warehouse
// table, with the cache marked unusable around it.
func (s *Store) writeWarehouses(write func() error) error {
	c := s.warehouseCache()
	if c == nil {
		return write()
	}
	c.mu.Lock()
	c.writing++
	c.gen++
	c.list = nil
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.writing--
		c.gen++
		c.list = nil
		c.mu.Unlock()
	}()
	return write()
}

// txWarehouseList returns every warehouse ordered by priority, then code,
// as transaction tx sees them: from the cache when it is usable, else
// read in tx (and cached when nothing wrote meanwhile).
func (s *Store) txWarehouseList(ctx context.Context, tx sqldb.Querier) ([]inventory.Warehouse, error) {
	c := s.warehouseCache()
	if c == nil {
		return s.listWarehouses(ctx, tx)
	}
	c.mu.Lock()
	if c.writing == 0 && c.list != nil && c.listGen == c.gen {
		list := c.list
		c.mu.Unlock()
		return list, nil
	}
	gen, quiet := c.gen, c.writing == 0
	c.mu.Unlock()
	list, err := s.listWarehouses(ctx, tx)
	if err != nil || !quiet {
		return list, err
	}
	c.mu.Lock()
	if c.writing == 0 && c.gen == gen {
		c.list, c.listGen = list, gen
	}
	c.mu.Unlock()
	return list, nil
}
