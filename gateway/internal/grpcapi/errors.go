package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
)

// This file is the one place the gateway builds storefront errors and turns
// neighbours' errors into them. Handlers map the business reasons they know
// (out of stock, credit hold, ...) and hand everything else to
// dependencyError.

// dependencyRetryAfter is the RetryInfo delay suggested when a dependency
// is unavailable.
const dependencyRetryAfter = time.Second

// invalidField is INVALID_ARGUMENT with reason (a business or common reason)
// and one field violation.
func invalidField(reason apierr.Reason, field, description string, md map[string]string) error {
	return apierr.WithViolations(apierr.New(codes.InvalidArgument, reason, field+": "+description, md),
		apierr.FieldViolation{Field: field, Description: description}).Err()
}

// unavailable is UNAVAILABLE with reason naming dependency in the metadata
// and the RetryInfo delay every dependency outage suggests.
func unavailable(reason apierr.Reason, dependency, msg string) error {
	return apierr.WithRetryDelay(apierr.New(codes.Unavailable, reason, msg, map[string]string{"dependency": dependency}),
		dependencyRetryAfter).Err()
}

// errUnsupportedCurrency reports a well-formed but unsupported currency.
func errUnsupportedCurrency(field, code string) error {
	return invalidField(commonv1.ErrorReason_ERROR_REASON_UNSUPPORTED_CURRENCY, field,
		"currency "+code+" is not supported", map[string]string{"currencyCode": code})
}

// errNotFound is the one NOT_FOUND answer for a resource that does not
// exist or is not the caller's: the two must be indistinguishable.
func errNotFound(what string) error {
	return apierr.Error(codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND, what+" not found", nil)
}

// errCustomerMismatch is returned when a customer-bound key names another customer.
func errCustomerMismatch(customerID string) error {
	return apierr.Error(codes.PermissionDenied, storefrontv1.ErrorReason_ERROR_REASON_CUSTOMER_MISMATCH,
		"the API key is bound to another customer", map[string]string{"customerId": customerID})
}

// errCustomerRequired is returned when a channel key omits the customer.
func errCustomerRequired(field string) error {
	return invalidField(storefrontv1.ErrorReason_ERROR_REASON_CUSTOMER_REQUIRED, field,
		"a customer id is required with an API key that is not bound to a customer", nil)
}

// errNoSnapshot is returned when a dependency is down and no snapshot exists.
func errNoSnapshot(dependency string) error {
	return unavailable(storefrontv1.ErrorReason_ERROR_REASON_NO_SNAPSHOT_AVAILABLE, dependency,
		dependency+" is unavailable and no published snapshot exists for this request")
}

// dependencyError turns an error from dependency that the handler did not
// map itself into the caller's error: outages become UNAVAILABLE naming the
// dependency (never its address), an expired caller deadline
// DEADLINE_EXCEEDED, a cancelled call CANCELLED; anything else is a gateway
// bug or contract drift and becomes INTERNAL, with the cause logged.
func (s *Server) dependencyError(ctx context.Context, dependency string, err error) error {
	return dependencyError(ctx, s.logger, dependency, err)
}

// dependencyError is Server.dependencyError for any server of this
// package, logging to logger.
func dependencyError(ctx context.Context, logger *slog.Logger, dependency string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return apierr.Canceled()
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED,
			"the request deadline expired", map[string]string{"dependency": dependency})
	}
	code := status.Code(err)
	switch code {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded:
		// CIRCUIT_OPEN may be the gateway's breaker or one inside the
		// neighbour; either way the caller's advice is the same.
		reason := commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE
		if apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
			reason = commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN
		}
		logger.WarnContext(ctx, "dependency unavailable", slog.String("dependency", dependency),
			slog.String("grpc.code", code.String()), slog.String("error", status.Convert(err).Message()))
		return unavailable(reason, dependency, dependency+" is unavailable, retry later")
	}
	logger.ErrorContext(ctx, "unexpected dependency error", slog.String("dependency", dependency),
		slog.String("grpc.code", code.String()), slog.String("reason", apierr.ReasonOf(err)),
		slog.String("error", status.Convert(err).Message()))
	return apierr.Internal()
}

// passInvalidArgument re-raises a neighbour's INVALID_ARGUMENT as the
// gateway's own, keeping its field violations with paths prefixed by
// prefix (the storefront request's path to the same data, e.g. "order.").
func passInvalidArgument(err error, prefix string) error {
	vs := apierr.FieldViolations(err)
	for i := range vs {
		vs[i].Field = prefix + vs[i].Field
	}
	if len(vs) == 0 {
		vs = []apierr.FieldViolation{{Field: strings.TrimSuffix(prefix, "."), Description: "invalid value"}}
	}
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		parts = append(parts, v.Field+": "+v.Description)
	}
	return apierr.InvalidArgument("request is invalid: "+strings.Join(parts, "; "), vs...)
}
