package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReservationState is the state of a reservation; values equal
// transload.inventory.v1.Reservation.State.
type ReservationState int

// Reservation states.
const (
	StateHeld      ReservationState = 1
	StateConfirmed ReservationState = 2
	StateReleased  ReservationState = 3
	StateCommitted ReservationState = 4
	StateExpired   ReservationState = 5
)

// String returns the proto enum value name, e.g. "STATE_HELD".
func (s ReservationState) String() string {
	switch s {
	case StateHeld:
		return "STATE_HELD"
	case StateConfirmed:
		return "STATE_CONFIRMED"
	case StateReleased:
		return "STATE_RELEASED"
	case StateCommitted:
		return "STATE_COMMITTED"
	case StateExpired:
		return "STATE_EXPIRED"
	}
	return fmt.Sprintf("STATE_%d", int(s))
}

// Open reports whether the reservation still holds stock (HELD or
// CONFIRMED).
func (s ReservationState) Open() bool { return s == StateHeld || s == StateConfirmed }

// Strategy is an allocation strategy; values equal
// transload.inventory.v1.AllocationStrategy.
type Strategy int

// Allocation strategies.
const (
	StrategyPriority                 Strategy = 1
	StrategySingleWarehousePreferred Strategy = 2
	StrategyNearestRegion            Strategy = 3
)

// BackorderPolicy says what happens to a shortfall; values equal
// transload.inventory.v1.BackorderPolicy.
type BackorderPolicy int

// Backorder policies.
const (
	BackorderReject    BackorderPolicy = 1
	BackorderRemainder BackorderPolicy = 2
	BackorderPartial   BackorderPolicy = 3
)

// Reservation holds stock for an order or a checkout.
type Reservation struct {
	ID                string
	RequestID         string
	ReferenceID       string
	Channel           string
	State             ReservationState
	Strategy          Strategy
	AllowSplit        bool
	BackorderPolicy   BackorderPolicy
	DestinationRegion string
	Lines             []ReservationLine
	// ExpireTime is set while HELD.
	ExpireTime time.Time
	CreateTime time.Time
	UpdateTime time.Time
	// Version increases with every change (the etag).
	Version int64
}

// Name is the resource name "reservations/{id}".
func (r *Reservation) Name() string { return "reservations/" + r.ID }

// FullyAllocated reports whether every line was allocated in full.
func (r *Reservation) FullyAllocated() bool {
	for _, l := range r.Lines {
		if l.Allocated() != l.Requested {
			return false
		}
	}
	return true
}

// line returns the line for sku, or nil.
func (r *Reservation) line(sku string) *ReservationLine {
	for i := range r.Lines {
		if r.Lines[i].SKU == sku {
			return &r.Lines[i]
		}
	}
	return nil
}

// openTotal is the quantity still held or backordered over all lines.
func (r *Reservation) openTotal() int64 {
	var n int64
	for _, l := range r.Lines {
		n += l.Backordered
		for _, a := range l.Allocations {
			n += a.Open()
		}
	}
	return n
}

func (r *Reservation) committedTotal() int64 {
	var n int64
	for _, l := range r.Lines {
		for _, a := range l.Allocations {
			n += a.Committed
		}
	}
	return n
}

// settle moves an open reservation with nothing open left to COMMITTED
// (something shipped) or RELEASED.
func (r *Reservation) settle() {
	if !r.State.Open() || r.openTotal() > 0 {
		return
	}
	if r.committedTotal() > 0 {
		r.State = StateCommitted
	} else {
		r.State = StateReleased
	}
	r.ExpireTime = time.Time{}
}

// ReservationLine is the allocation of one requested SKU.
type ReservationLine struct {
	SKU         string       `json:"sku"`
	Requested   int64        `json:"req"`
	Backordered int64        `json:"bo,omitempty"`
	Unfulfilled int64        `json:"uf,omitempty"`
	Allocations []Allocation `json:"alloc,omitempty"`
}

// Allocated is the sum of the allocations' quantities.
func (l ReservationLine) Allocated() int64 {
	var n int64
	for _, a := range l.Allocations {
		n += a.Quantity
	}
	return n
}

// Allocation is the part of a line held in one warehouse.
type Allocation struct {
	WarehouseCode string `json:"wh"`
	Quantity      int64  `json:"q"`
	Committed     int64  `json:"c,omitempty"`
	Released      int64  `json:"r,omitempty"`
}

// Open is quantity − committed − released.
func (a Allocation) Open() int64 { return a.Quantity - a.Committed - a.Released }

// ReleaseLine is a partial release of one SKU.
type ReleaseLine struct {
	SKU      string
	Quantity int64
	// WarehouseCode restricts the release to one allocation; empty releases
	// backorders first, then allocations in reverse allocation order.
	WarehouseCode string
}

// CommitLine is a shipped quantity of one SKU.
type CommitLine struct {
	SKU      string
	Quantity int64
}

// ReservationQuantity is a quantity of one SKU in one warehouse moved by an
// operation (warehouse empty for backorders).
type ReservationQuantity struct {
	SKU           string
	WarehouseCode string
	Quantity      int64
}

