package aip

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	_, filterErr := testSchema.Parse(`colour = "red"`)
	tokenErr := DecodePageToken("garbage", baseQuery)
	tests := []struct {
		name       string
		err        error
		reason     commonv1.ErrorReason
		violations []apierr.FieldViolation
		msgPrefix  string
	}{
		{
			name: "filter", err: filterErr, reason: commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			violations: []apierr.FieldViolation{{
				Field:       "filter",
				Description: `unknown field "colour"; use customer_id, channel, state, create_time, quantity, active or sku (at offset 0)`,
				Reason:      "INVALID_FILTER",
			}},
			msgPrefix: "filter is invalid: unknown field",
		},
		{
			name: "page token", err: tokenErr, reason: commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN,
			violations: []apierr.FieldViolation{{
				Field: "page_token", Description: "the token is not one this service issued", Reason: "INVALID_PAGE_TOKEN",
			}},
			msgPrefix: "page_token is invalid: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Wrapped as a handler would wrap it: the status still comes through.
			err := fmt.Errorf("list: %w", tt.err)
			st := status.Convert(tt.err)
			if st.Code() != codes.InvalidArgument || status.Code(err) != codes.InvalidArgument {
				t.Errorf("code = %v (wrapped %v), want InvalidArgument", st.Code(), status.Code(err))
			}
			if !strings.HasPrefix(st.Message(), tt.msgPrefix) {
				t.Errorf("message = %q, want prefix %q", st.Message(), tt.msgPrefix)
			}
			if !apierr.HasReason(err, tt.reason) {
				t.Errorf("reason = %q, want %v", apierr.ReasonOf(err), tt.reason)
			}
			if diff := cmp.Diff(tt.violations, apierr.FieldViolations(err)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
