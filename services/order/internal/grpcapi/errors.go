package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"google.golang.org/grpc/codes"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/order/internal/order"
)

// metaFunc builds an ErrorInfo metadata map from key/value pairs, adding the
// order id of the call when it is known.
type metaFunc func(kv ...string) map[string]string

// statusRule turns err into its status when err is the rule's domain error,
// and returns nil otherwise.
type statusRule func(err error, meta metaFunc) error

// is is the rule for a sentinel error.
func is(target error, build func(meta metaFunc) error) statusRule {
	return func(err error, meta metaFunc) error {
		if !errors.Is(err, target) {
			return nil
		}
		return build(meta)
	}
}

// as is the rule for the typed error E; build may return nil to leave an
// E it does not cover to later rules.
func as[E error](build func(e E, meta metaFunc) error) statusRule {
	return func(err error, meta metaFunc) error {
		var e E
		if !errors.As(err, &e) {
			return nil
		}
		return build(e, meta)
	}
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

const fp = codes.FailedPrecondition

// statusRules is the one table of domain errors and their statuses; the
// first rule that matches answers. Errors no rule matches are Internal.
var statusRules = []statusRule{
	is(order.ErrNotFound, func(meta metaFunc) error {
		return apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_FOUND, "order not found", meta())
	}),
	is(order.ErrQueueEntryNotFound, func(meta metaFunc) error {
		m := meta()
		if id := m["order_id"]; id != "" {
			m["erp_queue_entry"] = order.QueueEntryName(id)
		}
		return apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ERP_QUEUE_ENTRY_NOT_FOUND,
			"the order has no ERP queue entry (never queued, or the ERP already answered)", m)
	}),
	is(order.ErrIdempotencyKeyReused, func(meta metaFunc) error {
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"request_id was already used with a different payload", meta())
	}),
	is(order.ErrRequestInProgress, func(meta metaFunc) error {
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS,
			"a request with this request_id is still being processed; retry later", meta())
	}),
	is(order.ErrConcurrentModification, func(meta metaFunc) error {
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION,
			"the order changed since it was read (etag mismatch); re-read and retry", meta())
	}),
	// Bad filters and page tokens of the lists carry their own status.
	as(func(e *aip.FilterError, _ metaFunc) error { return e.GRPCStatus().Err() }),
	as(func(e *aip.PageTokenError, _ metaFunc) error { return e.GRPCStatus().Err() }),
	as(func(e *order.InvalidArgumentError, _ metaFunc) error {
		return apierr.InvalidArgument(e.Error(), apierr.FieldViolation{Field: e.Field, Description: e.Message, Reason: "INVALID"})
	}),
	as(func(e *order.CustomerError, meta metaFunc) error {
		md := meta("customer_id", e.CustomerID)
		switch {
		case errors.Is(e.Err, order.ErrCustomerNotFound):
			return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND, "customer "+e.CustomerID+" is unknown", md)
		case errors.Is(e.Err, order.ErrCustomerOnCreditHold):
			return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD,
				"customer "+e.CustomerID+" is on credit hold; no new orders are accepted", md)
		}
		return nil
	}),
	as(func(e *order.ChannelNotAllowedError, meta metaFunc) error {
		return apierr.Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED, e.Error(),
			meta("customer_id", e.CustomerID, "channel", e.Channel))
	}),
	as(func(e *order.CurrencyNotAllowedError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CURRENCY_NOT_ALLOWED, e.Error(),
			meta("currency_code", e.Currency, "customer_id", e.CustomerID))
	}),
	as(func(e *order.CreditLimitExceededError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CREDIT_LIMIT_EXCEEDED, e.Error(), meta(
			"customer_id", e.CustomerID, "credit_limit_minor", i64(e.LimitMinor), "open_exposure_minor", i64(e.ExposureMinor),
			"order_total_minor", i64(e.TotalMin), "currency_code", e.Currency))
	}),
	as(func(e *order.DuplicateSKUError, meta metaFunc) error {
		return apierr.WithViolations(
			apierr.New(codes.InvalidArgument, orderv1.ErrorReason_ERROR_REASON_DUPLICATE_SKU, e.Error(), meta("sku", e.SKU)),
			apierr.FieldViolation{Field: "lines", Description: e.Error(), Reason: "DUPLICATE_SKU"}).Err()
	}),
	as(func(e *order.UnknownSKUError, meta metaFunc) error {
		return apierr.WithViolations(
			apierr.New(fp, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU, "SKU "+e.SKU+" is not in the catalog or not sold on this channel",
				meta("sku", e.SKU, "line_index", strconv.Itoa(e.LineIndex))),
			apierr.FieldViolation{Field: fmt.Sprintf("lines[%d].sku", e.LineIndex), Description: "unknown SKU " + e.SKU, Reason: "UNKNOWN_SKU"}).Err()
	}),
	as(func(e *order.PriceUnavailableError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_PRICE_UNAVAILABLE, e.Error(), meta("sku", e.SKU, "currency_code", e.Currency))
	}),
	as(func(e *order.InvalidQuantityError, _ metaFunc) error {
		return apierr.InvalidArgument(e.Message, apierr.FieldViolation{
			Field: fmt.Sprintf("lines[%d].quantity", e.LineIndex), Description: e.Message, Reason: e.ViolationReason()})
	}),
	as(func(e *order.PriceChangedError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_PRICE_CHANGED, e.Error(), meta(
			"expected_minor", i64(e.ExpectedMinor), "actual_minor", i64(e.ActualMinor), "currency_code", e.Currency))
	}),
	// Coupons (issue #11): a code that does not apply is the request's
	// fault, a usage limit reached is the state of the promotion.
	as(func(e *order.PromotionCodeError, _ metaFunc) error {
		return apierr.InvalidArgument(e.Error(), apierr.FieldViolation{
			Field: fmt.Sprintf("promotion_codes[%d]", e.Index), Description: e.Error(), Reason: e.Reason})
	}),
	as(func(e *order.PromotionLimitError, meta metaFunc) error {
		md := meta("per_customer", strconv.FormatBool(e.PerCustomer))
		if e.Promotion != "" {
			md["promotion"] = e.Promotion
		}
		if e.Code != "" {
			md["code"] = e.Code
		}
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_PROMOTION_LIMIT_REACHED, e.Error(), md)
	}),
	as(func(e *order.PromotionChangedError, meta metaFunc) error {
		md := meta("withdrawn", strconv.FormatBool(e.Withdrawn))
		if e.Promotion != "" {
			md["promotion"] = e.Promotion
		}
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION, e.Error(), md)
	}),
	as(func(e *order.OutOfStockError, meta metaFunc) error {
		return apierr.WithPreconditionFailure(
			apierr.New(fp, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK, e.Error(), meta(
				"sku", e.SKU, "requested", i64(e.Requested), "available", i64(e.Available))),
			apierr.PreconditionViolation{Type: "OUT_OF_STOCK", Subject: e.SKU, Description: e.Error()}).Err()
	}),
	as(func(e *order.InvalidTransitionError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION, e.Error(),
			meta("from", e.From.String(), "to", e.To.String()))
	}),
	as(func(e *order.NotCancellableError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_CANCELLABLE, e.Error(),
			meta("order_id", e.OrderID, "state", e.State.String()))
	}),
	as(func(e *order.UnknownLineError, meta metaFunc) error {
		return apierr.WithViolations(
			apierr.New(codes.InvalidArgument, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_LINE, e.Error(), meta("line_id", e.LineID)),
			apierr.FieldViolation{Field: "lines", Description: e.Error(), Reason: "UNKNOWN_LINE"}).Err()
	}),
	as(func(e *order.WarehouseNotAllocatedError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_ALLOCATED, e.Error(), meta("warehouse_id", e.WarehouseID))
	}),
	as(func(e *order.QuantityExceedsAllocatedError, meta metaFunc) error {
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_QUANTITY_EXCEEDS_ALLOCATED, e.Error(), meta(
			"line_id", e.LineID, "warehouse_id", e.WarehouseID, "requested", i64(e.Requested), "allowed", i64(e.Allowed)))
	}),
	as(func(e *order.EventIDReusedError, meta metaFunc) error {
		return apierr.Error(codes.AlreadyExists, orderv1.ErrorReason_ERROR_REASON_EVENT_ID_REUSED, e.Error(), meta("event_id", e.EventID))
	}),
	as(func(e *order.DependencyError, _ metaFunc) error {
		if e.CircuitOpen {
			return apierr.CircuitOpen(e.Target)
		}
		return apierr.DependencyUnavailable(e.Target, e.Target+" is unavailable; retry later")
	}),
	is(context.DeadlineExceeded, func(metaFunc) error {
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)
	}),
	is(context.Canceled, func(metaFunc) error { return apierr.Canceled() }),
}

// toStatus is the one place domain errors become gRPC statuses (through
// statusRules). orderID, when known, is added to the metadata of order
// errors. Unknown errors are logged and answered with a generic Internal
// error.
func (s *Server) toStatus(ctx context.Context, err error, orderID string) error {
	if err == nil {
		return nil
	}
	meta := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		if orderID != "" {
			m["order_id"] = orderID
		}
		return m
	}
	for _, rule := range statusRules {
		if st := rule(err, meta); st != nil {
			return st
		}
	}
	return sqldb.FallbackStatus(ctx, s.log.With(slog.String("order_id", orderID)), err)
}
