package grpcapi_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
)

const (
	reserved  = catalogv1.ReservePromotionsResponse_STATE_RESERVED
	committed = catalogv1.ReservePromotionsResponse_STATE_COMMITTED
	released  = catalogv1.ReservePromotionsResponse_STATE_RELEASED
)

func withCodes(r *orderv1.CreateOrderRequest, codes ...string) *orderv1.CreateOrderRequest {
	r.PromotionCodes = codes
	return r
}

// TestCouponPlacedRedeemedAndGivenBack (issue #11): an order placed with a
// code is priced with it, stores the code and the applied promotion (shown
// by GetOrder), and redeems one use under the order id; a replay takes no
// second use; cancelling the order gives the use back.
func TestCouponPlacedRedeemedAndGivenBack(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		e.pricing.AddCoupon("SAVE10", "save10", 10, 0)
		r := withCodes(createReq("coupon-1", "C0007", line{"SKU-00010", 2}), "save10")
		o := e.create(t, r)
		if got := o.GetTotals().GetSubtotal().GetAmountMinor(); got != 1800 {
			t.Errorf("subtotal = %d, want 1800 (2 × 1000 less 10 %%)", got)
		}
		id := o.GetOrderId()
		got := e.get(t, id)
		if !slices.Equal(got.GetPromotionCodes(), []string{"SAVE10"}) || !slices.Equal(got.GetAppliedPromotions(), []string{"promotions/save10"}) {
			t.Errorf("GetOrder codes %q, applied %q; want [SAVE10], [promotions/save10]", got.GetPromotionCodes(), got.GetAppliedPromotions())
		}
		if st := e.pricing.PromotionReservation(id); st != committed {
			t.Errorf("reservation of %s = %s, want committed", id, st)
		}
		res, err := e.client.CreateOrder(t.Context(), r)
		if err != nil || !res.GetReplayed() || res.GetOrder().GetOrderId() != id {
			t.Fatalf("replay = %v, %v; want the same order replayed", res, err)
		}
		if n := e.pricing.PromotionUses("promotions/save10"); n != 1 {
			t.Errorf("uses after a replay = %d, want 1", n)
		}
		if _, err := e.client.CancelOrder(t.Context(), &orderv1.CancelOrderRequest{Name: "orders/" + id, RequestId: "coupon-cancel", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		waitEqual(t, "the cancelled order's promotion released", func() catalogv1.ReservePromotionsResponse_State {
			return e.pricing.PromotionReservation(id)
		}, released)
	})
}

// TestCouponRefusals: a code that does not apply is INVALID_ARGUMENT on
// its index and reserves nothing; an exhausted code is FAILED_PRECONDITION
// PROMOTION_LIMIT_REACHED; an order refused for stock after its promotion
// was reserved gives the use back; an order the ERP rejects gives it back.
func TestCouponRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pricing.AddCoupon("ONCE", "once", 5, 1)
	e.pricing.AddCoupon("SAVE10", "save10", 10, 0)

	_, err := e.client.CreateOrder(t.Context(), withCodes(createReq("bad-code", "C0007", line{"SKU-00010", 1}), "SAVE10", "NOPE"))
	vs := apierr.FieldViolations(err)
	if status.Code(err) != codes.InvalidArgument || len(vs) != 1 || vs[0].Field != "promotion_codes[1]" || vs[0].Reason != "REASON_UNKNOWN" {
		t.Errorf("unknown code: %v %+v, want INVALID_ARGUMENT on promotion_codes[1] REASON_UNKNOWN", err, vs)
	}
	if n := e.pricing.PromotionUses("promotions/save10"); n != 0 {
		t.Errorf("an order refused for its code holds %d uses", n)
	}

	// 11 of SKU-00500 is more than its 10 in stock: the use is given back.
	_, err = e.client.CreateOrder(t.Context(), withCodes(createReq("short", "C0007", line{"SKU-00500", 11}), "ONCE"))
	if !apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK) {
		t.Fatalf("short order: %v, want OUT_OF_STOCK", err)
	}
	if n := e.pricing.PromotionUses("promotions/once"); n != 0 {
		t.Errorf("an order refused for stock holds %d uses of its promotion", n)
	}

	first := e.create(t, withCodes(createReq("once-1", "C0007", line{"SKU-00010", 1}), "ONCE"))
	_, err = e.client.CreateOrder(t.Context(), withCodes(createReq("once-2", "C0008", line{"SKU-00010", 1}), "ONCE"))
	if status.Code(err) != codes.FailedPrecondition || !apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_PROMOTION_LIMIT_REACHED) ||
		apierr.Info(err).GetMetadata()["code"] != "ONCE" {
		t.Errorf("second use of a one-use code: %v, want FAILED_PRECONDITION PROMOTION_LIMIT_REACHED with code ONCE", err)
	}
	if st := e.pricing.PromotionReservation(first.GetOrderId()); st != committed {
		t.Errorf("first order's reservation = %s, want committed", st)
	}

	e.erp.RejectCustomer("C0009", erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT)
	rej := e.create(t, withCodes(createReq("rejected", "C0009", line{"SKU-00010", 1}), "SAVE10"))
	e.waitState(t, rej.GetOrderId(), orderv1.Order_STATE_REJECTED)
	waitEqual(t, "the rejected order's promotion released", func() catalogv1.ReservePromotionsResponse_State {
		return e.pricing.PromotionReservation(rej.GetOrderId())
	}, released)
}

// TestCouponLimitUnderConcurrency: 12 concurrent orders with a code limited
// to 4 uses: exactly 4 are placed with it, the others are refused with
// PROMOTION_LIMIT_REACHED and hold neither stock nor a use. (The
// harness's catalog breaker counts refusals as failures, so a call it cut
// off is retried with its request id, as a client would.)
func TestCouponLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		e.pricing.AddCoupon("FOUR", "four", 20, 4)
		var (
			mu      sync.Mutex
			placed  []string
			refused int
			wg      sync.WaitGroup
		)
		for i := range 12 {
			wg.Go(func() {
				r := withCodes(createReq(fmt.Sprintf("four-%d", i), fmt.Sprintf("C%04d", 1+i%10), line{"SKU-00010", 1}), "four")
				var (
					res *orderv1.CreateOrderResponse
					err error
				)
				retryWhileUnavailable(t, r.GetRequestId(), func() error {
					res, err = e.client.CreateOrder(t.Context(), r)
					if status.Code(err) == codes.Unavailable {
						return err
					}
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					placed = append(placed, res.GetOrder().GetOrderId())
				case apierr.HasReason(err, orderv1.ErrorReason_ERROR_REASON_PROMOTION_LIMIT_REACHED):
					refused++
				default:
					t.Errorf("order %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if len(placed) != 4 || refused != 8 {
			t.Fatalf("placed %d, refused %d; want 4 and 8", len(placed), refused)
		}
		if n := e.pricing.PromotionUses("promotions/four"); n != 4 {
			t.Errorf("uses = %d, want 4", n)
		}
		for _, id := range placed {
			if st := e.pricing.PromotionReservation(id); st != committed && st != reserved {
				t.Errorf("placed order %s's reservation = %s", id, st)
			}
		}
		if n := e.inventory.ReservationCount(); n != 4 {
			t.Errorf("inventory reservations = %d, want 4 (refused orders reserve no stock)", n)
		}
	})
}
