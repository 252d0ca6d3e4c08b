package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/transload/transload/platform/fingerprint"
)

// Service implements the inventory use cases on a Store.
type Service struct {
	store      Store
	now        func() time.Time
	newID      func() string
	maxHoldTTL time.Duration
	logger     *slog.Logger
	// loaded is set once the store holds the initial load; until then
	// every stock read or write fails with ErrNotLoaded.
	loaded atomic.Bool
	// onChange runs after a committed change that wrote events (the outbox
	// relay's Notify).
	onChange func()
	// snapshots reads adapter snapshots for reconciliation (nil: inline
	// snapshots only).
	snapshots    SnapshotReader
	reconTimeout time.Duration
	// gapTimeout is how long a buffered stock event may wait before its
	// gap is raised as an exception.
	gapTimeout time.Duration
	// varianceThreshold is the smallest |variance| (units) a
	// reconciliation raises as an exception.
	varianceThreshold int64
	// warehouses caches the warehouse table for availability reads.
	warehouses warehouseCache
	// bg tracks background reconciliation runs; stopBG cancels them.
	bg     sync.WaitGroup
	bgCtx  context.Context
	stopBG context.CancelFunc
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithIDs sets the reservation id generator (default UUIDv7).
func WithIDs(newID func() string) Option { return func(s *Service) { s.newID = newID } }

// WithMaxHoldTTL sets the longest accepted hold TTL (default 24h).
func WithMaxHoldTTL(d time.Duration) Option { return func(s *Service) { s.maxHoldTTL = d } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.logger = l } }

// WithSnapshotReader sets the adapter reconciliation reads snapshots from.
func WithSnapshotReader(r SnapshotReader) Option { return func(s *Service) { s.snapshots = r } }

// WithReconciliationTimeout bounds one reconciliation run (default 15m).
func WithReconciliationTimeout(d time.Duration) Option {
	return func(s *Service) { s.reconTimeout = d }
}

// WithGapTimeout sets how long a buffered stock event may wait for its
// predecessor before RaiseOverdueGaps raises the gap (default 10m).
func WithGapTimeout(d time.Duration) Option { return func(s *Service) { s.gapTimeout = d } }

// WithVarianceExceptionThreshold sets the smallest variance, in units
// either way, that a reconciliation raises as an INVENTORY_VARIANCE
// exception (default 1: every real variance).
func WithVarianceExceptionThreshold(units int64) Option {
	return func(s *Service) { s.varianceThreshold = units }
}

// WithChangeHook runs f after every committed change that wrote events.
func WithChangeHook(f func()) Option { return func(s *Service) { s.onChange = f } }

// NewService returns a Service over store. It is not Loaded until
// MarkLoaded is called (by the Loader).
func NewService(store Store, opts ...Option) *Service {
	s := &Service{
		store:             store,
		now:               time.Now,
		newID:             func() string { return uuid.Must(uuid.NewV7()).String() },
		maxHoldTTL:        24 * time.Hour,
		logger:            slog.Default(),
		onChange:          func() {},
		reconTimeout:      15 * time.Minute,
		gapTimeout:        10 * time.Minute,
		varianceThreshold: 1,
	}
	for _, o := range opts {
		o(s)
	}
	s.bgCtx, s.stopBG = context.WithCancel(context.Background())
	return s
}

// Close cancels background reconciliation runs and waits for them (they
// end FAILED).
func (s *Service) Close() {
	s.stopBG()
	s.bg.Wait()
}

// MarkLoaded records that the store holds the initial load.
func (s *Service) MarkLoaded() {
	s.warehouses.invalidate()
	s.loaded.Store(true)
}

// Loaded reports whether the initial load is done.
func (s *Service) Loaded() bool { return s.loaded.Load() }

func (s *Service) checkLoaded() error {
	if !s.loaded.Load() {
		return ErrNotLoaded
	}
	return nil
}

// ListWarehouses returns every warehouse ordered by priority, then code.
func (s *Service) ListWarehouses(ctx context.Context) ([]Warehouse, error) {
	if err := s.checkLoaded(); err != nil {
		return nil, err
	}
	return s.store.ListWarehouses(ctx)
}

// GetWarehouse returns one warehouse.
func (s *Service) GetWarehouse(ctx context.Context, code string) (Warehouse, error) {
	if err := s.checkLoaded(); err != nil {
		return Warehouse{}, err
	}
	return s.store.GetWarehouse(ctx, code)
}

