package rest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

// restError is what a client reads from a REST error body.
type restError struct {
	HTTP       int
	Code       int32
	Status     string
	Message    string
	Reason     string
	Violations []apierr.FieldViolation
	RetryAfter string
}

func TestErrorHandlerShapes(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		err       error
		decodeErr error
		cancelled bool
		want      restError
	}{
		"apierr error passes through": {
			err: apierr.WithRetryDelay(apierr.New(codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE,
				"order is unavailable, retry later", map[string]string{"dependency": "order"}), time.Second).Err(),
			want: restError{HTTP: 503, Code: 14, Status: "UNAVAILABLE", Message: "order is unavailable, retry later",
				Reason: "ERROR_REASON_DEPENDENCY_UNAVAILABLE", RetryAfter: "1"},
		},
		"bare status gets the fallback reason": {
			err:  status.Error(codes.NotFound, "nothing here"),
			want: restError{HTTP: 404, Code: 5, Status: "NOT_FOUND", Message: "nothing here", Reason: "ERROR_REASON_NOT_FOUND"},
		},
		"bare internal hides its cause": {
			err:  errors.New("dial tcp 10.0.0.7:9005: connection refused"),
			want: restError{HTTP: 500, Code: 2, Status: "UNKNOWN", Message: "internal error", Reason: "ERROR_REASON_INTERNAL"},
		},
		"malformed body": {
			err:       status.Error(codes.InvalidArgument, "unexpected EOF"),
			decodeErr: errors.New("proto: syntax error (line 1:2): unexpected token"),
			want: restError{HTTP: 400, Code: 3, Status: "INVALID_ARGUMENT", Message: "request body is not valid JSON for this method",
				Reason:     "ERROR_REASON_VALIDATION_FAILED",
				Violations: []apierr.FieldViolation{{Field: "body", Description: "syntax error (line 1:2): unexpected token", Reason: "MALFORMED"}}},
		},
		"malformed parameter": {
			err: status.Error(codes.InvalidArgument, `type mismatch, parameter: page_size, error: strconv.ParseInt: parsing "abc": invalid syntax`),
			want: restError{HTTP: 400, Code: 3, Status: "INVALID_ARGUMENT", Message: "invalid request parameter",
				Reason: "ERROR_REASON_VALIDATION_FAILED",
				Violations: []apierr.FieldViolation{{Field: "query", Reason: "MALFORMED",
					Description: `type mismatch, parameter: page_size, error: strconv.ParseInt: parsing "abc": invalid syntax`}}},
		},
		"caller gone": {
			err:       status.Error(codes.Canceled, "context canceled"),
			cancelled: true,
			want:      restError{HTTP: 499, Code: 1, Status: "CANCELED", Message: "request cancelled", Reason: "ERROR_REASON_CANCELLED"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &handler{opts: Options{Logger: slog.New(slog.DiscardHandler)}}
			ctx, cancel := context.WithCancel(context.WithValue(context.Background(), stateKey{},
				&reqState{correlationID: "corr-1", decodeErr: tc.decodeErr}))
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			req := httptest.NewRequestWithContext(ctx, "POST", "/v1/orders", nil)
			rec := httptest.NewRecorder()
			h.errorHandler(ctx, nil, nil, rec, req, tc.err)

			var body Error
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if body.CorrelationID != "corr-1" {
				t.Errorf("correlationId %q", body.CorrelationID)
			}
			got := restError{HTTP: rec.Code, Code: body.Code, Status: body.Status, Message: body.Message,
				RetryAfter: rec.Header().Get("Retry-After")}
			info, violations := detailsOf(t, body.Details)
			got.Reason, got.Violations = info, violations
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// detailsOf returns the ErrorInfo reason and the BadRequest violations of a
// REST error's details, and checks that the ErrorInfo comes first.
func detailsOf(t *testing.T, details []json.RawMessage) (string, []apierr.FieldViolation) {
	t.Helper()
	var (
		reason     string
		violations []apierr.FieldViolation
	)
	for i, raw := range details {
		var d struct {
			Type            string `json:"@type"`
			Reason          string `json:"reason"`
			Domain          string `json:"domain"`
			FieldViolations []struct {
				Field, Description, Reason string
			} `json:"fieldViolations"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("detail %s: %v", raw, err)
		}
		switch d.Type {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			if i != 0 || d.Domain != apierr.Domain {
				t.Errorf("ErrorInfo at %d in domain %q, want first in %q", i, d.Domain, apierr.Domain)
			}
			reason = d.Reason
		case "type.googleapis.com/google.rpc.BadRequest":
			for _, v := range d.FieldViolations {
				violations = append(violations, apierr.FieldViolation{Field: v.Field, Description: v.Description, Reason: v.Reason})
			}
		}
	}
	return reason, violations
}
