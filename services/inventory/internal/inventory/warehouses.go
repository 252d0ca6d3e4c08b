package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ErrConcurrentModification means an etag did not match the current
// version.
var ErrConcurrentModification = errors.New("resource changed concurrently")

// Etag returns the warehouse's concurrency token.
func (w Warehouse) Etag() string { return strconv.FormatInt(w.UpdateTime.UnixMicro(), 36) }

// Warehouse fields UpdateWarehouse can replace.
const (
	FieldDisplayName = "display_name"
	FieldRegion      = "region"
	FieldAddress     = "address"
	FieldPriority    = "priority"
	FieldChannels    = "channels"
	FieldActive      = "active"
)

// UpdatableWarehouseFields lists the fields of an update mask.
var UpdatableWarehouseFields = []string{FieldDisplayName, FieldRegion, FieldAddress, FieldPriority, FieldChannels, FieldActive}

// UnknownFieldError means an update mask names a field that cannot be
// updated.
type UnknownFieldError struct{ Field string }

// Error describes the failure.
func (e *UnknownFieldError) Error() string { return "field " + e.Field + " cannot be updated" }

// Is makes UnknownFieldError match ErrInvalidArgument.
func (e *UnknownFieldError) Is(target error) bool { return target == ErrInvalidArgument }

// UpdateWarehouseParams is an UpdateWarehouse request.
type UpdateWarehouseParams struct {
	RequestID string    `json:"-"`
	Warehouse Warehouse `json:"w"`
	// Fields to replace; empty means all.
	Fields []string `json:"f"`
	// Etag, when set, must match the current warehouse.
	Etag         string `json:"e"`
	AllowMissing bool   `json:"am"`
	ValidateOnly bool   `json:"vo"`
}

// WarehouseUpdateFunc computes the warehouse to store from the current
// one (exists false when there is none).
type WarehouseUpdateFunc func(cur Warehouse, exists bool) (Warehouse, error)

// UpdateWarehouse replaces the named fields of a warehouse, or creates it
// with AllowMissing; idempotent on the request id.
func (s *Service) UpdateWarehouse(ctx context.Context, p UpdateWarehouseParams) (Warehouse, error) {
	for _, f := range p.Fields {
		if !slices.Contains(UpdatableWarehouseFields, f) {
			return Warehouse{}, &UnknownFieldError{Field: f}
		}
	}
	fields := p.Fields
	if len(fields) == 0 {
		fields = UpdatableWarehouseFields
	}
	// Normalise so a replay with the same meaning has the same fingerprint.
	in := p.Warehouse
	slices.Sort(in.Channels)
	in.Channels = slices.Compact(in.Channels)
	in.CreateTime, in.UpdateTime = time.Time{}, time.Time{}
	p.Warehouse = in
	now := s.now().UTC()
	apply := func(cur Warehouse, exists bool) (Warehouse, error) {
		if !exists {
			if !p.AllowMissing {
				return Warehouse{}, fmt.Errorf("%s: %w", in.Code, ErrWarehouseNotFound)
			}
			w := in
			w.CreateTime, w.UpdateTime = now, now
			return w, nil
		}
		if p.Etag != "" && p.Etag != cur.Etag() {
			return Warehouse{}, fmt.Errorf("warehouse %s: %w", cur.Code, ErrConcurrentModification)
		}
		w := cur
		for _, f := range fields {
			switch f {
			case FieldDisplayName:
				w.DisplayName = in.DisplayName
			case FieldRegion:
				w.Region = in.Region
			case FieldAddress:
				w.Address = in.Address
			case FieldPriority:
				w.Priority = in.Priority
			case FieldChannels:
				w.Channels = in.Channels
			case FieldActive:
				w.Active = in.Active
			}
		}
		w.UpdateTime = now
		if !w.UpdateTime.After(cur.UpdateTime) {
			// Keep the etag changing even if the clock did not move.
			w.UpdateTime = cur.UpdateTime.Add(time.Microsecond)
		}
		return w, nil
	}
	if p.ValidateOnly {
		cur, err := s.store.GetWarehouse(ctx, in.Code)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrWarehouseNotFound) {
			return Warehouse{}, err
		}
		return apply(cur, exists)
	}
	w, err := s.store.UpsertWarehouse(ctx, in.Code, p.RequestID, fingerprint.Of(p), apply)
	s.warehouses.invalidate()
	return w, err
}

// warehouseCacheTTL bounds how long the warehouse cache trusts a read. A
// change through this process's UpdateWarehouse drops the cache at once;
// the TTL only bounds how late a change made by another replica sharing
// the database shows in availability answers. Reservations never use this
// cache: they take the table as their own transaction sees it (on SQLite
// from the store's exact cache, sqlstore's txWarehouses).
const warehouseCacheTTL = 2 * time.Second

// warehouseCache holds the warehouse table for availability reads, which
// otherwise re-read the static table on every call.
type warehouseCache struct {
	mu     sync.Mutex
	ws     []Warehouse
	readAt time.Time // zero: nothing cached
	// gen counts invalidations: a read that started before one must not
	// fill the cache with what it read.
	gen uint64
}

// list returns the cached table, reading it from store when it is missing
// or older than warehouseCacheTTL. The slice is shared: callers must not
// modify it.
func (c *warehouseCache) list(ctx context.Context, store Store) ([]Warehouse, error) {
	c.mu.Lock()
	ws, at, gen := c.ws, c.readAt, c.gen
	c.mu.Unlock()
	now := time.Now()
	if !at.IsZero() && now.Sub(at) < warehouseCacheTTL {
		return ws, nil
	}
	ws, err := store.ListWarehouses(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.ws, c.readAt = ws, now
	}
	c.mu.Unlock()
	return ws, nil
}

// invalidate drops the cached table.
func (c *warehouseCache) invalidate() {
	c.mu.Lock()
	c.ws, c.readAt = nil, time.Time{}
	c.gen++
	c.mu.Unlock()
}

// ReservationQuery selects a page of reservations, newest first.
type ReservationQuery struct {
	ReferenceID string
	State       ReservationState
	Channel     string
	SKU         string
	// BeforeCreate and BeforeID continue after this key (keyset paging).
	BeforeCreate time.Time
	BeforeID     string
	Limit        int
}

// ListReservations returns a page of reservations, newest first.
func (s *Service) ListReservations(ctx context.Context, q ReservationQuery) ([]Reservation, error) {
	return s.store.ListReservations(ctx, q)
}
