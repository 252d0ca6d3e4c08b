// Package stockview is the gateway's read model of stock: per SKU×warehouse
// quantities kept current from inventory's StockChangedEvents, so
// CheckAvailability can answer hot SKUs without a per-call inventory round
// trip.
//
// How it stays correct:
//
//   - A level enters the view only from a live inventory answer (Seed)
//     that carries the level's revision (WarehouseAvailability.revision,
//     the StockChangedEvent sequence it reflects), or, for a warehouse the
//     answer counted but listed no level for, as "no level" at revision 0.
//     Events that arrived while that answer was on its way (the newest
//     event per level is remembered, tracked or not) move the seeded level
//     on, so an answer read before an event never hides it.
//   - An event of sequence revision+1 is applied; one at or below the
//     revision is a duplicate or out of order and ignored; one further
//     ahead is a gap: the level is dropped, so the next call for the SKU
//     asks inventory again and reseeds it. An event that changes the
//     inbound total drops the level too (the event does not carry the next
//     inbound date the answer shows).
//   - A SKU is answered from the view only when every warehouse the
//     channel counts (active, serving the channel, per the warehouse table
//     the gateway refreshes from inventory) has a level in the view;
//     otherwise Lookup reports it missing and the caller asks inventory.
//   - Invalidate drops SKUs (the gateway calls it after its caller's own
//     order or cancellation, so that caller's next answer is read live:
//     read-your-writes); a live answer that started before the drop cannot
//     reseed them (per-SKU generations).
//   - While the event feed is not running (Ready false) nothing is
//     answered from the view; when it stops, the view is cleared, since
//     events may be missed.
//
// The view lags inventory by the outbox relay and NATS delivery (events,
// not polling); warehouse table changes reach it within the refresh
// interval, and a changed table clears the view.
package stockview

import (
	"slices"
	"sync"

	"google.golang.org/genproto/googleapis/type/date"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
)

// Warehouse is what the view needs of one warehouse.
type Warehouse struct {
	Code     string
	Active   bool
	Channels []string
}

// serves mirrors inventory's Warehouse.Serves: active, and the channel is
// empty, or the warehouse names no channels, or names this one.
func (w Warehouse) serves(channel string) bool {
	return w.Active && (channel == "" || len(w.Channels) == 0 || slices.Contains(w.Channels, channel))
}

// level is one SKU×warehouse as the view knows it.
type level struct {
	rev                                  int64
	exists                               bool // false: inventory has no level here (revision 0)
	available, onHand, reserved, inbound int64
	nextInbound                          *date.Date // shared, never modified
}

type skuState struct {
	levels map[string]level // by warehouse code; absent: unknown
	known  bool             // inventory knows the SKU in some warehouse
	gen    uint64           // bumped by Invalidate
}

// DefaultMaxSKUs bounds the SKUs the view holds.
const DefaultMaxSKUs = 200_000

// View is the read model. The zero value is not usable; use New.
type View struct {
	mu         sync.RWMutex
	ready      bool
	warehouses []Warehouse // allocation priority order, as inventory lists them
	skus       map[string]*skuState
	maxSKUs    int
	// epoch is bumped whenever the whole view is cleared.
	epoch uint64
	// recent is the newest event seen per "sku@warehouse", tracked or not,
	// so a live answer read before an event that arrived before the answer
	// was merged does not reseed the older state.
	recent map[string]level
	stats  Stats
}

// recentMax bounds recent; past it recent starts over.
const recentMax = 100_000

// Stats counts what the view did, for tests and metrics.
type Stats struct {
	Applied, Ignored, Gaps, Seeded int64
}

// New returns an empty view that answers nothing until SetWarehouses and
// SetReady(true).
func New(maxSKUs int) *View {
	if maxSKUs <= 0 {
		maxSKUs = DefaultMaxSKUs
	}
	return &View{skus: map[string]*skuState{}, maxSKUs: maxSKUs, recent: map[string]level{}}
}

// Stats returns the counters so far.
func (v *View) Stats() Stats {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.stats
}

// SetReady turns answering from the view on or off; turning it off clears
// the view (events may be missed from now on).
func (v *View) SetReady(ready bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !ready {
		v.clearLocked()
	}
	v.ready = ready
}

