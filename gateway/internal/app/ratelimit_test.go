package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
)

// Issue #14: order placement is limited per customer, not only per key.
// Two keys bound to C0001 and the channel key ordering for C0001 share one
// budget (a burst of 2, one more order per 1000 s); C0002 has its own. The
// refusal is 429 RATE_LIMITED with Retry-After over REST and
// RESOURCE_EXHAUSTED with a RetryInfo over gRPC, and the order service
// never sees the refused order.
func TestOrderRateLimitPerCustomer(t *testing.T) {
	t.Parallel()
	const secondC0001 = "test-c0001-key-0002"
	e := newEnv(t, "API_KEYS="+testAPIKey+","+secondC0001+":web:C0001",
		"ORDER_RATE_LIMIT_PER_CUSTOMER=0.001", "ORDER_RATE_LIMIT_PER_CUSTOMER_BURST=2")
	e.createOrder(keyC0001, "C0001", "rate-1")
	e.createOrder(secondC0001, "C0001", "rate-2")
	creates := len(e.orders.creates)
	for _, key := range []string{keyC0001, secondC0001, keyWeb} {
		body := strings.Replace(orderBody, `"C0002"`, `"C0001"`, 1)
		r := e.do("POST", "/v1/orders", key, body, "Idempotency-Key", "rate-3-"+key)
		if r.status != http.StatusTooManyRequests || r.reason(t) != "ERROR_REASON_RATE_LIMITED" || r.header.Get("Retry-After") == "" {
			t.Errorf("C0001's third order with %s: %d Retry-After %q %s, want 429 RATE_LIMITED", key, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+secondC0001)
	_, err := e.client.CreateOrder(ctx, &storefrontv1.CreateOrderRequest{RequestId: "rate-4", Order: &storefrontv1.Order{
		CurrencyCode: "EUR", Lines: []*storefrontv1.OrderLine{{Sku: "SKU-00001", Quantity: 1}},
		ShipTo: &commonv1.Address{Recipient: "Acme GmbH", Lines: []string{"Hafenstr. 1"}, Locality: "Hamburg", PostalCode: "20457", RegionCode: "DE"},
	}})
	if status.Code(err) != codes.ResourceExhausted || !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_RATE_LIMITED) || !hasRetry(err) {
		t.Errorf("over gRPC: %v, want RESOURCE_EXHAUSTED RATE_LIMITED with a RetryInfo", err)
	}
	e.orders.mu.Lock()
	refusedReached := len(e.orders.creates) - creates
	e.orders.mu.Unlock()
	if refusedReached != 0 {
		t.Errorf("%d refused orders reached the order service", refusedReached)
	}
	// Another customer's budget is its own, with the same channel key.
	e.createOrder(keyWeb, "C0002", "rate-c0002")
}

func hasRetry(err error) bool {
	d, ok := apierr.RetryDelay(err)
	return ok && d > 0
}
