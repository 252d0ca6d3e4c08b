package grpcapi

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// TestWithdrawnPromotionIsAPrecondition: a promotion deleted between quote
// and reservation answers FAILED_PRECONDITION naming it and the reason
// (it wraps ErrPromotionNotFound, which alone would be NOT_FOUND, and
// order placement would answer an internal error).
func TestWithdrawnPromotionIsAPrecondition(t *testing.T) {
	err := toStatus(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)),
		fmt.Errorf("reserve promotions order-1: %w", &pricing.PromotionWithdrawnError{Promotion: "GONE"}))
	md := apierr.Info(err).GetMetadata()
	if status.Code(err) != codes.FailedPrecondition || !apierr.HasReason(err, catalogv1.ErrorReason_ERROR_REASON_PROMOTION_CODE_INVALID) ||
		md["promotion"] != "GONE" || md["reason"] != "PROMOTION_WITHDRAWN" {
		t.Fatalf("status = %v, metadata %v", err, md)
	}
}
