package apierr

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
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
		{"canceled", Canceled(), codes.Canceled, commonv1.ErrorReason_ERROR_REASON_CANCELLED, ""},
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

// overTheWire returns err as a client sees it: the status read back with
// status.FromError, marshalled and unmarshalled as gRPC carries it.
func overTheWire(t *testing.T, err error) error {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%v carries no status", err)
	}
	b, merr := proto.Marshal(st.Proto())
	if merr != nil {
		t.Fatal(merr)
	}
	var p spb.Status
	if uerr := proto.Unmarshal(b, &p); uerr != nil {
		t.Fatal(uerr)
	}
	return status.ErrorProto(&p)
}

// wantInfo checks the code and the ErrorInfo of err.
func wantInfo(t *testing.T, err error, code codes.Code, reason Reason, md map[string]string) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("code = %v, want %v", got, code)
	}
	info := Info(err)
	if info.GetDomain() != Domain || info.GetReason() != reason.String() {
		t.Errorf("ErrorInfo = %v, want reason %v in %s", info, reason, Domain)
	}
	if diff := cmp.Diff(md, info.GetMetadata(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

func TestWithViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		code       codes.Code
		reason     commonv1.ErrorReason
		md         map[string]string
		violations []FieldViolation
	}{
		{"specific reason", codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN, nil,
			[]FieldViolation{{Field: "page_token", Description: "issued for another query", Reason: "INVALID_PAGE_TOKEN"}}},
		{"other code with metadata", codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, map[string]string{"field": "force"},
			[]FieldViolation{{Field: "force", Description: "set force", Reason: "PRICE_LIST_NOT_EMPTY"}, {Field: "lines[0].sku", Description: "unknown"}}},
		{"no violations", codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_UNSUPPORTED_CURRENCY, map[string]string{"currency_code": "XXX"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sent := WithViolations(New(tt.code, tt.reason, "msg", tt.md), tt.violations...).Err()
			for _, err := range []error{sent, fmt.Errorf("call: %w", sent), overTheWire(t, sent)} {
				wantInfo(t, err, tt.code, tt.reason, tt.md)
				if diff := cmp.Diff(tt.violations, FieldViolations(err), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("violations (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestWithPreconditionFailure(t *testing.T) {
	t.Parallel()
	md := map[string]string{"sku": "SKU-1", "requested": "5", "available": "2"}
	want := []PreconditionViolation{
		{Type: "OUT_OF_STOCK", Subject: "SKU-1", Description: "requested 5, available 2"},
		{Type: "OUT_OF_STOCK", Subject: "SKU-2", Description: "requested 1, available 0"},
	}
	reason := orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK
	sent := WithPreconditionFailure(New(codes.FailedPrecondition, reason, "insufficient stock", md), want...).Err()
	for _, err := range []error{sent, fmt.Errorf("reserve: %w", sent), overTheWire(t, sent)} {
		wantInfo(t, err, codes.FailedPrecondition, reason, md)
		if diff := cmp.Diff(want, PreconditionViolations(err)); diff != "" {
			t.Errorf("violations (-want +got):\n%s", diff)
		}
		if FieldViolations(err) != nil {
			t.Errorf("PreconditionFailure read back as field violations: %v", FieldViolations(err))
		}
	}
}

func TestWithRetryDelay(t *testing.T) {
	t.Parallel()
	md := map[string]string{"dependency": "pricing"}
	reason := commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE
	sent := WithRetryDelay(New(codes.Unavailable, reason, "pricing is unavailable", md), 2*time.Second).Err()
	for _, err := range []error{sent, overTheWire(t, sent)} {
		wantInfo(t, err, codes.Unavailable, reason, md)
		if d, ok := RetryDelay(err); !ok || d != 2*time.Second {
			t.Errorf("RetryDelay = %v, %v; want 2s", d, ok)
		}
	}
	for _, d := range []time.Duration{0, -time.Second} {
		err := WithRetryDelay(New(codes.Unavailable, reason, "x", nil), d).Err()
		if _, ok := RetryDelay(err); ok || !HasReason(err, reason) {
			t.Errorf("WithRetryDelay(%v): RetryInfo present %v, reason %q; want none and the ErrorInfo kept", d, ok, ReasonOf(err))
		}
	}
}

func TestDetailsCombine(t *testing.T) {
	t.Parallel()
	st := New(codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "x", nil)
	st = WithPreconditionFailure(WithViolations(st, FieldViolation{Field: "f"}), PreconditionViolation{Type: "T"})
	err := overTheWire(t, WithRetryDelay(st, time.Second).Err())
	_, retry := RetryDelay(err)
	if ReasonOf(err) == "" || len(FieldViolations(err)) != 1 || len(PreconditionViolations(err)) != 1 || !retry {
		t.Fatalf("details lost: %v", status.Convert(err).Details())
	}
}

func TestDetailsNeedAnErrorCode(t *testing.T) {
	t.Parallel()
	for name, st := range map[string]*status.Status{"ok": status.New(codes.OK, ""), "nil": nil} {
		if got := WithViolations(st, FieldViolation{Field: "f"}); got.Err() != nil || len(got.Details()) != 0 {
			t.Errorf("%s: WithViolations = %v", name, got)
		}
		if got := WithPreconditionFailure(st, PreconditionViolation{Type: "T"}); got.Err() != nil || len(got.Details()) != 0 {
			t.Errorf("%s: WithPreconditionFailure = %v", name, got)
		}
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	sent := Canceled()
	for _, err := range []error{sent, overTheWire(t, sent)} {
		wantInfo(t, err, codes.Canceled, commonv1.ErrorReason_ERROR_REASON_CANCELLED, nil)
		if msg := status.Convert(err).Message(); msg != "request cancelled" {
			t.Errorf("message = %q", msg)
		}
	}
}
