package pricing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReservationState is the state of a promotion reservation.
type ReservationState string

// Reservation states: reserved and redeemed count against the limits.
const (
	Reserved ReservationState = "reserved"
	Redeemed ReservationState = "committed"
	Released ReservationState = "released"
)

// Reservation is one order's hold on promotions.
type Reservation struct {
	ID         string
	Customer   string
	Promotions []string // promotion ids, sorted
	State      ReservationState
}

// ReservationRow is one stored (reservation, promotion) pair.
type ReservationRow struct {
	Reservation string
	Promotion   string
	Customer    string
	State       ReservationState
	UpdateTime  time.Time
}

// LimitReachedError: a promotion's usage limit leaves no redemption for
// the customer.
type LimitReachedError struct {
	Promotion   string
	PerCustomer bool
}

// Error describes the LimitReachedError.
func (e *LimitReachedError) Error() string {
	if e.PerCustomer {
		return "promotion " + e.Promotion + ": the customer's usage limit is reached"
	}
	return "promotion " + e.Promotion + ": its usage limit is reached"
}

// PromotionWithdrawnError: a promotion the quote applied is no longer
// published when the order reserves it (deleted or ended in between). It
// wraps ErrPromotionNotFound; the API answers FAILED_PRECONDITION with
// the promotion, so the order is refused with a reason, not an internal
// error.
type PromotionWithdrawnError struct{ Promotion string }

// Error describes the PromotionWithdrawnError.
func (e *PromotionWithdrawnError) Error() string {
	return "promotion " + e.Promotion + " was withdrawn after the quote"
}

// Unwrap makes errors.Is(err, ErrPromotionNotFound) hold.
func (e *PromotionWithdrawnError) Unwrap() error { return ErrPromotionNotFound }

// ErrReservationReleased: a released reservation cannot be redeemed, and
// a reservation id released before it was reserved cannot be reserved.
var ErrReservationReleased = errors.New("promotion reservation was released")

// releasedMarker is the promotion id of the row a release of an unknown
// reservation id stores: the release may have overtaken a reserve still in
// flight (the order gave up on its call), and that reserve, arriving
// later, must not hold the uses nobody will release. The row is in state
// released, so it never counts against a limit.
const releasedMarker = ""

func releasedEarly(rows []ReservationRow) bool {
	return len(rows) == 1 && rows[0].Promotion == releasedMarker
}

func reservationOf(rows []ReservationRow) Reservation {
	r := Reservation{State: Released}
	for i, row := range rows {
		if i == 0 {
			r.ID, r.Customer, r.State = row.Reservation, row.Customer, row.State
		}
		r.Promotions = append(r.Promotions, row.Promotion)
	}
	slices.Sort(r.Promotions)
	return r
}

// reservationDropper is a Tx that can delete a reservation's rows, which
// re-reservation needs (sqlstore's Tx on both engines). A Tx without it
// keeps refusing another promotion set with ErrIdempotencyKeyReused.
type reservationDropper interface {
	DropReservation(id string) error
}