// GetStockLevel returns the stock of sku in warehouse; an unknown warehouse
// fails with ErrWarehouseNotFound, a missing level with
// ErrStockLevelNotFound.
func (s *Service) GetStockLevel(ctx context.Context, sku, warehouse string) (StockLevel, error) {
	if err := s.checkLoaded(); err != nil {
		return StockLevel{}, err
	}
	l, err := s.store.GetStockLevel(ctx, sku, warehouse)
	if err != nil && errors.Is(err, ErrStockLevelNotFound) {
		if _, werr := s.store.GetWarehouse(ctx, warehouse); werr != nil {
			return StockLevel{}, werr
		}
	}
	return l, err
}

// ListStockLevels returns a page of stock levels; an unknown warehouse
// fails with ErrWarehouseNotFound.
func (s *Service) ListStockLevels(ctx context.Context, q StockLevelQuery) ([]StockLevel, error) {
	if err := s.checkLoaded(); err != nil {
		return nil, err
	}
	if q.WarehouseCode != "" {
		if _, err := s.store.GetWarehouse(ctx, q.WarehouseCode); err != nil {
			return nil, err
		}
	}
	return s.store.ListStockLevels(ctx, q)
}

// AvailabilityQuery asks for the availability of SKUs.
type AvailabilityQuery struct {
	SKUs []string
	// Channel limits the count to active warehouses serving it; empty
	// counts every active warehouse.
	Channel string
	// WarehouseCodes further restricts the counted warehouses.
	WarehouseCodes []string
}

// SKUAvailability is the availability of one SKU.
type SKUAvailability struct {
	SKU            string
	Known          bool
	TotalAvailable int64
	TotalInbound   int64
	Warehouses     []WarehouseAvailability
	// StockSequence is the sum of the revisions of all the SKU's levels.
	StockSequence int64
}

// WarehouseAvailability is the availability of one SKU in one warehouse.
type WarehouseAvailability struct {
	WarehouseCode   string
	Quantities      Quantities
	NextInboundDate Date
	// Revision is the level's revision (the sequence of its last
	// StockChangedEvent), so readers projecting those events can tell
	// whether they are as new as this answer.
	Revision int64
}

// CheckAvailability returns the availability of each requested SKU, in
// request order, and the read time. The warehouse table comes from the
// warehouse cache (see warehouseCache); the stock levels are read live.
func (s *Service) CheckAvailability(ctx context.Context, q AvailabilityQuery) ([]SKUAvailability, time.Time, error) {
	if err := s.checkLoaded(); err != nil {
		return nil, time.Time{}, err
	}
	ws, err := s.warehouses.list(ctx, s.store)
	if err != nil {
		return nil, time.Time{}, err
	}
	levels, err := s.store.StockLevelsForSKUs(ctx, q.SKUs)
	if err != nil {
		return nil, time.Time{}, err
	}
	readTime := s.now().UTC()
	var counted []Warehouse
	for _, w := range ws {
		if w.Serves(q.Channel) && (len(q.WarehouseCodes) == 0 || slices.Contains(q.WarehouseCodes, w.Code)) {
			counted = append(counted, w)
		}
	}
	bySKU := map[string]map[string]StockLevel{}
	for _, l := range levels {
		if bySKU[l.SKU] == nil {
			bySKU[l.SKU] = map[string]StockLevel{}
		}
		bySKU[l.SKU][l.WarehouseCode] = l
	}
	out := make([]SKUAvailability, 0, len(q.SKUs))
	for _, sku := range q.SKUs {
		a := SKUAvailability{SKU: sku}
		m := bySKU[sku]
		a.Known = len(m) > 0
		for _, l := range m {
			a.StockSequence += l.Revision
		}
		for _, w := range counted {
			l, ok := m[w.Code]
			if !ok {
				continue
			}
			a.TotalAvailable += l.Available()
			a.TotalInbound += l.InboundTotal
			a.Warehouses = append(a.Warehouses, WarehouseAvailability{
				WarehouseCode: w.Code, Quantities: l.Quantities, NextInboundDate: l.NextInboundDate(), Revision: l.Revision,
			})
		}
		out = append(out, a)
	}
	return out, readTime, nil
}

