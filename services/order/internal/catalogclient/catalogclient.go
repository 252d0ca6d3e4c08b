// Package catalogclient is the order service's adapter to catalog-pricing
// (catalog.v1 PricingService.QuotePrices): authoritative prices at
// placement, with per-line failures mapped to order domain errors.
package catalogclient

import (
	"context"
	"fmt"
	"strconv"

	"google.golang.org/grpc"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// Target names catalog-pricing in dependency errors.
const Target = "catalog-pricing"

// Client implements order.Pricer and order.Promotions.
type Client struct {
	c catalogv1.PricingServiceClient
}

var (
	_ order.Pricer     = (*Client)(nil)
	_ order.Promotions = (*Client)(nil)
)

// New returns a client on conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: catalogv1.NewPricingServiceClient(conn)}
}

// lineError maps a catalog reason for one line to a domain error.
func lineError(reason, sku string, idx int, currency string) error {
	switch reason {
	case catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND.String(), catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_SELLABLE.String():
		return &order.UnknownSKUError{SKU: sku, LineIndex: idx}
	case catalogv1.ErrorReason_ERROR_REASON_PRICE_NOT_FOUND.String():
		return &order.PriceUnavailableError{SKU: sku, Currency: currency}
	case catalogv1.ErrorReason_ERROR_REASON_QUANTITY_NOT_PACK_MULTIPLE.String():
		return &order.InvalidQuantityError{SKU: sku, LineIndex: idx, Message: "quantity of " + sku + " is not a multiple of its pack size"}
	}
	return nil
}

// Quote implements order.Pricer. It asks for QUOTE_VIEW_SUMMARY: an order
// keeps per line the prices and the winning rule's id, and per quote the
// etag, the applied promotions and the code issues, all of which the summary
// view carries; the losing candidates of the full view (about half of a
// quote's bytes) are never read, so they are neither built nor sent.
func (c *Client) Quote(ctx context.Context, r order.QuoteRequest) (order.Quote, error) {
	req := &catalogv1.QuotePricesRequest{
		CustomerId: r.CustomerID, Channel: r.Channel, CurrencyCode: r.Currency, AllowPartial: true,
		PromotionCodes: r.PromotionCodes, View: catalogv1.QuoteView_QUOTE_VIEW_SUMMARY,
	}
	for _, l := range r.Lines {
		req.Lines = append(req.Lines, &catalogv1.QuoteRequestLine{Sku: l.SKU, Quantity: l.Quantity})
	}
	res, err := c.c.QuotePrices(ctx, req)
	if err != nil {
		if d := orderpb.DependencyError(Target, err); d != nil {
			return order.Quote{}, d
		}
		info := apierr.Info(err)
		sku := info.GetMetadata()["sku"]
		idx, _ := strconv.Atoi(info.GetMetadata()["line_index"])
		if sku == "" && len(r.Lines) > 0 {
			sku = r.Lines[idx%len(r.Lines)].SKU
		}
		if le := lineError(info.GetReason(), sku, idx, r.Currency); le != nil {
			return order.Quote{}, le
		}
		for _, v := range apierr.FieldViolations(err) {
			for i, l := range r.Lines {
				if v.Field == fmt.Sprintf("lines[%d].sku", i) {
					return order.Quote{}, &order.UnknownSKUError{SKU: l.SKU, LineIndex: i}
				}
				if v.Field == fmt.Sprintf("lines[%d].quantity", i) && v.Reason == order.ReasonAmountOverflow {
					// Catalog-pricing refuses a quantity × price beyond
					// int64: the request's fault (400), not an outage.
					return order.Quote{}, &order.InvalidQuantityError{SKU: l.SKU, LineIndex: i, Reason: order.ReasonAmountOverflow,
						Message: "the amount of " + l.SKU + " × quantity overflows"}
				}
			}
		}
		return order.Quote{}, fmt.Errorf("catalog QuotePrices: %w", err)
	}
	if len(res.GetLines()) != len(r.Lines) {
		return order.Quote{}, fmt.Errorf("catalog QuotePrices returned %d lines for %d", len(res.GetLines()), len(r.Lines))
	}
	if err := codeIssueError(r.PromotionCodes, res.GetPromotionCodeIssues()); err != nil {
		return order.Quote{}, err
	}
	q := order.Quote{QuoteID: res.GetEtag(), Promotions: res.GetAppliedPromotions()}
	for i, l := range res.GetLines() {
		if l.GetErrorReason() != catalogv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			if le := lineError(l.GetErrorReason().String(), r.Lines[i].SKU, i, r.Currency); le != nil {
				return order.Quote{}, le
			}
			return order.Quote{}, &order.PriceUnavailableError{SKU: r.Lines[i].SKU, Currency: r.Currency}
		}
		if l.GetUnitPrice().GetCurrencyCode() != r.Currency {
			return order.Quote{}, &order.PriceUnavailableError{SKU: r.Lines[i].SKU, Currency: r.Currency}
		}
		q.Lines = append(q.Lines, order.PricedLine{
			UnitPriceMinor: l.GetUnitPrice().GetAmountMinor(),
			ExtendedMinor:  l.GetExtendedPrice().GetAmountMinor(),
			RuleID:         l.GetWinningRule().GetRule(),
		})
	}
	return q, nil
}