// ReservePromotions holds one redemption of each promotion (ids) for
// reservation id (an order id) and customer, all or none, checking the
// per-customer and total limits of the published promotions under the
// pricing lock, so concurrent reservations never exceed a limit. The
// same id again returns the existing reservation. The same id with
// another promotion set while the reservation is still only reserved (a
// retried placement whose new quote applies other promotions) re-reserves:
// in the same transaction the old uses stop counting and the new set is
// checked and held, or, when the new set is refused, the old reservation
// stays as it was. Errors: *PromotionWithdrawnError (wraps
// ErrPromotionNotFound), *LimitReachedError, ErrIdempotencyKeyReused (the
// id was used for another customer, or for another promotion set and
// already redeemed), ErrReservationReleased (the id was released, before
// this reserve arrived or after an earlier one: the order gave up on it,
// and a late reserve must not hold uses nobody gives back).
func (s *Service) ReservePromotions(ctx context.Context, id, customer string, ids []string) (Reservation, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	now := s.now().UTC()
	var out Reservation
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		rows, err := tx.Reservation(id)
		if err != nil {
			return err
		}
		if releasedEarly(rows) {
			return fmt.Errorf("%w before it was reserved", ErrReservationReleased)
		}
		var (
			held    []string // the uses this id holds now, replaced below
			dropper reservationDropper
		)
		if len(rows) > 0 {
			out = reservationOf(rows)
			var canDrop bool
			dropper, canDrop = tx.(reservationDropper)
			switch {
			case out.Customer != customer:
				return ErrIdempotencyKeyReused
			case out.State == Released:
				return ErrReservationReleased
			case slices.Equal(out.Promotions, ids):
				return nil
			case out.State != Reserved || !canDrop:
				return ErrIdempotencyKeyReused
			}
			held = out.Promotions
		}
		_, snap, err := tx.PublishedRules(0)
		if err != nil {
			return err
		}
		usage, err := tx.Usage(customer)
		if err != nil {
			return err
		}
		for _, pid := range ids {
			i := slices.IndexFunc(snap.Promotions, func(p Promotion) bool { return p.ID == pid })
			if i < 0 {
				return &PromotionWithdrawnError{Promotion: pid}
			}
			p, u := snap.Promotions[i], usage[pid]
			if slices.Contains(held, pid) { // this reservation's own use, given up for the new set
				u.Customer, u.Total = u.Customer-1, u.Total-1
			}
			if p.PerCustomerLimit > 0 && u.Customer >= p.PerCustomerLimit {
				return &LimitReachedError{Promotion: p.Name(), PerCustomer: true}
			}
			if p.TotalLimit > 0 && u.Total >= p.TotalLimit {
				return &LimitReachedError{Promotion: p.Name()}
			}
		}
		if dropper != nil {
			if err := dropper.DropReservation(id); err != nil {
				return err
			}
		}
		for _, pid := range ids {
			if err := tx.PutReservation(ReservationRow{Reservation: id, Promotion: pid, Customer: customer, State: Reserved, UpdateTime: now}); err != nil {
				return err
			}
		}
		out = Reservation{ID: id, Customer: customer, Promotions: ids, State: Reserved}
		return nil
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve promotions %s: %w", id, err)
	}
	return out, nil
}

// RedeemReservation makes reservation id a redemption (the order was
// placed); again is a no-op. An unknown id answers a released, empty
// reservation. Errors: ErrReservationReleased.
func (s *Service) RedeemReservation(ctx context.Context, id string) (Reservation, error) {
	return s.moveReservation(ctx, id, Redeemed)
}

// ReleaseReservation gives reservation id's redemptions back (the order
// was refused or cancelled, also after redemption); again is a no-op. An
// unknown id is recorded as released, so a reserve under it that was still
// in flight is refused when it arrives (ErrReservationReleased) instead of
// holding uses nobody releases.
func (s *Service) ReleaseReservation(ctx context.Context, id string) (Reservation, error) {
	return s.moveReservation(ctx, id, Released)
}

func (s *Service) moveReservation(ctx context.Context, id string, to ReservationState) (Reservation, error) {
	now := s.now().UTC()
	var out Reservation
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		rows, err := tx.Reservation(id)
		if err != nil {
			return err
		}
		if len(rows) == 0 || releasedEarly(rows) {
			out = Reservation{ID: id, State: Released}
			switch {
			case len(rows) > 0:
				if to == Redeemed {
					return ErrReservationReleased
				}
				return nil
			case to == Released:
				return tx.PutReservation(ReservationRow{Reservation: id, Promotion: releasedMarker, State: Released, UpdateTime: now})
			}
			return nil
		}
		out = reservationOf(rows)
		switch {
		case out.State == to:
			return nil
		case out.State == Released && to == Redeemed:
			return ErrReservationReleased
		}
		out.State = to
		return tx.SetReservationState(id, to, now)
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("%s promotion reservation %s: %w", strings.TrimSuffix(string(to), "d"), id, err)
	}
	return out, nil
}
