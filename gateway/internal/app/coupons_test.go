package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
)

// TestCreateOrderPromotionCodes (issue #11): REST order.promotionCodes
// reach the order service's CreateOrder; its refusals become the
// storefront's: a usage limit reached is 400 PROMOTION_LIMIT_REACHED with
// the promotion and code, a code that does not apply is a field violation
// on order.promotion_codes[i].
func TestCreateOrderPromotionCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := strings.Replace(orderBody, `"currencyCode":"EUR"`, `"currencyCode":"EUR","promotionCodes":["welcome10","SAVE-5"]`, 1)
	r := e.do("POST", "/v1/orders", keyWeb, body, "Idempotency-Key", "coupon-1")
	if r.status != http.StatusOK {
		t.Fatalf("create with codes: %d %s", r.status, r.body)
	}
	if got := e.orders.lastCreate().GetPromotionCodes(); !slices.Equal(got, []string{"welcome10", "SAVE-5"}) {
		t.Errorf("order service got promotion_codes %q", got)
	}

	e.orders.createFail.set(apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_PROMOTION_LIMIT_REACHED,
		"limit", map[string]string{"promotion": "promotions/welcome10", "code": "WELCOME10", "per_customer": "false"}))
	r = e.do("POST", "/v1/orders", keyWeb, body, "Idempotency-Key", "coupon-2")
	_, ds := r.errorBody(t)
	if r.status != http.StatusBadRequest || r.reason(t) != "ERROR_REASON_PROMOTION_LIMIT_REACHED" ||
		ds[0].Metadata["code"] != "WELCOME10" || ds[0].Metadata["promotion"] != "promotions/welcome10" {
		t.Errorf("limit reached: %d %s", r.status, r.body)
	}

	e.orders.createFail.set(apierr.InvalidArgument("promotion code NOPE does not apply", apierr.FieldViolation{
		Field: "promotion_codes[1]", Reason: "REASON_UNKNOWN", Description: "promotion code NOPE does not apply (UNKNOWN)"}))
	r = e.do("POST", "/v1/orders", keyWeb, body, "Idempotency-Key", "coupon-3")
	if fv := r.fieldViolations(t); r.status != http.StatusBadRequest || fv["order.promotion_codes[1]"] == "" {
		t.Errorf("unknown code: %d %s", r.status, r.body)
	}
	e.orders.createFail.set(nil)
}
