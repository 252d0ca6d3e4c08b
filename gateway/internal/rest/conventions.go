package rest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

// routesFor keeps the routes of one HTTP method.
func routesFor(routes []*Route, method string) []*Route {
	var out []*Route
	for _, r := range routes {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// unknownQuery is the 400 for query parameters none of routes accepts
// (grpc-gateway would drop them silently, so a misspelt filter would
// widen a list instead of failing), one violation per parameter; nil when
// every parameter names a field the route reads from the query.
func unknownQuery(routes []*Route, r *http.Request) *status.Status {
	if r.URL.RawQuery == "" {
		return nil
	}
	var unknown []string
	for key := range r.URL.Query() {
		known := false
		for _, rt := range routes {
			if _, ok := rt.QueryField(key); ok {
				known = true
				break
			}
		}
		if !known {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	accepted := "none"
	if f := routes[0].QueryFields(); len(f) > 0 {
		accepted = strings.Join(f, ", ")
	}
	violations := make([]apierr.FieldViolation, 0, len(unknown))
	for _, k := range unknown {
		violations = append(violations, apierr.FieldViolation{Field: k, Reason: "UNKNOWN_PARAMETER",
			Description: fmt.Sprintf("%s %s takes no query parameter %q (accepted: %s)", r.Method, routes[0].Template, k, accepted)})
	}
	msg := fmt.Sprintf("unknown query parameter %q", unknown[0])
	if len(unknown) > 1 {
		msg = fmt.Sprintf("unknown query parameters %q", unknown)
	}
	return apierr.WithViolations(apierr.New(codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, msg, nil), violations...)
}

// methodNotAllowed answers a method no route of the path serves: 405
// with Allow, in the JSON error shape.
func (h *handler) methodNotAllowed(w http.ResponseWriter, r *http.Request, routes []*Route) {
	w.Header().Set("Allow", strings.Join(append(methods(routes), http.MethodOptions), ", "))
	st := apierr.New(codes.Unimplemented, commonv1.ErrorReason_ERROR_REASON_UNSPECIFIED,
		"method "+r.Method+" not allowed on "+r.URL.Path, nil)
	writeError(w, r, st, http.StatusMethodNotAllowed, h.opts.Logger)
}

// errPreconditionFailed is the answer to a stale If-Match, the same
// ABORTED CONCURRENT_MODIFICATION a neighbour gives for a stale etag.
func errPreconditionFailed() *status.Status {
	return apierr.New(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION,
		"the resource changed since it was read (If-Match does not match its ETag); re-read and retry", nil)
}

// isConcurrentModification reports whether st is a stale-etag answer.
func isConcurrentModification(st *status.Status) bool {
	return st.Code() == codes.Aborted && apierr.HasReason(st.Err(), commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION)
}

// checkIfMatch evaluates If-Match on a mutation of a resource the API can
// GET (a custom method such as POST /v1/{name=orders/*}:cancel, or a
// PATCH/DELETE on the resource path): it reads the resource as the
// caller, with the same credentials, and answers 412 when its ETag is not
// listed. It returns false when it has answered. A mutation whose
// resource has no GET route or no etag is left to the neighbour, which
// receives If-Match as metadata.
func (h *handler) checkIfMatch(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		if j := strings.LastIndex(path[i:], ":"); j > 0 {
			path = path[:i+j]
		}
	}
	if len(routesFor(h.routes.forPath(path), http.MethodGet)) == 0 {
		return true
	}
	st := stateFrom(r.Context())
	get := &reqState{correlationID: st.correlationID, method: http.MethodGet}
	req, err := http.NewRequestWithContext(context.WithValue(r.Context(), stateKey{}, get), http.MethodGet, path, nil)
	if err != nil {
		return true
	}
	for _, k := range []string{"Authorization", HeaderAPIKey, HeaderCorrelationID} {
		if v := r.Header.Values(k); len(v) > 0 {
			req.Header[k] = v
		}
	}
	rec := &capture{header: http.Header{}}
	h.mux.ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		// Not found, not allowed, unavailable: the caller learns it as
		// from a GET.
		for k, v := range rec.header {
			if k != HeaderCorrelationID {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body)
		return false
	}
	tag := rec.header.Get("ETag")
	if tag == "" || etagListMatches(st.ifMatch, tag, false) {
		return true
	}
	writeError(w, r, errPreconditionFailed(), http.StatusPreconditionFailed, h.opts.Logger)
	return false
}

// capture records the answer of an internal request.
type capture struct {
	header http.Header
	status int
	body   []byte
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body = append(c.body, p...)
	return len(p), nil
}
