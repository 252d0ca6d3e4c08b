package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// lineReasons is the one table of what each unpriceable line means: the
// status code a failed quote answers with and the ErrorReason of the call
// (and, with allow_partial, of the line).
var lineReasons = map[pricing.LineReason]struct {
	code   codes.Code
	reason catalogv1.ErrorReason
}{
	pricing.LineProductNotFound: {codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND},
	pricing.LineNotSellable:     {codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_SELLABLE},
	pricing.LineNotPackMultiple: {codes.InvalidArgument, catalogv1.ErrorReason_ERROR_REASON_QUANTITY_NOT_PACK_MULTIPLE},
	pricing.LinePriceNotFound:   {codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_PRICE_NOT_FOUND},
}

// toStatus is the one place domain errors become gRPC statuses. Unknown
// errors are logged and answered with a generic Internal error.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var (
		nf       *catalog.NotFoundError
		conflict *catalog.ConflictError
		field    *catalog.FieldError
		line     *pricing.LineError
		currency *pricing.CurrencyMismatchError
		overflow *pricing.OverflowError
		filter   *aip.FilterError
		token    *aip.PageTokenError
		invalid  *pricing.InvalidRuleError
		ruleConf *pricing.RuleConflictError
		limit    *pricing.LimitReachedError
		// withdrawn: a promotion deleted between quote and reservation.
		withdrawn *pricing.PromotionWithdrawnError
	)
	switch {
	case errors.As(err, &line):
		return lineStatus(line)
	case errors.As(err, &currency):
		st := apierr.New(codes.InvalidArgument, catalogv1.ErrorReason_ERROR_REASON_CURRENCY_MISMATCH,
			"no prices in the requested currency", map[string]string{
				"expected_currency_code": strings.Join(currency.Available, ","), "currency_code": currency.Requested, "field": "currency_code",
			})
		return apierr.WithViolations(st, apierr.FieldViolation{
			Field: "currency_code", Reason: catalogv1.ErrorReason_ERROR_REASON_CURRENCY_MISMATCH.String(),
			Description: "prices exist only in " + strings.Join(currency.Available, ","),
		}).Err()
	case errors.As(err, &overflow):
		return apierr.InvalidArgument("amount too large", apierr.FieldViolation{
			Field: "lines[" + strconv.Itoa(overflow.Index) + "].quantity", Reason: "AMOUNT_OVERFLOW",
			Description: "quantity × unit price does not fit a 64-bit amount",
		})
	case errors.As(err, &nf) && errors.Is(err, catalog.ErrProductNotFound):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND, "product not found",
			map[string]string{"sku": nf.SKU, "catalog_version": nf.Version})
	case errors.As(err, &nf):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_CATALOG_VERSION_NOT_FOUND,
			"catalog version not found", map[string]string{"catalog_version": nf.Version})
	case errors.Is(err, pricing.ErrCatalogNotPublished):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_CATALOG_VERSION_NOT_FOUND,
			"no catalog version has been published yet", map[string]string{"catalog_version": "catalogVersions/current"})
	case errors.As(err, &conflict):
		return apierr.Error(codes.Aborted, catalogv1.ErrorReason_ERROR_REASON_CATALOG_VERSION_CONFLICT,
			"the current catalog version is not the expected one", map[string]string{
				"expected_version": strconv.FormatInt(conflict.Expected, 10), "current_version": strconv.FormatInt(conflict.Current, 10),
			})
	case errors.Is(err, catalog.ErrIdempotencyKeyReused): // pricing.ErrIdempotencyKeyReused is the same error
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"request_id was already used with a different payload", nil)
	case errors.As(err, &filter):
		return filter.GRPCStatus().Err()
	case errors.As(err, &token):
		return token.GRPCStatus().Err()
	case errors.As(err, &field):
		return apierr.InvalidArgument(field.Message, apierr.FieldViolation{Field: field.Field, Description: field.Message, Reason: "INVALID"})
	case errors.Is(err, pricing.ErrPriceListNotFound):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PRICE_LIST_NOT_FOUND, "price list not found", nil)
	case errors.Is(err, pricing.ErrPriceListNotEmpty):
		st := apierr.New(codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			"the price list still has entries; delete with force", map[string]string{"field": "force"})
		return apierr.WithViolations(st, apierr.FieldViolation{
			Field: "force", Reason: "PRICE_LIST_NOT_EMPTY", Description: "set force to delete the list's entries too"}).Err()
	case errors.Is(err, pricing.ErrContractNotFound):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_CUSTOMER_CONTRACT_NOT_FOUND, "customer contract not found", nil)
	case errors.Is(err, pricing.ErrChannelRuleNotFound):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_CHANNEL_RULE_NOT_FOUND, "channel rule not found", nil)
	case errors.As(err, &withdrawn): // before ErrPromotionNotFound, which it wraps
		return apierr.Error(codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID, withdrawn.Error(),
			map[string]string{"promotion": withdrawn.Promotion, "reason": "PROMOTION_WITHDRAWN"})
	case errors.Is(err, pricing.ErrPromotionNotFound):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_NOT_FOUND, "promotion not found", nil)
	case errors.Is(err, pricing.ErrPriceVersionNotFound):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PRICE_VERSION_NOT_FOUND,
			"that price version published no rule set", nil)
	case errors.As(err, &limit):
		return apierr.Error(codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID, limit.Error(),
			map[string]string{"promotion": limit.Promotion, "per_customer": strconv.FormatBool(limit.PerCustomer)})
	case errors.Is(err, pricing.ErrReservationReleased):
		return apierr.Error(codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID,
			"the promotion reservation was released", nil)
	case errors.As(err, &ruleConf):
		return apierr.Error(codes.FailedPrecondition, catalogv1.ErrorReason_ERROR_REASON_RULE_CONFLICT, ruleConf.Error(),
			map[string]string{"rule": ruleConf.Rule})
	case errors.As(err, &invalid):
		return apierr.InvalidArgument(invalid.Message, apierr.FieldViolation{Field: invalid.Field, Description: invalid.Message, Reason: "INVALID"})
	case errors.Is(err, pricing.ErrPriceNotFound):
		return apierr.Error(codes.NotFound, catalogv1.ErrorReason_ERROR_REASON_PRICE_NOT_FOUND, "price not found", nil)
	case errors.Is(err, pricing.ErrInvalidEffectiveWindow):
		return apierr.Error(codes.InvalidArgument, catalogv1.ErrorReason_ERROR_REASON_INVALID_EFFECTIVE_WINDOW,
			"end_time must be after start_time", map[string]string{"field": "end_time"})
	case errors.Is(err, pricing.ErrConcurrentModification):
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION,
			"the resource changed; re-read and retry", nil)
	case errors.Is(err, pricing.ErrCurrencyImmutable):
		return apierr.Error(codes.InvalidArgument, catalogv1.ErrorReason_ERROR_REASON_CURRENCY_MISMATCH,
			"a price list's currency cannot change", map[string]string{"field": "price_list.currency_code"})
	case errors.Is(err, context.Canceled):
		return apierr.Canceled()
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)
	}
	return sqldb.FallbackStatus(ctx, log, err)
}