// release gives open quantities back. With no lines everything open is
// released and backorders are dropped.
func (r *Reservation) release(lines []ReleaseLine) ([]Movement, []ReservationQuantity, error) {
	if len(lines) == 0 {
		for _, l := range r.Lines {
			lines = append(lines, ReleaseLine{SKU: l.SKU, Quantity: l.Backordered + openOf(l, "")})
		}
	}
	var (
		moves    []Movement
		released []ReservationQuantity
	)
	for _, rl := range lines {
		if rl.Quantity == 0 {
			continue
		}
		l := r.line(rl.SKU)
		open := int64(0)
		if l != nil {
			open = openOf(*l, rl.WarehouseCode)
			if rl.WarehouseCode == "" {
				open += l.Backordered
			}
		}
		if l == nil || rl.Quantity > open {
			return nil, nil, &ReleaseExceedsOpenError{Reservation: r.Name(), SKU: rl.SKU, Requested: rl.Quantity, Open: open}
		}
		left := rl.Quantity
		if rl.WarehouseCode == "" && l.Backordered > 0 {
			n := min(left, l.Backordered)
			l.Backordered -= n
			l.Unfulfilled += n
			left -= n
			released = append(released, ReservationQuantity{SKU: l.SKU, Quantity: n})
		}
		for i := len(l.Allocations) - 1; i >= 0 && left > 0; i-- {
			a := &l.Allocations[i]
			if rl.WarehouseCode != "" && a.WarehouseCode != rl.WarehouseCode {
				continue
			}
			n := min(left, a.Open())
			if n == 0 {
				continue
			}
			a.Released += n
			left -= n
			moves = append(moves, Movement{SKU: l.SKU, WarehouseCode: a.WarehouseCode, Reserved: -n, Cause: CauseRelease})
			released = append(released, ReservationQuantity{SKU: l.SKU, WarehouseCode: a.WarehouseCode, Quantity: n})
		}
	}
	r.settle()
	return mergeMovements(moves), released, nil
}

// openOf is the open allocated quantity of l, in warehouse wh or in all
// warehouses when wh is empty.
func openOf(l ReservationLine, wh string) int64 {
	var n int64
	for _, a := range l.Allocations {
		if wh == "" || a.WarehouseCode == wh {
			n += a.Open()
		}
	}
	return n
}

// commit records a shipment from warehouse wh.
func (r *Reservation) commit(wh string, lines []CommitLine) ([]Movement, []ReservationQuantity, error) {
	var (
		moves     []Movement
		committed []ReservationQuantity
	)
	for _, cl := range lines {
		l := r.line(cl.SKU)
		open := int64(0)
		if l != nil {
			open = openOf(*l, wh)
		}
		if cl.Quantity > open {
			return nil, nil, &CommitExceedsAllocationError{
				Reservation: r.Name(), SKU: cl.SKU, WarehouseCode: wh, Requested: cl.Quantity, Open: open,
			}
		}
		left := cl.Quantity
		for i := range l.Allocations {
			a := &l.Allocations[i]
			if a.WarehouseCode != wh || left == 0 {
				continue
			}
			n := min(left, a.Open())
			a.Committed += n
			left -= n
		}
		moves = append(moves, Movement{SKU: cl.SKU, WarehouseCode: wh, Reserved: -cl.Quantity, OnHand: -cl.Quantity, Cause: CauseCommit})
		committed = append(committed, ReservationQuantity{SKU: cl.SKU, WarehouseCode: wh, Quantity: cl.Quantity})
	}
	r.settle()
	return moves, committed, nil
}

// expire releases everything open of a HELD reservation and ends it
// EXPIRED.
func (r *Reservation) expire() ([]Movement, []ReservationQuantity) {
	var (
		moves    []Movement
		released []ReservationQuantity
	)
	for i := range r.Lines {
		l := &r.Lines[i]
		l.Unfulfilled += l.Backordered
		l.Backordered = 0
		for j := range l.Allocations {
			a := &l.Allocations[j]
			if n := a.Open(); n > 0 {
				a.Released += n
				moves = append(moves, Movement{SKU: l.SKU, WarehouseCode: a.WarehouseCode, Reserved: -n, Cause: CauseExpiry})
				released = append(released, ReservationQuantity{SKU: l.SKU, WarehouseCode: a.WarehouseCode, Quantity: n})
			}
		}
	}
	r.State = StateExpired
	return mergeMovements(moves), released
}

// mergeMovements sums movements of the same SKU×warehouse and cause and
// sorts them by SKU, then warehouse, the order stock rows are locked in.
func mergeMovements(ms []Movement) []Movement {
	type key struct {
		sku, wh string
		cause   StockChangeCause
	}
	idx := map[key]int{}
	var out []Movement
	for _, m := range ms {
		k := key{m.SKU, m.WarehouseCode, m.Cause}
		if i, ok := idx[k]; ok {
			out[i].Reserved += m.Reserved
			out[i].OnHand += m.OnHand
			continue
		}
		idx[k] = len(out)
		out = append(out, m)
	}
	SortMovements(out)
	return out
}

// SortMovements orders ms by SKU, then warehouse code.
func SortMovements(ms []Movement) {
	slices.SortStableFunc(ms, func(a, b Movement) int {
		return cmp.Or(strings.Compare(a.SKU, b.SKU), strings.Compare(a.WarehouseCode, b.WarehouseCode))
	})
}
