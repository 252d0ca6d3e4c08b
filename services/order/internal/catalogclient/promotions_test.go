package catalogclient_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/catalogclient"
	"github.com/transload/transload/services/order/internal/order"
)

// refusingPricing answers every ReservePromotions with err.
type refusingPricing struct {
	catalogv1.UnimplementedPricingServiceServer
	err error
}

func (p *refusingPricing) ReservePromotions(context.Context, *catalogv1.ReservePromotionsRequest) (*catalogv1.ReservePromotionsResponse, error) {
	return nil, p.err
}

// TestReservePromotionsRefusals: catalog-pricing's refusals of a
// reservation become the order's errors — a usage limit is a limit, a
// withdrawn promotion or a reservation id used for another set (or
// released) is a changed promotion, never an unknown (INTERNAL) error.
func TestReservePromotionsRefusals(t *testing.T) {
	t.Parallel()
	invalid := catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID
	for _, tc := range []struct {
		name string
		err  error
		want func(error) bool
	}{
		{"limit", apierr.Error(codes.FailedPrecondition, invalid, "limit", map[string]string{"promotion": "promotions/p", "per_customer": "true"}),
			func(err error) bool {
				var e *order.PromotionLimitError
				return errors.As(err, &e) && e.Promotion == "promotions/p" && e.PerCustomer
			}},
		{"withdrawn", apierr.Error(codes.FailedPrecondition, invalid, "withdrawn", map[string]string{"promotion": "promotions/p", "reason": "PROMOTION_WITHDRAWN"}),
			func(err error) bool {
				var e *order.PromotionChangedError
				return errors.As(err, &e) && e.Withdrawn && e.Promotion == "promotions/p"
			}},
		{"released", apierr.Error(codes.FailedPrecondition, invalid, "released", nil),
			func(err error) bool { var e *order.PromotionChangedError; return errors.As(err, &e) && !e.Withdrawn }},
		{"reused id", status.Error(codes.AlreadyExists, "reservation id reused"),
			func(err error) bool { var e *order.PromotionChangedError; return errors.As(err, &e) && !e.Withdrawn }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := catalogclient.New(servePricing(t, &refusingPricing{err: tc.err}))
			if err := c.ReservePromotions(t.Context(), "orders/o-1", "C0001", []string{"promotions/p"}); !tc.want(err) {
				t.Fatalf("ReservePromotions = %T %v", err, err)
			}
		})
	}
}
