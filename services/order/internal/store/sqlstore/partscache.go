package sqlstore

import (
	"container/list"
	"sync"

	"github.com/transload/transload/services/order/internal/order"
)

// partsCacheSize is how many orders' parts a Store keeps (about 2.5 KB
// each for an order of a few lines: 5 MB of the order process's 18 MB live
// heap in the sustained bench): the orders written last, which are the
// ones read and updated next (an ERP answer, a shipment report, a listing
// of recently updated orders).
const partsCacheSize = 2048

// parts are an order's lines (with their allocations), shipments and
// history as stored at one version of the order.
type parts struct {
	id        string
	version   int64
	lines     []order.Line
	shipments []order.Shipment
	history   []order.StateChange
}

// partsCache keeps the parts of the orders this Store wrote last, by order
// id and version, so a read that finds the order row at a cached version
// takes its parts from memory instead of four more queries (loadParts).
//
// It is safe across replicas and with writers that bypass it because an
// order's parts change only together with its version (saveOrder and
// insertOrder are their only writers and every caller bumps the version),
// and a version is never committed twice: the row read in the reader's own
// transaction names the version, and only parts committed at exactly that
// version are used. Entries are added only after their transaction
// committed, as the stored form (storedParts), and handed out as copies.
type partsCache struct {
	mu  sync.Mutex
	max int
	lru *list.List               // of *parts, most recently used first
	by  map[string]*list.Element // by order id
	// hits and misses count lookups (tests read them).
	hits, misses uint64
}

func newPartsCache(maxOrders int) *partsCache {
	return &partsCache{max: maxOrders, lru: list.New(), by: make(map[string]*list.Element)}
}

// put records o's parts as committed at o.Version.
func (c *partsCache) put(o *order.Order) {
	if c == nil || o == nil {
		return
	}
	p := storedParts(o)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.by[o.ID]; ok {
		if el.Value.(*parts).version > p.version { //nolint:forcetypeassert // only *parts are stored
			return // a newer version is already known
		}
		el.Value = p
		c.lru.MoveToFront(el)
		return
	}
	c.by[o.ID] = c.lru.PushFront(p)
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		delete(c.by, last.Value.(*parts).id) //nolint:forcetypeassert // only *parts are stored
		c.lru.Remove(last)
	}
}

// fill sets o's parts from the cache when it holds them at o.Version and
// reports whether it did.
func (c *partsCache) fill(o *order.Order) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	el, ok := c.by[o.ID]
	var p *parts
	if ok {
		p = el.Value.(*parts) //nolint:forcetypeassert // only *parts are stored
		ok = p.version == o.Version
	}
	if !ok {
		c.misses++
		c.mu.Unlock()
		return false
	}
	c.hits++
	c.lru.MoveToFront(el)
	c.mu.Unlock()
	// p is never changed once cached: copy outside the lock.
	o.Lines, o.Shipments, o.History = copyLines(p.lines), copyShipments(p.shipments), copyHistory(p.history)
	return true
}

// stats returns the lookups served from the cache and those that were not.
func (c *partsCache) stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// storedParts returns a copy of o's parts exactly as loadParts reads them
// back from the tables: times at the microseconds they are stored in, in
// UTC, and empty lists nil (a shipment's lines go through JSON, where an
// empty list stays an empty list and none stays none).
func storedParts(o *order.Order) *parts {
	p := &parts{id: o.ID, version: o.Version, lines: copyLines(o.Lines)}
	for _, sh := range o.Shipments {
		sh.UpdatedAt = fromUS(us(sh.UpdatedAt))
		p.shipments = append(p.shipments, sh)
	}
	p.shipments = copyShipments(p.shipments)
	for _, h := range o.History {
		h.At = fromUS(us(h.At))
		p.history = append(p.history, h)
	}
	return p
}

func copyLines(in []order.Line) []order.Line {
	if len(in) == 0 {
		return nil
	}
	out := make([]order.Line, len(in))
	for i, l := range in {
		if len(l.Allocations) == 0 {
			l.Allocations = nil
		} else {
			l.Allocations = append([]order.Allocation(nil), l.Allocations...)
		}
		out[i] = l
	}
	return out
}

func copyShipments(in []order.Shipment) []order.Shipment {
	if len(in) == 0 {
		return nil
	}
	out := make([]order.Shipment, len(in))
	for i, sh := range in {
		if sh.Lines != nil {
			sh.Lines = append(make([]order.ShipmentLine, 0, len(sh.Lines)), sh.Lines...)
		}
		out[i] = sh
	}
	return out
}

func copyHistory(in []order.StateChange) []order.StateChange {
	if len(in) == 0 {
		return nil
	}
	return append([]order.StateChange(nil), in...)
}
