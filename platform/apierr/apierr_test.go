package apierr

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
)

func TestErrorRoundTrip(t *testing.T) {
	t.Parallel()
	err := Error(codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION, "stale etag",
		map[string]string{"order_id": "o-1"})
	// Survives wrapping, as client adapters wrap before mapping.
	wrapped := fmt.Errorf("submit order: %w", err)
	if got := status.Code(wrapped); got != codes.FailedPrecondition {
		t.Fatalf("code = %v", got)
	}
	info := Info(wrapped)
	if info.GetDomain() != Domain || info.GetReason() != "ERROR_REASON_CONCURRENT_MODIFICATION" || info.GetMetadata()["order_id"] != "o-1" {
		t.Fatalf("info = %v", info)
	}
	if !HasReason(wrapped, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION) {
		t.Fatal("HasReason = false")
	}
	if HasReason(wrapped, commonv1.ErrorReason_ERROR_REASON_INTERNAL) {
		t.Fatal("HasReason(other) = true")
	}
}

func TestReadersOnPlainErrors(t *testing.T) {
	t.Parallel()
	for _, err := range []error{nil, errors.New("boom"), status.Error(codes.NotFound, "no details")} {
		if ReasonOf(err) != "" || Info(err) != nil || FieldViolations(err) != nil {
			t.Errorf("readers on %v returned data", err)
		}
		if _, ok := RetryDelay(err); ok {
			t.Errorf("RetryDelay(%v) ok", err)
		}
	}
}

func TestInvalidArgument(t *testing.T) {
	t.Parallel()
	want := []FieldViolation{
		{Field: "lines[0].quantity", Description: "must be positive", Reason: "INT64_GT"},
		{Field: "customer_id", Description: "required", Reason: "REQUIRED"},
	}
	err := InvalidArgument("bad order", want...)
	if status.Code(err) != codes.InvalidArgument || ReasonOf(err) != "ERROR_REASON_VALIDATION_FAILED" {
		t.Fatalf("err = %v (reason %q)", err, ReasonOf(err))
	}
	if diff := cmp.Diff(want, FieldViolations(err)); diff != "" {
		t.Fatalf("violations (-want +got):\n%s", diff)
	}
}

func TestFromValidationError(t *testing.T) {
	t.Parallel()
	msg := &commonv1.Money{AmountMinor: 100, CurrencyCode: "eur"}
	verr := protovalidate.Validate(msg)
	var ve *protovalidate.ValidationError
	if !errors.As(verr, &ve) {
		t.Fatalf("Validate(%v) = %v, want a ValidationError", msg, verr)
	}
	err := FromValidationError(ve)
	if status.Code(err) != codes.InvalidArgument || !HasReason(err, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED) {
		t.Fatalf("err = %v", err)
	}
	vs := FieldViolations(err)
	if len(vs) != 1 || vs[0].Field != "currency_code" || vs[0].Reason != "STRING_PATTERN" || vs[0].Description == "" {
		t.Fatalf("violations = %+v", vs)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason commonv1.ErrorReason
		target string
	}{
		{"internal", Internal(), codes.Internal, commonv1.ErrorReason_ERROR_REASON_INTERNAL, ""},
		{"dependency", DependencyUnavailable("erp", "erp down"), codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE, "erp"},
		{"circuit", CircuitOpen("pricing:9000"), codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN, "pricing:9000"},
		{"unauthenticated", Unauthenticated("no key"), codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, ""},
		{"denied", PermissionDenied("not admin"), codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED, ""},
		{"rate", RateLimited("slow down", 0), codes.ResourceExhausted, commonv1.ErrorReason_ERROR_REASON_RATE_LIMITED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := status.Code(tt.err); got != tt.code {
				t.Errorf("code = %v, want %v", got, tt.code)
			}
			if !HasReason(tt.err, tt.reason) {
				t.Errorf("reason = %q, want %v", ReasonOf(tt.err), tt.reason)
			}
			if got := Info(tt.err).GetMetadata()[MetaTarget]; got != tt.target {
				t.Errorf("target = %q, want %q", got, tt.target)
			}
		})
	}
	if s := status.Convert(Internal()).Message(); s != "internal error" {
		t.Errorf("Internal message = %q", s)
	}
}

func TestRateLimitedRetryInfo(t *testing.T) {
	t.Parallel()
	d, ok := RetryDelay(RateLimited("slow down", 1500*time.Millisecond))
	if !ok || d != 1500*time.Millisecond {
		t.Fatalf("RetryDelay = %v, %v", d, ok)
	}
}