// Reserve allocates stock for p (see Store.Reserve for idempotency). It
// returns the reservation and whether this call created it.
func (s *Service) Reserve(ctx context.Context, p ReserveParams) (Reservation, bool, error) {
	if err := s.checkLoaded(); err != nil {
		return Reservation{}, false, err
	}
	p = p.withDefaults()
	if p.HoldTTL > s.maxHoldTTL {
		return Reservation{}, false, &HoldTTLTooLongError{Max: s.maxHoldTTL}
	}
	now := s.now().UTC()
	r, created, err := s.store.Reserve(ctx, p, now, func(ws []Warehouse, levels []StockLevel) (Reservation, []Movement, error) {
		lines, moves, err := Allocate(p, ws, levels)
		if err != nil {
			return Reservation{}, nil, err
		}
		r := Reservation{
			ID:                s.newID(),
			RequestID:         p.RequestID,
			ReferenceID:       p.ReferenceID,
			Channel:           p.Channel,
			State:             StateConfirmed,
			Strategy:          p.Strategy,
			AllowSplit:        p.AllowSplit,
			BackorderPolicy:   p.BackorderPolicy,
			DestinationRegion: p.DestinationRegion,
			Lines:             lines,
			CreateTime:        now,
			UpdateTime:        now,
			Version:           1,
		}
		if p.Strategy != StrategyNearestRegion {
			r.DestinationRegion = ""
		}
		if p.HoldTTL > 0 {
			r.State = StateHeld
			r.ExpireTime = now.Add(p.HoldTTL)
		}
		return r, moves, nil
	})
	if err != nil {
		return Reservation{}, false, fmt.Errorf("reserve %s: %w", p.ReferenceID, err)
	}
	if created {
		s.onChange()
	}
	return r, created, nil
}

// GetReservation returns one reservation.
func (s *Service) GetReservation(ctx context.Context, id string) (Reservation, error) {
	return s.store.GetReservation(ctx, id)
}

// ReleaseParams is a release request.
type ReleaseParams struct {
	ID        string        `json:"-"`
	RequestID string        `json:"-"`
	Lines     []ReleaseLine `json:"lines"`
	Reason    string        `json:"reason"`
	// Actor is who releases (audit trail; ServiceActor when unset).
	Actor Actor `json:"-"`
}

// Release gives open quantities of a reservation back to available;
// releasing a RELEASED or EXPIRED reservation is a no-op, a COMMITTED one
// fails with *StateConflictError.
func (s *Service) Release(ctx context.Context, p ReleaseParams) (Reservation, error) {
	if err := s.checkLoaded(); err != nil {
		return Reservation{}, err
	}
	op := Operation{Kind: "release", RequestID: p.RequestID, Fingerprint: fingerprint.Of(p), Actor: p.Actor}
	return s.update(ctx, p.ID, op, func(r *Reservation) (Outcome, error) {
		switch r.State {
		case StateReleased, StateExpired:
			return Outcome{}, nil
		case StateCommitted:
			return Outcome{}, &StateConflictError{Reservation: r.Name(), State: r.State, Operation: "release"}
		case StateHeld, StateConfirmed:
			// Open: released below.
		}
		moves, released, err := r.release(p.Lines)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Changed: true, Movements: moves, Event: EventReleased, Quantities: released, Reason: p.Reason}, nil
	})
}

// CommitParams is a shipment commit.
type CommitParams struct {
	ID            string       `json:"-"`
	RequestID     string       `json:"-"`
	WarehouseCode string       `json:"wh"`
	ShipmentID    string       `json:"shipment"`
	Lines         []CommitLine `json:"lines"`
	// Actor is who commits (audit trail; ServiceActor when unset).
	Actor Actor `json:"-"`
}

// Commit records a shipment against a reservation, idempotent per
// (reservation, shipment id).
func (s *Service) Commit(ctx context.Context, p CommitParams) (Reservation, error) {
	if err := s.checkLoaded(); err != nil {
		return Reservation{}, err
	}
	op := Operation{Kind: "commit", RequestID: p.RequestID, Fingerprint: fingerprint.Of(p), ShipmentID: p.ShipmentID, Actor: p.Actor}
	return s.update(ctx, p.ID, op, func(r *Reservation) (Outcome, error) {
		return CommitShipment(r, p.WarehouseCode, p.ShipmentID, p.Lines)
	})
}

// ConfirmParams confirms a hold.
type ConfirmParams struct {
	ID          string `json:"-"`
	RequestID   string `json:"-"`
	ReferenceID string `json:"ref"`
	// Actor is who confirms (audit trail; ServiceActor when unset).
	Actor Actor `json:"-"`
}