// SetWarehouses replaces the warehouse table (in allocation priority
// order); a table different from the current one clears the view.
func (v *View) SetWarehouses(ws []Warehouse) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if slices.EqualFunc(ws, v.warehouses, func(a, b Warehouse) bool {
		return a.Code == b.Code && a.Active == b.Active && slices.Equal(a.Channels, b.Channels)
	}) {
		return
	}
	v.clearLocked()
	v.warehouses = slices.Clone(ws)
}

// clearLocked forgets every level, keeping (and bumping) generations so a
// live read that started before cannot reseed.
func (v *View) clearLocked() {
	v.epoch++
	for _, st := range v.skus {
		st.levels = nil
		st.gen++
	}
	if len(v.skus) > v.maxSKUs {
		v.skus = map[string]*skuState{}
	}
}

// Token remembers the generations of SKUs a Lookup reported missing, so a
// Seed from the live answer that follows applies only if nothing
// invalidated them meanwhile.
type Token struct {
	epoch uint64
	gens  map[string]uint64 // 0 for SKUs the view had no state for
}

// Lookup answers the SKUs the view can answer for channel and lists the
// others (in request order) for the caller to ask inventory. Answers are
// fresh messages the caller may keep.
func (v *View) Lookup(channel string, skus []string) (map[string]*inventoryv1.SkuAvailability, []string, Token) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	tok := Token{epoch: v.epoch, gens: make(map[string]uint64, len(skus))}
	found := make(map[string]*inventoryv1.SkuAvailability, len(skus))
	var missing []string
	for _, sku := range skus {
		st := v.skus[sku]
		if st != nil {
			tok.gens[sku] = st.gen
		}
		sa, ok := v.answerLocked(st, channel, sku)
		if !ok {
			missing = append(missing, sku)
			continue
		}
		found[sku] = sa
	}
	return found, missing, tok
}

func (v *View) answerLocked(st *skuState, channel, sku string) (*inventoryv1.SkuAvailability, bool) {
	if !v.ready || st == nil || st.levels == nil {
		return nil, false
	}
	sa := &inventoryv1.SkuAvailability{Sku: sku, Known: st.known}
	counted := false
	for _, w := range v.warehouses {
		if !w.serves(channel) {
			continue
		}
		counted = true
		l, ok := st.levels[w.Code]
		if !ok {
			return nil, false
		}
		if !l.exists {
			continue
		}
		sa.TotalAvailable += l.available
		sa.TotalInbound += l.inbound
		sa.Warehouses = append(sa.Warehouses, &inventoryv1.WarehouseAvailability{
			WarehouseCode: w.Code, Available: l.available, OnHand: l.onHand, Reserved: l.reserved,
			InboundTotal: l.inbound, NextInboundDate: l.nextInbound, Revision: l.rev,
		})
	}
	// No warehouse serves the channel: inventory answers that with an
	// error the caller maps; leave it to inventory.
	return sa, counted
}

// Seed merges a live CheckAvailability answer for channel into the view:
// every warehouse the channel counts gets the answer's level (when newer
// than the view's) or, when the answer lists none, "no level". SKUs
// invalidated since tok's Lookup, answers without revisions (an inventory
// that does not send them) and answers that disagree with the warehouse
// table are not merged.
func (v *View) Seed(channel string, tok Token, skus []*inventoryv1.SkuAvailability) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.ready || tok.epoch != v.epoch {
		return
	}
	for _, sa := range skus {
		st := v.skus[sa.GetSku()]
		if st != nil && st.gen != tok.gens[sa.GetSku()] {
			continue // invalidated while inventory was asked
		}
		seed, ok := v.seedLevels(channel, sa)
		if !ok || !v.catchUpLocked(sa.GetSku(), seed) {
			continue
		}
		if st == nil {
			if len(v.skus) >= v.maxSKUs {
				continue
			}
			st = &skuState{}
			v.skus[sa.GetSku()] = st
		}
		if st.levels == nil {
			st.levels = make(map[string]level, len(seed))
		}
		for code, l := range seed {
			if cur, ok := st.levels[code]; !ok || l.rev > cur.rev {
				st.levels[code] = l
			}
		}
		st.known = st.known || sa.GetKnown()
		v.stats.Seeded++
	}
}

