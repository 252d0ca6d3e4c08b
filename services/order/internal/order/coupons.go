package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/transload/transload/platform/fingerprint"
)

// Coupons at order placement (issue #11).
//
// The quote of a placement passes the entered promotion codes to pricing,
// which answers the promotions it applied. Their usage limits live in
// catalog-pricing: place reserves one use of each applied promotion for
// the order (reservation id = order id, so a retry after a crash converges
// on the same reservation), before stock is reserved. A retry whose new
// quote applies another set of promotions while the first attempt's
// reservation is still only reserved re-reserves: catalog-pricing gives
// the old uses back and holds the new ones in one transaction under its
// pricing lock (or keeps the old ones when a limit refuses the new set),
// so no interleaving exceeds a limit. What happens next:
//
//   - the order is stored: the reservation is redeemed (best effort; a
//     reservation that stays reserved counts against the limits exactly as
//     a redemption does, so a failed redeem never lets a limit be exceeded);
//   - placement fails after the reservation (out of stock, a broken
//     reservation answer, the store refusing, a caller gone): the promotions
//     are released with the stock (releaseAll), or right away when no stock
//     was held; when catalog-pricing cannot be reached then, the claim is
//     left to expire and the abandoned-claim reaper releases both;
//   - the ERP rejects the order or it is cancelled: the durable release
//     task the transaction queues releases the promotions before the stock
//     (runReleaseTask), retried by the worker until catalog-pricing answers.
//
// Placement cost: one ReservePromotions and one RedeemPromotionReservation
// call per order that applies a promotion, none for other orders; no extra
// durable commit in the order service (the codes and applied promotions are
// two columns of the order row).

// Promotions reserves and settles promotion usage in catalog-pricing
// (catalog.v1 ReservePromotions, RedeemPromotionReservation,
// ReleasePromotionReservation). Reserve is all or none and idempotent on
// reservationID; it returns *PromotionLimitError when a limit is reached.
// Redeem and Release are idempotent; Release of an unknown reservation is
// a no-op, and it also gives back a redeemed reservation.
type Promotions interface {
	ReservePromotions(ctx context.Context, reservationID, customerID string, promotions []string) error
	RedeemPromotions(ctx context.Context, reservationID string) error
	ReleasePromotions(ctx context.Context, reservationID string) error
}

// PromotionCodeError: an entered code does not apply to the order
// (unknown, not effective, not applicable). Index is its position in
// CreateParams.PromotionCodes; Reason is catalog.v1
// PromotionCodeIssue.Reason's name (e.g. "REASON_UNKNOWN").
type PromotionCodeError struct {
	Index  int
	Code   string
	Reason string
}

// Error describes the PromotionCodeError.
func (e *PromotionCodeError) Error() string {
	return fmt.Sprintf("promotion code %s does not apply (%s)", e.Code, strings.TrimPrefix(e.Reason, "REASON_"))
}

// PromotionLimitError: a promotion the order would apply reached its usage
// limit (per customer when PerCustomer). Code is set when the quote
// already reported the entered code exhausted, Promotion when the
// reservation was refused.
type PromotionLimitError struct {
	Promotion   string
	Code        string
	PerCustomer bool
}

// Error describes the PromotionLimitError.
func (e *PromotionLimitError) Error() string {
	what := e.Promotion
	if e.Code != "" {
		what = "code " + e.Code
	}
	if e.PerCustomer {
		return "promotion " + what + ": the customer's usage limit is reached"
	}
	return "promotion " + what + ": its usage limit is reached"
}

// PromotionChangedError: the promotions the order was priced with could
// not be reserved as quoted, because catalog-pricing withdrew one between
// the quote and the reservation (Withdrawn, Promotion names it), or
// because the reservation under this order's id was released (the
// placement was abandoned meanwhile) or already redeemed for another set.
// A retried placement whose new quote applies different promotions to a
// reservation that is still only reserved is not this error: it
// re-reserves. Nothing was created; the storefront quotes again and places
// the order anew.
type PromotionChangedError struct {
	Promotion string
	Withdrawn bool
}

// Error describes the PromotionChangedError.
func (e *PromotionChangedError) Error() string {
	if e.Withdrawn {
		return "promotion " + e.Promotion + " was withdrawn while the order was placed; quote again"
	}
	return "the order's promotion reservation no longer matches its quote; quote again and place the order with a new idempotency key"
}