// lineStatus follows PricingService.QuotePrices: the first failing line's
// reason with metadata "sku" and "line_index" (plus the reason's own keys),
// and a BadRequest field violation "lines[i].sku" (or ".quantity") so
// callers can point at the line without parsing anything.
func lineStatus(e *pricing.LineError) error {
	m := lineReasons[e.Reason]
	idx := strconv.Itoa(e.Index)
	md := map[string]string{"sku": e.SKU, "line_index": idx}
	field := "lines[" + idx + "].sku"
	switch e.Reason {
	case pricing.LineProductNotFound:
		md["catalog_version"] = catalog.VersionName(e.CatalogVersion)
	case pricing.LineNotSellable:
		md["channel"], md["status"] = e.Channel, e.Status
	case pricing.LineNotPackMultiple:
		md["quantity"], md["pack_size"] = strconv.FormatInt(e.Quantity, 10), strconv.FormatInt(e.PackSize, 10)
		field = "lines[" + idx + "].quantity"
	case pricing.LinePriceNotFound:
		md["currency_code"], md["channel"], md["price_time"] = e.Currency, e.Channel, e.PriceTime.UTC().Format(time.RFC3339)
	case pricing.LineOK:
	}
	st := apierr.New(m.code, m.reason, "line "+idx+" ("+e.SKU+"): "+e.Reason.String(), md)
	return apierr.WithViolations(st, apierr.FieldViolation{
		Field: field, Reason: m.reason.String(), Description: e.Reason.String(),
	}).Err()
}
