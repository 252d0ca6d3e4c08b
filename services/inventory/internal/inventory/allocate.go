package inventory

import (
	"slices"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ReserveLine is one SKU and quantity to reserve.
type ReserveLine struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"q"`
}

// ReserveParams is a reservation request.
type ReserveParams struct {
	RequestID         string          `json:"-"`
	ReferenceID       string          `json:"ref"`
	Channel           string          `json:"ch"`
	Lines             []ReserveLine   `json:"lines"`
	Strategy          Strategy        `json:"st"`
	AllowSplit        bool            `json:"split"`
	BackorderPolicy   BackorderPolicy `json:"bo"`
	HoldTTL           time.Duration   `json:"ttl"`
	DestinationRegion string          `json:"region"`
	// Actor is who reserves (audit trail; ServiceActor when unset).
	Actor Actor `json:"-"`
}

// withDefaults applies the server defaults for unset enums.
func (p ReserveParams) withDefaults() ReserveParams {
	if p.Strategy == 0 {
		p.Strategy = StrategyPriority
	}
	if p.BackorderPolicy == 0 {
		p.BackorderPolicy = BackorderReject
	}
	return p
}

// Fingerprint identifies the payload of p (everything but the request id,
// server defaults filled in), so a replayed request id can be told apart
// from a reused one. It is stored with the reservation: the JSON names of
// the params are part of it.
func (p ReserveParams) Fingerprint() string {
	return fingerprint.Of(p.withDefaults())
}

// SKUs returns the SKUs of p's lines.
func (p ReserveParams) SKUs() []string {
	out := make([]string, 0, len(p.Lines))
	for _, l := range p.Lines {
		out = append(out, l.SKU)
	}
	return out
}

// Allocate decides the lines of a reservation for p given every warehouse
// and the current stock levels of p's SKUs (as locked by the caller's
// transaction). It returns the lines and the stock movements to apply, or
// *NoWarehouseForChannelError, *UnknownSKUError or (REJECT policy)
// *InsufficientStockError for the first short SKU in request order.
func Allocate(p ReserveParams, warehouses []Warehouse, levels []StockLevel) ([]ReservationLine, []Movement, error) {
	p = p.withDefaults()
	cands := candidates(p, warehouses)
	if len(cands) == 0 {
		return nil, nil, &NoWarehouseForChannelError{Channel: p.Channel}
	}
	known := map[string]bool{}
	avail := map[string]map[string]int64{}
	for _, l := range levels {
		known[l.SKU] = true
		if avail[l.SKU] == nil {
			avail[l.SKU] = map[string]int64{}
		}
		avail[l.SKU][l.WarehouseCode] = l.Available()
	}
	for _, l := range p.Lines {
		if !known[l.SKU] {
			return nil, nil, &UnknownSKUError{SKU: l.SKU}
		}
	}

	lines := make([]ReservationLine, len(p.Lines))
	for i, l := range p.Lines {
		lines[i] = ReservationLine{SKU: l.SKU, Requested: l.Quantity}
	}

	if p.Strategy == StrategySingleWarehousePreferred {
		for _, w := range cands {
			if slices.ContainsFunc(p.Lines, func(l ReserveLine) bool { return avail[l.SKU][w.Code] < l.Quantity }) {
				continue
			}
			for i, l := range p.Lines {
				lines[i].Allocations = []Allocation{{WarehouseCode: w.Code, Quantity: l.Quantity}}
			}
			return lines, movementsOf(lines), nil
		}
	}

	for i, l := range p.Lines {
		a := avail[l.SKU]
		var allocs []Allocation
		left := l.Quantity
		if p.AllowSplit {
			for _, w := range cands {
				if left == 0 {
					break
				}
				if n := min(left, a[w.Code]); n > 0 {
					allocs = append(allocs, Allocation{WarehouseCode: w.Code, Quantity: n})
					left -= n
				}
			}
		} else if best := bestSingle(cands, a, l.Quantity); best >= 0 {
			n := min(left, a[cands[best].Code])
			allocs = append(allocs, Allocation{WarehouseCode: cands[best].Code, Quantity: n})
			left -= n
		}
		if left > 0 {
			switch p.BackorderPolicy {
			case BackorderRemainder:
				lines[i].Backordered = left
			case BackorderPartial:
				lines[i].Unfulfilled = left
			case BackorderReject:
				fallthrough
			default: // a policy this code does not know refuses, like REJECT
				var total int64
				for _, w := range cands {
					total += a[w.Code]
				}
				return nil, nil, &InsufficientStockError{SKU: l.SKU, Requested: l.Quantity, Available: total}
			}
		}
		for _, al := range allocs {
			a[al.WarehouseCode] -= al.Quantity
		}
		lines[i].Allocations = allocs
	}
	return lines, movementsOf(lines), nil
}

// bestSingle returns the index in cands of the one warehouse a line that
// may not split takes need from: the first (in strategy order) with need
// available, else the one with most available; -1 when none has any.
func bestSingle(cands []Warehouse, avail map[string]int64, need int64) int {
	best := -1
	for j, w := range cands {
		if avail[w.Code] >= need {
			return j
		}
		if avail[w.Code] > 0 && (best < 0 || avail[w.Code] > avail[cands[best].Code]) {
			best = j
		}
	}
	return best
}

// candidates returns the warehouses p may allocate from, in strategy order.
func candidates(p ReserveParams, warehouses []Warehouse) []Warehouse {
	var out []Warehouse
	for _, w := range warehouses {
		if w.Serves(p.Channel) {
			out = append(out, w)
		}
	}
	SortWarehouses(out)
	if p.Strategy == StrategyNearestRegion && p.DestinationRegion != "" {
		slices.SortStableFunc(out, func(a, b Warehouse) int {
			ai, bi := a.Region == p.DestinationRegion, b.Region == p.DestinationRegion
			switch {
			case ai && !bi:
				return -1
			case bi && !ai:
				return 1
			}
			return 0
		})
	}
	return out
}

func movementsOf(lines []ReservationLine) []Movement {
	var ms []Movement
	for _, l := range lines {
		for _, a := range l.Allocations {
			ms = append(ms, Movement{SKU: l.SKU, WarehouseCode: a.WarehouseCode, Reserved: a.Quantity, Cause: CauseReservation})
		}
	}
	return mergeMovements(ms)
}

// AllocateBackorder allocates the backordered quantity of r's line for sku
// from the available stock per warehouse (avail), in r's strategy order
// among the active warehouses serving r's channel. Without AllowSplit the
// backorder goes to the warehouse the line already uses, or to a single
// warehouse (the first covering it, else the one with most available). It
// reports false when nothing could be allocated.
func AllocateBackorder(r *Reservation, sku string, ws []Warehouse, avail map[string]int64) (Outcome, bool) {
	l := r.line(sku)
	if l == nil || l.Backordered == 0 || !r.State.Open() {
		return Outcome{}, false
	}
	cands := candidates(ReserveParams{Channel: r.Channel, Strategy: r.Strategy, DestinationRegion: r.DestinationRegion}, ws)
	if !r.AllowSplit {
		var only []Warehouse
		for _, w := range cands {
			if slices.ContainsFunc(l.Allocations, func(a Allocation) bool { return a.WarehouseCode == w.Code }) {
				only = append(only, w)
			}
		}
		if len(only) == 0 {
			if best := bestSingle(cands, avail, l.Backordered); best >= 0 {
				only = []Warehouse{cands[best]}
			}
		}
		cands = only[:min(len(only), 1)]
	}
	var (
		moves []Movement
		qs    []ReservationQuantity
	)
	for _, w := range cands {
		n := min(l.Backordered, avail[w.Code])
		if n <= 0 {
			continue
		}
		l.Backordered -= n
		if i := slices.IndexFunc(l.Allocations, func(a Allocation) bool { return a.WarehouseCode == w.Code }); i >= 0 {
			l.Allocations[i].Quantity += n
		} else {
			l.Allocations = append(l.Allocations, Allocation{WarehouseCode: w.Code, Quantity: n})
		}
		moves = append(moves, Movement{SKU: sku, WarehouseCode: w.Code, Reserved: n, Cause: CauseReservation})
		qs = append(qs, ReservationQuantity{SKU: sku, WarehouseCode: w.Code, Quantity: n})
		if l.Backordered == 0 {
			break
		}
	}
	if len(moves) == 0 {
		return Outcome{}, false
	}
	return Outcome{Changed: true, Movements: mergeMovements(moves), Event: EventBackorderAllocated, Quantities: qs}, true
}