// Confirm turns a HELD reservation into a CONFIRMED one (no-op when already
// CONFIRMED).
func (s *Service) Confirm(ctx context.Context, p ConfirmParams) (Reservation, error) {
	if err := s.checkLoaded(); err != nil {
		return Reservation{}, err
	}
	now := s.now().UTC()
	op := Operation{Kind: "confirm", RequestID: p.RequestID, Fingerprint: fingerprint.Of(p), Actor: p.Actor}
	return s.update(ctx, p.ID, op, func(r *Reservation) (Outcome, error) {
		switch {
		case r.State == StateConfirmed && (p.ReferenceID == "" || p.ReferenceID == r.ReferenceID):
			return Outcome{}, nil
		case r.State == StateExpired || (r.State == StateHeld && !now.Before(r.ExpireTime)):
			return Outcome{}, &ReservationExpiredError{Reservation: r.Name(), ExpireTime: r.ExpireTime}
		case !r.State.Open():
			return Outcome{}, &StateConflictError{Reservation: r.Name(), State: r.State, Operation: "confirm"}
		}
		r.State = StateConfirmed
		r.ExpireTime = time.Time{}
		if p.ReferenceID != "" {
			r.ReferenceID = p.ReferenceID
		}
		return Outcome{Changed: true}, nil
	})
}

// ExtendParams extends a hold.
type ExtendParams struct {
	ID        string        `json:"-"`
	RequestID string        `json:"-"`
	TTL       time.Duration `json:"ttl"`
	// Actor is who extends (audit trail; ServiceActor when unset).
	Actor Actor `json:"-"`
}

// Extend sets a HELD reservation's expiry to now + TTL.
func (s *Service) Extend(ctx context.Context, p ExtendParams) (Reservation, error) {
	if err := s.checkLoaded(); err != nil {
		return Reservation{}, err
	}
	if p.TTL > s.maxHoldTTL {
		return Reservation{}, &HoldTTLTooLongError{Max: s.maxHoldTTL}
	}
	now := s.now().UTC()
	op := Operation{Kind: "extend", RequestID: p.RequestID, Fingerprint: fingerprint.Of(p), Actor: p.Actor}
	return s.update(ctx, p.ID, op, func(r *Reservation) (Outcome, error) {
		switch {
		case r.State == StateExpired || (r.State == StateHeld && !now.Before(r.ExpireTime)):
			return Outcome{}, &ReservationExpiredError{Reservation: r.Name(), ExpireTime: r.ExpireTime}
		case r.State != StateHeld:
			return Outcome{}, &StateConflictError{Reservation: r.Name(), State: r.State, Operation: "extend"}
		}
		r.ExpireTime = now.Add(p.TTL)
		return Outcome{Changed: true}, nil
	})
}

// ExpireDue expires up to limit HELD reservations past their expiry and
// returns how many it expired.
func (s *Service) ExpireDue(ctx context.Context, limit int) (int, error) {
	now := s.now().UTC()
	ids, err := s.store.DueHolds(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		expired := false
		_, err := s.update(ctx, id, Operation{Kind: "expire", Actor: ServiceActor}, func(r *Reservation) (Outcome, error) {
			expired = HoldDue(r, now)
			if !expired {
				return Outcome{}, nil
			}
			return Expire(r), nil
		})
		if err != nil {
			return n, fmt.Errorf("expire %s: %w", id, err)
		}
		if expired {
			n++
		}
	}
	return n, nil
}

// HoldDue reports whether r is a HELD reservation whose expiry is at or
// before now.
func HoldDue(r *Reservation, now time.Time) bool {
	return r.State == StateHeld && !now.Before(r.ExpireTime)
}

// Expire ends a HELD reservation as EXPIRED and returns the outcome to
// store (movements giving its open stock back).
func Expire(r *Reservation) Outcome {
	moves, released := r.expire()
	return Outcome{Changed: true, Movements: moves, Event: EventExpired, Quantities: released}
}

// expireAllDue expires due holds in batches until none is left (or an
// error, logged).
func (s *Service) expireAllDue(ctx context.Context) {
	for {
		n, err := s.ExpireDue(ctx, 100)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.WarnContext(ctx, "inventory: expire holds", slog.Any("error", err))
			}
			return
		}
		if n > 0 {
			s.logger.InfoContext(ctx, "inventory: expired holds", slog.Int("count", n))
		}
		if n < 100 {
			return
		}
	}
}

func (s *Service) update(ctx context.Context, id string, op Operation, fn UpdateFunc) (Reservation, error) {
	changed := false
	r, err := s.store.UpdateReservation(ctx, id, op, s.now().UTC(), func(r *Reservation) (Outcome, error) {
		out, err := fn(r)
		changed = err == nil && out.Changed
		return out, err
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("%s %s: %w", op.Kind, id, err)
	}
	if changed {
		s.onChange()
	}
	return r, nil
}

// Stats returns operational figures; a buffered stock event older than
// gapTimeout counts as overdue (an open sequence gap operators must look at).
func (s *Service) Stats(ctx context.Context, gapTimeout time.Duration) (Stats, error) {
	return s.store.Stats(ctx, s.now().UTC().Add(-gapTimeout))
}
