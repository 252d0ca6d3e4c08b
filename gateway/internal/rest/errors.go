package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/protoadapt"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

// Error is the JSON body of every REST error: a google.rpc.Status (code,
// message, details with "@type") plus the gRPC code's name and the
// correlation id. details always holds one google.rpc.ErrorInfo.
type Error struct {
	// Code is the numeric gRPC code, e.g. 3.
	Code int32 `json:"code"`
	// Status is the gRPC code name, e.g. "INVALID_ARGUMENT".
	Status string `json:"status"`
	// Message is English text for humans; do not parse it.
	Message string `json:"message"`
	// Details are the google.rpc detail messages in their JSON form.
	Details []json.RawMessage `json:"details"`
	// CorrelationID is the X-Correlation-Id of the request.
	CorrelationID string `json:"correlationId"`
}

// statusName is the JSON "status" of a REST error: google.rpc.Code's name
// of c ("INVALID_ARGUMENT"). The one exception is Canceled, printed
// "CANCELED" (grpc-go's spelling, which this API has always used) rather
// than google.rpc's "CANCELLED", so no client sees the field change.
// A code google.rpc does not name prints as "CODE(n)", as it always has.
//
// The HTTP status of a REST error is grpc-gateway's
// runtime.HTTPStatusFromCode, which matches the storefront contract
// (FAILED_PRECONDITION is 400: business failures are told apart by
// ErrorInfo.reason; CANCELLED is 499).
func statusName(c codes.Code) string {
	if c == codes.Canceled {
		return "CANCELED"
	}
	if n, ok := code.Code_name[int32(c)]; ok {
		return n
	}
	return strings.ToUpper(c.String())
}

// fallbackReason is the ErrorInfo reason added to errors that carry none.
func fallbackReason(c codes.Code) commonv1.ErrorReason {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED
	case codes.NotFound:
		return commonv1.ErrorReason_ERROR_REASON_NOT_FOUND
	case codes.Unauthenticated:
		return commonv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED
	case codes.PermissionDenied:
		return commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED
	case codes.ResourceExhausted:
		return commonv1.ErrorReason_ERROR_REASON_RATE_LIMITED
	case codes.Unavailable:
		return commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE
	case codes.DeadlineExceeded:
		return commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED
	case codes.Aborted:
		return commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return commonv1.ErrorReason_ERROR_REASON_INTERNAL
	default:
		return commonv1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
}

func errPayloadTooLarge(limit int64) *status.Status {
	st := apierr.New(codes.ResourceExhausted, commonv1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE,
		fmt.Sprintf("request body exceeds %d bytes", limit), map[string]string{"limitBytes": fmt.Sprint(limit)})
	return st
}

// requestParseError is the error for a request grpc-gateway could not turn
// into a proto message (malformed JSON, unknown field, bad path or query
// parameter): INVALID_ARGUMENT with a field violation explaining it.
func requestParseError(field, what, cause string) *status.Status {
	return apierr.WithViolations(apierr.New(codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, what, nil),
		apierr.FieldViolation{Field: field, Description: cause, Reason: "MALFORMED"})
}

// cleanCause strips the protojson prefix from a decode error for display.
func cleanCause(msg string) string {
	msg = strings.TrimPrefix(msg, "proto: ")
	msg = strings.TrimPrefix(msg, "proto:\u00a0")
	return msg
}

