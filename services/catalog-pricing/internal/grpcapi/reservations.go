package grpcapi

import (
	"context"
	"strings"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

var reservationStates = map[pricing.ReservationState]catalogv1.ReservePromotionsResponse_State{
	pricing.Reserved: catalogv1.ReservePromotionsResponse_STATE_RESERVED,
	pricing.Redeemed: catalogv1.ReservePromotionsResponse_STATE_COMMITTED,
	pricing.Released: catalogv1.ReservePromotionsResponse_STATE_RELEASED,
}

func reservationToProto(r pricing.Reservation) *catalogv1.ReservePromotionsResponse {
	out := &catalogv1.ReservePromotionsResponse{ReservationId: r.ID, State: reservationStates[r.State]}
	for _, p := range r.Promotions {
		out.Promotions = append(out.Promotions, "promotions/"+p)
	}
	return out
}

// ReservePromotions implements PricingService.ReservePromotions.
func (s *PricingServer) ReservePromotions(ctx context.Context, req *catalogv1.ReservePromotionsRequest) (*catalogv1.ReservePromotionsResponse, error) {
	ids := make([]string, 0, len(req.GetPromotions()))
	for _, p := range req.GetPromotions() {
		ids = append(ids, strings.TrimPrefix(p, "promotions/"))
	}
	r, err := s.svc.ReservePromotions(ctx, req.GetReservationId(), req.GetCustomerId(), ids)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return reservationToProto(r), nil
}

// RedeemPromotionReservation implements PricingService.RedeemPromotionReservation.
func (s *PricingServer) RedeemPromotionReservation(ctx context.Context, req *catalogv1.RedeemPromotionReservationRequest) (*catalogv1.ReservePromotionsResponse, error) {
	r, err := s.svc.RedeemReservation(ctx, req.GetReservationId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return reservationToProto(r), nil
}

// ReleasePromotionReservation implements PricingService.ReleasePromotionReservation.
func (s *PricingServer) ReleasePromotionReservation(ctx context.Context, req *catalogv1.ReleasePromotionReservationRequest) (*catalogv1.ReservePromotionsResponse, error) {
	r, err := s.svc.ReleaseReservation(ctx, req.GetReservationId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return reservationToProto(r), nil
}
