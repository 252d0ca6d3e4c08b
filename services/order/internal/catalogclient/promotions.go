package catalogclient

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// codeIssueError turns the first promotion code issue of a placement quote
// into the order's error: an exhausted code is *order.PromotionLimitError,
// any other issue *order.PromotionCodeError at the code's index in entered.
// A quote a storefront shows lists the issues; an order is not placed at a
// price the buyer did not expect.
func codeIssueError(entered []string, issues []*catalogv1.PromotionCodeIssue) error {
	if len(issues) == 0 {
		return nil
	}
	is := issues[0] // the first issue decides
	if is.GetReason() == catalogv1.PromotionCodeIssue_REASON_EXHAUSTED {
		return &order.PromotionLimitError{Code: is.GetCode()}
	}
	idx := 0
	for i, c := range entered {
		if strings.EqualFold(c, is.GetCode()) {
			idx = i
			break
		}
	}
	return &order.PromotionCodeError{Index: idx, Code: is.GetCode(), Reason: is.GetReason().String()}
}

// ReservePromotions implements order.Promotions (catalog.v1
// ReservePromotions). A limit reached is *order.PromotionLimitError; a
// promotion withdrawn since the quote, or a reservation id already used
// for other promotions or released, is *order.PromotionChangedError.
func (c *Client) ReservePromotions(ctx context.Context, reservationID, customerID string, promotions []string) error {
	_, err := c.c.ReservePromotions(ctx, &catalogv1.ReservePromotionsRequest{
		ReservationId: reservationID, CustomerId: customerID, Promotions: promotions,
	})
	if err == nil {
		return nil
	}
	switch {
	case status.Code(err) == codes.FailedPrecondition && apierr.HasReason(err, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID):
		md := apierr.Info(err).GetMetadata()
		switch {
		case md["reason"] == "PROMOTION_WITHDRAWN":
			return &order.PromotionChangedError{Promotion: md["promotion"], Withdrawn: true}
		case md["promotion"] == "": // the reservation id was released before this reserve
			return &order.PromotionChangedError{}
		}
		return &order.PromotionLimitError{Promotion: md["promotion"], PerCustomer: md["per_customer"] == "true"}
	case status.Code(err) == codes.AlreadyExists: // the id holds another set of promotions
		return &order.PromotionChangedError{}
	}
	return promotionCallError("ReservePromotions", err)
}

// RedeemPromotions implements order.Promotions (catalog.v1
// RedeemPromotionReservation).
func (c *Client) RedeemPromotions(ctx context.Context, reservationID string) error {
	_, err := c.c.RedeemPromotionReservation(ctx, &catalogv1.RedeemPromotionReservationRequest{ReservationId: reservationID})
	return promotionCallError("RedeemPromotionReservation", err)
}

// ReleasePromotions implements order.Promotions (catalog.v1
// ReleasePromotionReservation).
func (c *Client) ReleasePromotions(ctx context.Context, reservationID string) error {
	_, err := c.c.ReleasePromotionReservation(ctx, &catalogv1.ReleasePromotionReservationRequest{ReservationId: reservationID})
	return promotionCallError("ReleasePromotionReservation", err)
}

func promotionCallError(call string, err error) error {
	if err == nil {
		return nil
	}
	if d := orderpb.DependencyError(Target, err); d != nil {
		return d
	}
	return fmt.Errorf("catalog %s: %w", call, err)
}