func (h *handler) errorHandler(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	state := stateFrom(r.Context())
	state.mu.Lock()
	tooLarge, decodeErr := state.tooLarge, state.decodeErr
	state.mu.Unlock()
	if errors.Is(err, errNotModified) {
		// The ETag and the other headers stay; a 304 has no body.
		w.Header().Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if tooLarge {
		writeError(w, r, errPayloadTooLarge(h.opts.MaxBodyBytes), http.StatusRequestEntityTooLarge, h.opts.Logger)
		return
	}
	st := status.Convert(err)
	if st.Code() == codes.InvalidArgument && !hasErrorInfo(st) {
		// Raised by grpc-gateway while building the request, before any
		// handler ran: a body or a parameter it could not parse.
		if decodeErr != nil {
			st = requestParseError("body", "request body is not valid JSON for this method", cleanCause(decodeErr.Error()))
		} else {
			st = requestParseError("query", "invalid request parameter", cleanCause(st.Message()))
		}
	}
	if r.Context().Err() != nil && st.Code() == codes.Canceled {
		st = status.Convert(apierr.Canceled())
	}
	httpStatus := 0
	if state.ifMatch != "" && isConcurrentModification(st) {
		// The caller stated a precondition (If-Match) and it failed.
		httpStatus = http.StatusPreconditionFailed
	}
	writeError(w, r, st, httpStatus, h.opts.Logger)
}

func (h *handler) routingErrorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var st *status.Status
	switch httpStatus {
	case http.StatusNotFound:
		st = apierr.New(codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND, "no route for "+r.Method+" "+r.URL.Path, nil)
	case http.StatusMethodNotAllowed:
		// The route table answers these before the mux; this is the
		// fallback should grpc-gateway match a path it does not know.
		if routes := h.routes.forPath(r.URL.Path); len(routes) > 0 {
			h.methodNotAllowed(w, r, routes)
			return
		}
		st = apierr.New(codes.Unimplemented, commonv1.ErrorReason_ERROR_REASON_UNSPECIFIED, "method "+r.Method+" not allowed on "+r.URL.Path, nil)
	default:
		st = requestParseError("path", "invalid request path", http.StatusText(httpStatus))
	}
	writeError(w, r, st, httpStatus, h.opts.Logger)
}

// hasErrorInfo reports whether st carries an ErrorInfo, i.e. came through
// apierr (ours or a neighbour's) rather than from grpc-gateway or a bare
// status.
func hasErrorInfo(st *status.Status) bool { return apierr.Info(st.Err()) != nil }

// writeError writes the one JSON error shape; httpStatus 0 derives it from
// the code.
func writeError(w http.ResponseWriter, r *http.Request, st *status.Status, httpStatus int, logger *slog.Logger) {
	c := st.Code()
	msg := st.Message()
	if fallbackReason(c) == commonv1.ErrorReason_ERROR_REASON_INTERNAL && !hasErrorInfo(st) {
		// Errors that did not come through apierr may carry raw causes.
		logger.ErrorContext(r.Context(), "internal error answered over REST", slog.String("grpc.code", c.String()), slog.String("error", msg))
		msg = "internal error"
	}
	if !hasErrorInfo(st) {
		withInfo, err := apierr.New(c, fallbackReason(c), msg, nil).WithDetails(detailsV1(st)...)
		if err == nil {
			st = withInfo
		}
	}
	body := Error{Code: int32(c), Status: statusName(c), Message: msg, Details: []json.RawMessage{}, CorrelationID: stateFrom(r.Context()).correlationID}
	if body.CorrelationID == "" {
		body.CorrelationID = w.Header().Get(HeaderCorrelationID)
	}
	for _, a := range st.Proto().GetDetails() {
		b, err := protojson.Marshal(a)
		if err != nil {
			continue
		}
		body.Details = append(body.Details, b)
	}
	if httpStatus == 0 {
		httpStatus = runtime.HTTPStatusFromCode(c)
	}
	if d, ok := apierr.RetryDelay(st.Err()); ok && d > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(max(int(d.Seconds()), 1)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		logger.DebugContext(r.Context(), "write REST error body", slog.Any("error", err))
	}
}

// detailsV1 returns st's decodable details (to re-attach them).
func detailsV1(st *status.Status) []protoadapt.MessageV1 {
	var out []protoadapt.MessageV1
	for _, d := range st.Details() {
		if m, ok := d.(protoadapt.MessageV1); ok {
			out = append(out, m)
		}
	}
	return out
}
