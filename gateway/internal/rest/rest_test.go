package rest

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
)

// TestErrorStatusAndName pins the HTTP status and JSON "status" of every
// gRPC code as the storefront contract states them.
func TestErrorStatusAndName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   codes.Code
		status int
		name   string
	}{
		{codes.Canceled, 499, "CANCELED"},
		{codes.Unknown, 500, "UNKNOWN"},
		{codes.InvalidArgument, 400, "INVALID_ARGUMENT"},
		{codes.DeadlineExceeded, 504, "DEADLINE_EXCEEDED"},
		{codes.NotFound, 404, "NOT_FOUND"},
		{codes.AlreadyExists, 409, "ALREADY_EXISTS"},
		{codes.PermissionDenied, 403, "PERMISSION_DENIED"},
		{codes.ResourceExhausted, 429, "RESOURCE_EXHAUSTED"},
		{codes.FailedPrecondition, 400, "FAILED_PRECONDITION"},
		{codes.Aborted, 409, "ABORTED"},
		{codes.OutOfRange, 400, "OUT_OF_RANGE"},
		{codes.Unimplemented, 501, "UNIMPLEMENTED"},
		{codes.Internal, 500, "INTERNAL"},
		{codes.Unavailable, 503, "UNAVAILABLE"},
		{codes.DataLoss, 500, "DATA_LOSS"},
		{codes.Unauthenticated, 401, "UNAUTHENTICATED"},
		{codes.Code(42), 500, "CODE(42)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runtime.HTTPStatusFromCode(tc.code); got != tc.status {
				t.Errorf("HTTP %d, want %d", got, tc.status)
			}
			if got := statusName(tc.code); got != tc.name {
				t.Errorf("name %q, want %q", got, tc.name)
			}
		})
	}
}

func TestLimitedBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size     int
		tooLarge bool
	}{{9, false}, {10, false}, {11, true}, {5000, true}} {
		st := &reqState{}
		b := &limitedBody{rc: io.NopCloser(strings.NewReader(strings.Repeat("x", tc.size))), left: 10, state: st}
		data, err := io.ReadAll(b)
		if tc.tooLarge != errors.Is(err, errBodyTooLarge) || st.tooLarge != tc.tooLarge {
			t.Errorf("size %d: err %v tooLarge %v, want too large %v", tc.size, err, st.tooLarge, tc.tooLarge)
		}
		if !tc.tooLarge && len(data) != tc.size {
			t.Errorf("size %d: read %d", tc.size, len(data))
		}
	}
}

func TestHeaderMatchers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Idempotency-Key":  "idempotency-key",
		"idempotency-key":  "idempotency-key",
		"X-Correlation-Id": "x-correlation-id",
		"X-Api-Key":        "x-api-key",
		"Cookie":           "",
		"Grpc-Metadata-X":  "",
	} {
		got, ok := incomingHeader(in)
		if got != want || ok != (want != "") {
			t.Errorf("incoming %q → %q %v, want %q", in, got, ok, want)
		}
	}
	if got, ok := outgoingHeader("idempotent-replayed"); !ok || http.CanonicalHeaderKey(got) != "Idempotent-Replayed" {
		t.Errorf("outgoing replayed → %q %v", got, ok)
	}
	if _, ok := outgoingHeader("x-correlation-id"); ok {
		t.Error("x-correlation-id is forwarded twice (the middleware sets it)")
	}
}