// errNoPromotions: a quote applied promotions but the service has no
// Promotions dependency to reserve them with.
var errNoPromotions = errors.New("order: promotions applied but no promotion reservations configured")

// normalizeCodes upper-cases entered codes (pricing compares them without
// case), so the stored order and the idempotency fingerprint do not depend
// on how the buyer typed them.
func normalizeCodes(codes []string) []string {
	if len(codes) == 0 {
		return nil
	}
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = strings.ToUpper(strings.TrimSpace(c))
	}
	return out
}

// withCodes is the payload fingerprint of a request with promotion codes:
// base (the fingerprint without them) when there are none, so requests
// stored before codes existed keep their fingerprint.
func withCodes(base string, codes []string) string {
	if len(codes) == 0 {
		return base
	}
	return fingerprint.Of(struct {
		Base  string
		Codes []string
	}{base, codes})
}

// promotions returns the Promotions dependency: Deps.Promotions, or the
// Pricer when it also implements Promotions (catalog-pricing's client
// does both).
func (s *Service) promotions() Promotions {
	if s.d.Promotions != nil {
		return s.d.Promotions
	}
	p, _ := s.d.Pricer.(Promotions)
	return p
}

// reservePromotions reserves one use of each promotion o applies, for o's
// id. held reports whether catalog-pricing may now hold a reservation for
// the order: false after a refusal (all or none) or when nothing applied.
func (s *Service) reservePromotions(ctx context.Context, o *Order) (held bool, err error) {
	if len(o.AppliedPromotions) == 0 {
		return false, nil
	}
	pr := s.promotions()
	if pr == nil {
		return false, errNoPromotions
	}
	err = pr.ReservePromotions(ctx, o.ID, o.CustomerID, o.AppliedPromotions)
	var limit *PromotionLimitError
	if errors.As(err, &limit) {
		return false, err
	}
	return true, err
}

// afterStockFailure decides what a placement whose stock reservation
// failed still holds. tried reports whether inventory may hold stock for
// the order (not an out-of-stock refusal), held whether pricing may hold
// promotions. Promotions without stock are released now, so an
// out-of-stock refusal is stored and replayed as before; if that is not
// possible the placement counts as holding something and is abandoned
// (abandon and the reaper release it through releaseAll).
func (s *Service) afterStockFailure(ctx context.Context, orderID string, held, tried bool) bool {
	if tried || !held {
		return tried
	}
	if err := s.releasePromotions(ctx, orderID); err != nil {
		s.log.WarnContext(ctx, "could not release the promotions of a refused CreateOrder now; the claim's cleanup will",
			slog.String("order_id", orderID), slog.Any("error", err))
		return true
	}
	return false
}

// releasePromotions gives back the promotion uses reserved or redeemed for
// orderID (a no-op when there are none).
func (s *Service) releasePromotions(ctx context.Context, orderID string) error {
	pr := s.promotions()
	if pr == nil {
		return nil
	}
	return pr.ReleasePromotions(ctx, orderID)
}

// redeemPromotions turns o's reservation into a redemption once o is
// stored. A failure is logged only: the reservation keeps counting against
// the limits, and cancellation releases either state.
func (s *Service) redeemPromotions(ctx context.Context, o *Order) {
	if len(o.AppliedPromotions) == 0 {
		return
	}
	pr := s.promotions()
	if pr == nil {
		return
	}
	if err := pr.RedeemPromotions(ctx, o.ID); err != nil {
		s.log.WarnContext(ctx, "redeem promotion reservation; it stays reserved (still counted)",
			slog.String("order_id", o.ID), slog.Any("error", err))
	}
}

// runReleaseTask performs a durable release task (queued by a cancellation
// or an ERP rejection): it gives back the order's promotion uses, then its
// stock reservation. Both are idempotent, so a retried task repeats them
// safely.
func (s *Service) runReleaseTask(ctx context.Context, t ReleaseTask) error {
	o, err := s.d.Store.GetOrder(ctx, t.OrderID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	case len(o.AppliedPromotions) > 0:
		if err := s.releasePromotions(ctx, t.OrderID); err != nil {
			return fmt.Errorf("release promotions: %w", err)
		}
	}
	return s.d.Inventory.Release(ctx, t.ReservationID, "release:"+t.OrderID, t.Reason)
}
