package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
)

// wireError is what a caller sees of a status: the storefront-visible
// contract of toStatus.
type wireError struct {
	Code          codes.Code
	Reason        string
	Message       string
	Metadata      map[string]string
	Violations    []apierr.FieldViolation
	Preconditions []apierr.PreconditionViolation
}

func wireOf(err error) wireError {
	return wireError{
		Code: status.Code(err), Reason: apierr.ReasonOf(err), Message: status.Convert(err).Message(),
		Metadata: apierr.Info(err).GetMetadata(), Violations: apierr.FieldViolations(err),
		Preconditions: apierr.PreconditionViolations(err),
	}
}

// TestToStatus pins the status of every domain error, with and without an
// order id, so the mapping table cannot drift from what storefronts see.
func TestToStatus(t *testing.T) {
	t.Parallel()
	fp := codes.FailedPrecondition
	oid := func(m map[string]string) map[string]string {
		out := map[string]string{"order_id": "O-1"}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	reason := func(r interface{ String() string }) string { return r.String() }
	for _, tc := range []struct {
		err  error
		want wireError
	}{
		{order.ErrNotFound, wireError{Code: codes.NotFound, Reason: reason(orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_FOUND),
			Message: "order not found", Metadata: oid(nil)}},
		{fmt.Errorf("retry: %w", order.ErrQueueEntryNotFound), wireError{Code: codes.NotFound,
			Reason:   reason(orderv1.ErrorReason_ERROR_REASON_ERP_QUEUE_ENTRY_NOT_FOUND),
			Message:  "the order has no ERP queue entry (never queued, or the ERP already answered)",
			Metadata: oid(map[string]string{"erp_queue_entry": "erpQueueEntries/O-1"})}},
		{fmt.Errorf("load: %w", order.ErrIdempotencyKeyReused), wireError{Code: codes.AlreadyExists,
			Reason:  reason(commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED),
			Message: "request_id was already used with a different payload", Metadata: oid(nil)}},
		{order.ErrRequestInProgress, wireError{Code: codes.Aborted, Reason: reason(commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS),
			Message: "a request with this request_id is still being processed; retry later", Metadata: oid(nil)}},
		{&order.PromotionChangedError{Promotion: "promotions/p", Withdrawn: true}, wireError{Code: codes.Aborted,
			Reason:   reason(commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION),
			Message:  "promotion promotions/p was withdrawn while the order was placed; quote again",
			Metadata: oid(map[string]string{"promotion": "promotions/p", "withdrawn": "true"})}},
		{order.ErrConcurrentModification, wireError{Code: codes.Aborted, Reason: reason(commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION),
			Message: "the order changed since it was read (etag mismatch); re-read and retry", Metadata: oid(nil)}},
		{&order.InvalidArgumentError{Field: "lines", Message: "line 1 appears more than once"}, wireError{Code: codes.InvalidArgument,
			Reason: reason(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED), Message: "lines: line 1 appears more than once",
			Violations: []apierr.FieldViolation{{Field: "lines", Description: "line 1 appears more than once", Reason: "INVALID"}}}},
		{&order.CustomerError{CustomerID: "C9", Err: order.ErrCustomerNotFound}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND), Message: "customer C9 is unknown",
			Metadata: oid(map[string]string{"customer_id": "C9"})}},
		{&order.CustomerError{CustomerID: "C9", Err: order.ErrCustomerOnCreditHold}, wireError{Code: fp,
			Reason:   reason(orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD),
			Message:  "customer C9 is on credit hold; no new orders are accepted",
			Metadata: oid(map[string]string{"customer_id": "C9"})}},
		{&order.ChannelNotAllowedError{CustomerID: "C9", Channel: "b2b"}, wireError{Code: codes.PermissionDenied,
			Reason: reason(commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED), Message: "customer C9 may not order through channel b2b",
			Metadata: oid(map[string]string{"customer_id": "C9", "channel": "b2b"})}},
		{&order.CurrencyNotAllowedError{CustomerID: "C9", Currency: "USD"}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_CURRENCY_NOT_ALLOWED), Message: "customer C9 may not order in USD",
			Metadata: oid(map[string]string{"customer_id": "C9", "currency_code": "USD"})}},
		{&order.CreditLimitExceededError{CustomerID: "C9", LimitMinor: 100, ExposureMinor: 60, TotalMin: 50, Currency: "EUR"},
			wireError{Code: fp, Reason: reason(orderv1.ErrorReason_ERROR_REASON_CREDIT_LIMIT_EXCEEDED),
				Message: "order total 50 EUR exceeds the available credit of customer C9",
				Metadata: oid(map[string]string{"customer_id": "C9", "credit_limit_minor": "100", "open_exposure_minor": "60",
					"order_total_minor": "50", "currency_code": "EUR"})}},
		{&order.DuplicateSKUError{SKU: "S1"}, wireError{Code: codes.InvalidArgument,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_DUPLICATE_SKU), Message: "SKU S1 appears on more than one line",
			Metadata:   oid(map[string]string{"sku": "S1"}),
			Violations: []apierr.FieldViolation{{Field: "lines", Description: "SKU S1 appears on more than one line", Reason: "DUPLICATE_SKU"}}}},
		{&order.UnknownSKUError{SKU: "S1", LineIndex: 2}, wireError{Code: fp,
			Reason:     reason(orderv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU),
			Message:    "SKU S1 is not in the catalog or not sold on this channel",
			Metadata:   oid(map[string]string{"sku": "S1", "line_index": "2"}),
			Violations: []apierr.FieldViolation{{Field: "lines[2].sku", Description: "unknown SKU S1", Reason: "UNKNOWN_SKU"}}}},
		{&order.PriceUnavailableError{SKU: "S1", Currency: "EUR"}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_PRICE_UNAVAILABLE), Message: "no price for SKU S1 in EUR",
			Metadata: oid(map[string]string{"sku": "S1", "currency_code": "EUR"})}},
		{&order.InvalidQuantityError{SKU: "S1", LineIndex: 1, Message: "not a pack multiple"}, wireError{Code: codes.InvalidArgument,
			Reason: reason(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED), Message: "not a pack multiple",
			Violations: []apierr.FieldViolation{{Field: "lines[1].quantity", Description: "not a pack multiple", Reason: "QUANTITY_NOT_PACK_MULTIPLE"}}}},
		{&order.PriceChangedError{ExpectedMinor: 199, ActualMinor: 200, Currency: "EUR"}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_PRICE_CHANGED), Message: "expected total 199 differs from the current total 200 EUR",
			Metadata: oid(map[string]string{"expected_minor": "199", "actual_minor": "200", "currency_code": "EUR"})}},
		{&order.OutOfStockError{SKU: "S1", Requested: 11, Available: 10}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK), Message: "not enough stock for S1: requested 11, available 10",
			Metadata: oid(map[string]string{"sku": "S1", "requested": "11", "available": "10"}),
			Preconditions: []apierr.PreconditionViolation{{Type: "OUT_OF_STOCK", Subject: "S1",
				Description: "not enough stock for S1: requested 11, available 10"}}}},
		{&order.InvalidTransitionError{From: order.StateShipped, To: order.StateCancelled}, wireError{Code: fp,
			Reason:   reason(orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION),
			Message:  "order cannot move from STATE_SHIPPED to STATE_CANCELLED",
			Metadata: oid(map[string]string{"from": "STATE_SHIPPED", "to": "STATE_CANCELLED"})}},
		{&order.NotCancellableError{OrderID: "O-1", State: order.StateShipped}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_CANCELLABLE), Message: "order O-1 cannot be cancelled in STATE_SHIPPED",
			Metadata: oid(map[string]string{"state": "STATE_SHIPPED"})}},
		{&order.UnknownLineError{LineID: "9"}, wireError{Code: codes.InvalidArgument,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_UNKNOWN_LINE), Message: "unknown order line 9",
			Metadata:   oid(map[string]string{"line_id": "9"}),
			Violations: []apierr.FieldViolation{{Field: "lines", Description: "unknown order line 9", Reason: "UNKNOWN_LINE"}}}},
		{&order.WarehouseNotAllocatedError{WarehouseID: "WH-X"}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_ALLOCATED), Message: "warehouse WH-X holds no allocation of the order",
			Metadata: oid(map[string]string{"warehouse_id": "WH-X"})}},
		{&order.QuantityExceedsAllocatedError{LineID: "1", WarehouseID: "WH-X", Requested: 5, Allowed: 4}, wireError{Code: fp,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_QUANTITY_EXCEEDS_ALLOCATED), Message: "line 1 in WH-X: 5 exceeds the allowed 4",
			Metadata: oid(map[string]string{"line_id": "1", "warehouse_id": "WH-X", "requested": "5", "allowed": "4"})}},
		{&order.EventIDReusedError{EventID: "ev-1"}, wireError{Code: codes.AlreadyExists,
			Reason: reason(orderv1.ErrorReason_ERROR_REASON_EVENT_ID_REUSED), Message: "event id ev-1 reused with different content",
			Metadata: oid(map[string]string{"event_id": "ev-1"})}},
		{&order.DependencyError{Target: "erp", Err: errors.New("down")}, wireOf(apierr.DependencyUnavailable("erp", "erp is unavailable; retry later"))},
		{&order.DependencyError{Target: "erp", CircuitOpen: true}, wireOf(apierr.CircuitOpen("erp"))},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), wireError{Code: codes.DeadlineExceeded,
			Reason: reason(commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED), Message: "deadline exceeded"}},
		{context.Canceled, wireOf(apierr.Canceled())},
		{errors.New("disk on fire"), wireOf(apierr.Internal())},
	} {
		t.Run(fmt.Sprintf("%T/%v", tc.err, tc.err), func(t *testing.T) {
			t.Parallel()
			s := New(nil, nil, slog.New(slog.DiscardHandler))
			got := wireOf(s.toStatus(t.Context(), tc.err, "O-1"))
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("toStatus(%v) (-want +got):\n%s", tc.err, diff)
			}
		})
	}
}
