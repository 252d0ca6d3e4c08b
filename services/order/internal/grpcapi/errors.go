package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
)

// withViolations adds a BadRequest detail to st.
func withViolations(st *status.Status, vs ...*errdetails.BadRequest_FieldViolation) error {
	out, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: vs})
	if err != nil {
		return st.Err()
	}
	return out.Err()
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// toStatus is the one place domain errors become gRPC statuses. orderID,
// when known, is added to the metadata of order errors. Unknown errors are
// logged and answered with a generic Internal error.
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
	fp := codes.FailedPrecondition
	var (
		dep *order.DependencyError
		ce  *order.CustomerError
		cha *order.ChannelNotAllowedError
		cur *order.CurrencyNotAllowedError
		cl  *order.CreditLimitExceededError
		ds  *order.DuplicateSKUError
		us  *order.UnknownSKUError
		pu  *order.PriceUnavailableError
		iq  *order.InvalidQuantityError
		pc  *order.PriceChangedError
		oos *order.OutOfStockError
		it  *order.InvalidTransitionError
		nc  *order.NotCancellableError
		ul  *order.UnknownLineError
		wna *order.WarehouseNotAllocatedError
		qea *order.QuantityExceedsAllocatedError
		eir *order.EventIDReusedError
		ia  *order.InvalidArgumentError
	)
	switch {
	case errors.Is(err, order.ErrNotFound):
		return apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_FOUND, "order not found", meta())
	case errors.Is(err, order.ErrIdempotencyKeyReused):
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"request_id was already used with a different payload", meta())
	case errors.Is(err, order.ErrRequestInProgress):
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS,
			"a request with this request_id is still being processed; retry later", meta())
	case errors.Is(err, order.ErrConcurrentModification):
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION,
			"the order changed since it was read (etag mismatch); re-read and retry", meta())
	case errors.Is(err, order.ErrInvalidPageToken):
		return withViolations(apierr.New(codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN,
			"page_token is malformed or belongs to another query", nil),
			&errdetails.BadRequest_FieldViolation{Field: "page_token", Description: "invalid page token", Reason: "INVALID_PAGE_TOKEN"})
	case errors.As(err, &ia):
		return apierr.InvalidArgument(ia.Error(), apierr.FieldViolation{Field: ia.Field, Description: ia.Message, Reason: "INVALID"})
	case errors.As(err, &ce) && errors.Is(err, order.ErrCustomerNotFound):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND,
			"customer "+ce.CustomerID+" is unknown", meta("customer_id", ce.CustomerID))
	case errors.As(err, &ce) && errors.Is(err, order.ErrCustomerOnCreditHold):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD,
			"customer "+ce.CustomerID+" is on credit hold; no new orders are accepted", meta("customer_id", ce.CustomerID))
	case errors.As(err, &cha):
		return apierr.Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
			cha.Error(), meta("customer_id", cha.CustomerID, "channel", cha.Channel))
	case errors.As(err, &cur):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CURRENCY_NOT_ALLOWED, cur.Error(),
			meta("currency_code", cur.Currency, "customer_id", cur.CustomerID))
	case errors.As(err, &cl):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_CREDIT_LIMIT_EXCEEDED, cl.Error(), meta(
			"customer_id", cl.CustomerID, "credit_limit_minor", i64(cl.LimitMinor), "open_exposure_minor", i64(cl.ExposureMinor),
			"order_total_minor", i64(cl.TotalMin), "currency_code", cl.Currency))
	case errors.As(err, &ds):
		return withViolations(apierr.New(codes.InvalidArgument, orderv1.ErrorReason_ERROR_REASON_DUPLICATE_SKU, ds.Error(), meta("sku", ds.SKU)),
			&errdetails.BadRequest_FieldViolation{Field: "lines", Description: ds.Error(), Reason: "DUPLICATE_SKU"})
	case errors.As(err, &us):
		return withViolations(apierr.New(fp, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU,
			"SKU "+us.SKU+" is not in the catalog or not sold on this channel",
			meta("sku", us.SKU, "line_index", strconv.Itoa(us.LineIndex))),
			&errdetails.BadRequest_FieldViolation{Field: fmt.Sprintf("lines[%d].sku", us.LineIndex), Description: "unknown SKU " + us.SKU, Reason: "UNKNOWN_SKU"})
	case errors.As(err, &pu):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_PRICE_UNAVAILABLE, pu.Error(), meta("sku", pu.SKU, "currency_code", pu.Currency))
	case errors.As(err, &iq):
		return apierr.InvalidArgument(iq.Message, apierr.FieldViolation{
			Field: fmt.Sprintf("lines[%d].quantity", iq.LineIndex), Description: iq.Message, Reason: "QUANTITY_NOT_PACK_MULTIPLE"})
	case errors.As(err, &pc):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_PRICE_CHANGED, pc.Error(), meta(
			"expected_minor", i64(pc.ExpectedMinor), "actual_minor", i64(pc.ActualMinor), "currency_code", pc.Currency))
	case errors.As(err, &oos):
		st := apierr.New(fp, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK, oos.Error(), meta(
			"sku", oos.SKU, "requested", i64(oos.Requested), "available", i64(oos.Available)))
		if withPF, derr := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
			Type: "OUT_OF_STOCK", Subject: oos.SKU, Description: oos.Error(),
		}}}); derr == nil {
			st = withPF
		}
		return st.Err()
	case errors.As(err, &it):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION, it.Error(), meta(
			"from", it.From.String(), "to", it.To.String()))
	case errors.As(err, &nc):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_CANCELLABLE, nc.Error(), meta(
			"order_id", nc.OrderID, "state", nc.State.String()))
	case errors.As(err, &ul):
		return withViolations(apierr.New(codes.InvalidArgument, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_LINE, ul.Error(), meta("line_id", ul.LineID)),
			&errdetails.BadRequest_FieldViolation{Field: "lines", Description: ul.Error(), Reason: "UNKNOWN_LINE"})
	case errors.As(err, &wna):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_ALLOCATED, wna.Error(), meta("warehouse_id", wna.WarehouseID))
	case errors.As(err, &qea):
		return apierr.Error(fp, orderv1.ErrorReason_ERROR_REASON_QUANTITY_EXCEEDS_ALLOCATED, qea.Error(), meta(
			"line_id", qea.LineID, "warehouse_id", qea.WarehouseID, "requested", i64(qea.Requested), "allowed", i64(qea.Allowed)))
	case errors.As(err, &eir):
		return apierr.Error(codes.AlreadyExists, orderv1.ErrorReason_ERROR_REASON_EVENT_ID_REUSED, eir.Error(), meta("event_id", eir.EventID))
	case errors.As(err, &dep):
		if dep.CircuitOpen {
			return apierr.CircuitOpen(dep.Target)
		}
		return apierr.DependencyUnavailable(dep.Target, dep.Target+" is unavailable; retry later")
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	}
	s.log.ErrorContext(ctx, "internal error", slog.String("order_id", orderID), slog.Any("error", err))
	return apierr.Internal()
}
