package catalogclient_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/catalogclient"
	"github.com/transload/transload/services/order/internal/order"
)

// overflowPricing answers every quote as catalog-pricing answers a line
// whose quantity × unit price does not fit in int64.
type overflowPricing struct {
	catalogv1.UnimplementedPricingServiceServer
}

func (overflowPricing) QuotePrices(context.Context, *catalogv1.QuotePricesRequest) (*catalogv1.QuotePricesResponse, error) {
	return nil, apierr.InvalidArgument("amount too large", apierr.FieldViolation{
		Field: "lines[1].quantity", Reason: "AMOUNT_OVERFLOW", Description: "quantity × unit price does not fit a 64-bit amount",
	})
}

// servePricing serves p over an in-memory listener and returns a client
// connection to it; both end with t.
func servePricing(t *testing.T, p catalogv1.PricingServiceServer) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 16)
	srv := grpc.NewServer()
	catalogv1.RegisterPricingServiceServer(srv, p)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///catalog", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestQuoteOverflowIsInvalidQuantity (issue #14): catalog-pricing's
// AMOUNT_OVERFLOW becomes the line's InvalidQuantityError (INVALID_ARGUMENT,
// HTTP 400 at the gateway) instead of an internal error.
func TestQuoteOverflowIsInvalidQuantity(t *testing.T) {
	t.Parallel()
	_, err := catalogclient.New(servePricing(t, overflowPricing{})).Quote(t.Context(), order.QuoteRequest{Currency: "EUR",
		Lines: []order.QuoteLine{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 1_000_000}}})
	var iq *order.InvalidQuantityError
	if !errors.As(err, &iq) || iq.Reason != order.ReasonAmountOverflow || iq.LineIndex != 1 || iq.SKU != "B" {
		t.Fatalf("err = %#v, want InvalidQuantityError AMOUNT_OVERFLOW on line 1", err)
	}
}