// seedLevels turns one SKU's answer into levels for every counted
// warehouse; false when the answer cannot be trusted.
func (v *View) seedLevels(channel string, sa *inventoryv1.SkuAvailability) (map[string]level, bool) {
	listed := make(map[string]*inventoryv1.WarehouseAvailability, len(sa.GetWarehouses()))
	for _, w := range sa.GetWarehouses() {
		if w.GetRevision() <= 0 {
			return nil, false
		}
		listed[w.GetWarehouseCode()] = w
	}
	out := make(map[string]level, len(v.warehouses))
	for _, w := range v.warehouses {
		if !w.serves(channel) {
			continue
		}
		a, ok := listed[w.Code]
		if !ok {
			out[w.Code] = level{}
			continue
		}
		delete(listed, w.Code)
		out[w.Code] = level{
			rev: a.GetRevision(), exists: true, available: a.GetAvailable(), onHand: a.GetOnHand(),
			reserved: a.GetReserved(), inbound: a.GetInboundTotal(), nextInbound: a.GetNextInboundDate(),
		}
	}
	// A warehouse inventory counted that the table does not: the table is
	// stale.
	return out, len(listed) == 0 && len(out) > 0
}

// catchUpLocked moves seeded levels to newer events that arrived while
// the live answer was on its way; false when one cannot be used (its
// inbound total differs, so its next inbound date is unknown).
func (v *View) catchUpLocked(sku string, seed map[string]level) bool {
	for code, l := range seed {
		r, ok := v.recent[sku+"@"+code]
		if !ok || r.rev <= l.rev {
			continue
		}
		if r.inbound != l.inbound {
			return false
		}
		r.nextInbound = l.nextInbound
		seed[code] = r
	}
	return true
}

// Apply applies one StockChangedEvent.
func (v *View) Apply(ev *inventoryv1.StockChangedEvent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.remember(ev)
	st := v.skus[ev.GetSku()]
	if st == nil || st.levels == nil {
		v.stats.Ignored++
		return
	}
	code, seq := ev.GetWarehouseCode(), ev.GetMetadata().GetSequence()
	cur, ok := st.levels[code]
	switch {
	case !ok, seq <= cur.rev:
		// Not tracked (a warehouse no seeded channel counts), or a
		// duplicate or late event.
		v.stats.Ignored++
		return
	case seq > cur.rev+1:
		delete(st.levels, code)
		v.stats.Gaps++
		return
	}
	q := ev.GetNewQuantities()
	if q.GetInboundTotal() != cur.inbound {
		// The next inbound date is not in the event: ask inventory.
		delete(st.levels, code)
		v.stats.Applied++
		return
	}
	st.levels[code] = level{
		rev: seq, exists: true, available: q.GetAvailable(), onHand: q.GetOnHand(), reserved: q.GetReserved(),
		inbound: q.GetInboundTotal(), nextInbound: cur.nextInbound,
	}
	st.known = true
	v.stats.Applied++
}

// remember records ev as the newest event of its level.
func (v *View) remember(ev *inventoryv1.StockChangedEvent) {
	key, seq := ev.GetSku()+"@"+ev.GetWarehouseCode(), ev.GetMetadata().GetSequence()
	if r, ok := v.recent[key]; ok && r.rev >= seq {
		return
	}
	if len(v.recent) >= recentMax {
		clear(v.recent)
	}
	q := ev.GetNewQuantities()
	v.recent[key] = level{
		rev: seq, exists: true, available: q.GetAvailable(), onHand: q.GetOnHand(), reserved: q.GetReserved(), inbound: q.GetInboundTotal(),
	}
}

// Invalidate drops skus from the view: their next Lookup reports them
// missing, and live answers that started before cannot reseed them.
func (v *View) Invalidate(skus []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, sku := range skus {
		st := v.skus[sku]
		if st == nil {
			if len(v.skus) >= v.maxSKUs {
				// No room to remember the generation: clear everything
				// rather than let an older live answer reseed the SKU.
				v.clearLocked()
				v.skus = map[string]*skuState{}
			}
			// Remember the generation, so a live answer that started
			// before cannot seed the SKU.
			st = &skuState{}
			v.skus[sku] = st
		}
		st.levels = nil
		st.gen++
	}
}
