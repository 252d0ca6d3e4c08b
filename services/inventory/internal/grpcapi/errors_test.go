package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

func TestToStatus(t *testing.T) {
	t.Parallel()
	s, err := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		err    error
		hint   map[string]string
		code   codes.Code
		reason string
		meta   map[string]string
	}{
		{
			name: "insufficient stock", err: fmt.Errorf("reserve o1: %w", &inventory.InsufficientStockError{SKU: "S", Requested: 5, Available: 2}),
			code: codes.FailedPrecondition, reason: "ERROR_REASON_INSUFFICIENT_STOCK",
			meta: map[string]string{"sku": "S", "requested": "5", "available": "2"},
		},
		{
			name: "unknown sku", err: &inventory.UnknownSKUError{SKU: "S"},
			code: codes.FailedPrecondition, reason: "ERROR_REASON_UNKNOWN_SKU", meta: map[string]string{"sku": "S"},
		},
		{
			name: "reference taken", err: &inventory.ReservationExistsForReferenceError{ReferenceID: "o1", Reservation: "reservations/r"},
			code: codes.AlreadyExists, reason: "ERROR_REASON_RESERVATION_EXISTS_FOR_REFERENCE",
			meta: map[string]string{"reference_id": "o1", "reservation": "reservations/r"},
		},
		{
			name: "state conflict", err: &inventory.StateConflictError{Reservation: "reservations/r", State: inventory.StateCommitted, Operation: "release"},
			code: codes.FailedPrecondition, reason: "ERROR_REASON_RESERVATION_STATE_CONFLICT",
			meta: map[string]string{"reservation": "reservations/r", "state": "STATE_COMMITTED", "operation": "release"},
		},
		{
			name: "hold ttl", err: &inventory.HoldTTLTooLongError{Max: 24 * time.Hour},
			code: codes.InvalidArgument, reason: "ERROR_REASON_HOLD_TTL_TOO_LONG", meta: map[string]string{"max_ttl": "86400s"},
		},
		{
			name: "warehouse not found", err: fmt.Errorf("x: %w", inventory.ErrWarehouseNotFound), hint: map[string]string{"warehouse_code": "W", "sku": "ignored"},
			code: codes.NotFound, reason: "ERROR_REASON_WAREHOUSE_NOT_FOUND", meta: map[string]string{"warehouse_code": "W"},
		},
		{
			name: "request id reused", err: inventory.ErrIdempotencyKeyReused,
			code: codes.AlreadyExists, reason: "ERROR_REASON_IDEMPOTENCY_KEY_REUSED",
		},
		{
			name: "not loaded", err: inventory.ErrNotLoaded,
			code: codes.Unavailable, reason: "ERROR_REASON_DEPENDENCY_UNAVAILABLE", meta: map[string]string{"target": "erp"},
		},
		{
			name: "caller went away", err: fmt.Errorf("reserve: %w", context.Canceled),
			code: codes.Canceled, reason: "ERROR_REASON_CANCELLED",
		},
		{
			name: "unexpected error is internal without its message", err: errors.New("pq: secret table exploded"),
			code: codes.Internal, reason: "ERROR_REASON_INTERNAL",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := s.toStatus(context.Background(), tc.err, tc.hint)
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Errorf("code = %v, want %v", st.Code(), tc.code)
			}
			info := apierr.Info(err)
			if info.GetReason() != tc.reason || info.GetDomain() != apierr.Domain {
				t.Errorf("ErrorInfo = %v, want reason %s", info, tc.reason)
			}
			if diff := cmp.Diff(tc.meta, info.GetMetadata()); len(tc.meta) > 0 && diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if tc.code == codes.Internal && st.Message() != "internal error" {
				t.Errorf("internal message leaks: %q", st.Message())
			}
		})
	}
}
