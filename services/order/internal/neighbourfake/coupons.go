package neighbourfake

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

// fakeCoupon is a promotion by code: percent off every line, with a total
// usage limit (0: none).
type fakeCoupon struct {
	id      string
	percent int64
	limit   int
}

type fakePromoReservation struct {
	customer   string
	promotions []string
	state      catalogv1.ReservePromotionsResponse_State
}

// AddCoupon adds the promotion "promotions/{id}" applied by code (upper
// case): percent off every line, at most limit uses in total (0: no
// limit). Reserved and redeemed uses count, as in catalog-pricing.
func (p *Pricing) AddCoupon(code, id string, percent int64, limit int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.coupons == nil {
		p.coupons = map[string]*fakeCoupon{}
	}
	p.coupons[code] = &fakeCoupon{id: id, percent: percent, limit: limit}
}

// PromotionUses returns how many reserved or redeemed uses promotion id
// ("promotions/{id}") has.
func (p *Pricing) PromotionUses(id string) int {
	return locked(&p.switchable, func() int { return p.usesLocked(id) })
}

// PromotionReservation returns the state of reservation id (unspecified
// when unknown).
func (p *Pricing) PromotionReservation(id string) catalogv1.ReservePromotionsResponse_State {
	return locked(&p.switchable, func() catalogv1.ReservePromotionsResponse_State {
		if r := p.reservations[id]; r != nil {
			return r.state
		}
		return catalogv1.ReservePromotionsResponse_STATE_UNSPECIFIED
	})
}

func (p *Pricing) usesLocked(id string) int {
	n := 0
	for _, r := range p.reservations {
		if r.state != catalogv1.ReservePromotionsResponse_STATE_RELEASED && slices.Contains(r.promotions, id) {
			n++
		}
	}
	return n
}

// applyCoupons prices the entered codes into res (p.mu held): unknown and
// exhausted codes become issues, others take their percentage off every
// priced line.
func (p *Pricing) applyCoupons(entered []string, res *catalogv1.QuotePricesResponse) {
	for _, raw := range entered {
		code := strings.ToUpper(raw)
		c := p.coupons[code]
		switch {
		case c == nil:
			res.PromotionCodeIssues = append(res.PromotionCodeIssues, &catalogv1.PromotionCodeIssue{
				Code: code, Reason: catalogv1.PromotionCodeIssue_REASON_UNKNOWN})
			continue
		case c.limit > 0 && p.usesLocked("promotions/"+c.id) >= c.limit:
			res.PromotionCodeIssues = append(res.PromotionCodeIssues, &catalogv1.PromotionCodeIssue{
				Code: code, Reason: catalogv1.PromotionCodeIssue_REASON_EXHAUSTED})
			continue
		}
		var total int64
		for _, l := range res.GetLines() {
			if l.GetUnitPrice() == nil {
				continue
			}
			unit := l.GetUnitPrice().GetAmountMinor() * (100 - c.percent) / 100
			l.UnitPrice.AmountMinor = unit
			l.ExtendedPrice.AmountMinor = unit * l.GetQuantity()
			l.WinningRule = &catalogv1.PriceRule{Kind: catalogv1.RuleKind_RULE_KIND_PROMOTION, Rule: "promotions/" + c.id}
			total += l.ExtendedPrice.GetAmountMinor()
		}
		res.Total = &commonv1.Money{AmountMinor: total, CurrencyCode: res.GetTotal().GetCurrencyCode()}
		res.AppliedPromotions = append(res.AppliedPromotions, "promotions/"+c.id)
	}
}

// ReservePromotions implements catalogv1.PricingServiceServer: all or
// none against the total limits, idempotent on the reservation id.
func (p *Pricing) ReservePromotions(_ context.Context, r *catalogv1.ReservePromotionsRequest) (*catalogv1.ReservePromotionsResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil, unavailable("pricing")
	}
	if got := p.reservations[r.GetReservationId()]; got != nil {
		return p.reservationLocked(r.GetReservationId()), nil
	}
	for _, id := range r.GetPromotions() {
		for _, c := range p.coupons {
			if "promotions/"+c.id == id && c.limit > 0 && p.usesLocked(id) >= c.limit {
				return nil, apierr.Error(codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID,
					"promotion "+id+": its usage limit is reached", map[string]string{"promotion": id, "per_customer": "false"})
			}
		}
	}
	if p.reservations == nil {
		p.reservations = map[string]*fakePromoReservation{}
	}
	p.reservations[r.GetReservationId()] = &fakePromoReservation{customer: r.GetCustomerId(),
		promotions: slices.Clone(r.GetPromotions()), state: catalogv1.ReservePromotionsResponse_STATE_RESERVED}
	return p.reservationLocked(r.GetReservationId()), nil
}

// RedeemPromotionReservation implements catalogv1.PricingServiceServer.
func (p *Pricing) RedeemPromotionReservation(_ context.Context, r *catalogv1.RedeemPromotionReservationRequest) (*catalogv1.ReservePromotionsResponse, error) {
	return p.movePromoReservation(r.GetReservationId(), catalogv1.ReservePromotionsResponse_STATE_COMMITTED)
}

// ReleasePromotionReservation implements catalogv1.PricingServiceServer.
func (p *Pricing) ReleasePromotionReservation(_ context.Context, r *catalogv1.ReleasePromotionReservationRequest) (*catalogv1.ReservePromotionsResponse, error) {
	return p.movePromoReservation(r.GetReservationId(), catalogv1.ReservePromotionsResponse_STATE_RELEASED)
}

func (p *Pricing) movePromoReservation(id string, to catalogv1.ReservePromotionsResponse_State) (*catalogv1.ReservePromotionsResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil, unavailable("pricing")
	}
	r := p.reservations[id]
	if r == nil {
		return &catalogv1.ReservePromotionsResponse{ReservationId: id, State: catalogv1.ReservePromotionsResponse_STATE_RELEASED}, nil
	}
	if r.state == catalogv1.ReservePromotionsResponse_STATE_RELEASED && to == catalogv1.ReservePromotionsResponse_STATE_COMMITTED {
		return nil, apierr.Error(codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID,
			"the promotion reservation was released", nil)
	}
	r.state = to
	return p.reservationLocked(id), nil
}

func (p *Pricing) reservationLocked(id string) *catalogv1.ReservePromotionsResponse {
	r := p.reservations[id]
	return &catalogv1.ReservePromotionsResponse{ReservationId: id, State: r.state, Promotions: slices.Clone(r.promotions)}
}
