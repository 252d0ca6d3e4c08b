// Package rest serves storefront.v1 and ops.v1 as REST/JSON through one
// grpc-gateway mux over a connection to the gateway's own gRPC server (in
// the binary, its grpcserver.LocalConn, which calls the services in
// process), so every REST call runs through the same interceptor chain
// (auth, validation, logging, metrics) as a gRPC call.
//
// On top of grpc-gateway it adds:
//   - the correlation id: `X-Correlation-Id` is taken from the request when
//     valid (else created), forwarded as x-correlation-id and returned on
//     every response, success or error;
//   - forwarded request headers: Authorization (grpc-gateway forwards it),
//     X-Api-Key, Idempotency-Key and X-Correlation-Id;
//   - `Idempotent-Replayed: true` on replayed answers (CreateOrder, and ops
//     mutations when the ops service says so);
//   - a request body limit (413 PAYLOAD_TOO_LARGE) and a request deadline;
//   - ONE JSON error shape for every error (see Error), including malformed
//     JSON, unknown routes and body-size violations;
//   - the conventions web clients expect: unknown query parameters refused
//     (400 naming them, the allowed ones read from each route's
//     google.api.http binding), CORS for configured origins, OPTIONS and
//     405 with Allow, ETag / If-None-Match (304) on single-resource GETs,
//     If-Match (412 when stale), gzip above DefaultCompressMinBytes, and
//     zero Money amounts written out ("amountMinor": "0").
package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/correlation"
)

// HTTP header names the REST API uses.
const (
	HeaderCorrelationID  = "X-Correlation-Id"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderAPIKey         = "X-Api-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// Options configure the REST handler.
type Options struct {
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// RequestTimeout bounds each request end to end (default 15s).
	RequestTimeout time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// AllowedOrigins are the browser origins (scheme://host[:port]) CORS
	// admits; empty means no CORS headers at all.
	AllowedOrigins []string
	// CompressMinBytes is the response size from which answers are
	// gzipped when the client accepts it (default
	// DefaultCompressMinBytes; negative disables compression).
	CompressMinBytes int
}

// NewHandler returns the REST handler for storefront.v1 and ops.v1 over
// conn (a connection to the gateway's own gRPC server: its listener or
// grpcserver.LocalConn). Both APIs share the mux, so the header matchers,
// the body limit, the deadline and the error shape are the same for both.
func NewHandler(ctx context.Context, conn grpc.ClientConnInterface, o Options) (http.Handler, error) {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CompressMinBytes == 0 {
		o.CompressMinBytes = DefaultCompressMinBytes
	}
	cors, err := newCORSPolicy(o.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("rest: allowed origins: %w", err)
	}
	routes, err := Routes(storefrontv1.File_transload_storefront_v1_storefront_service_proto.Services().Get(0),
		opsv1.File_transload_ops_v1_ops_service_proto.Services().Get(0))
	if err != nil {
		return nil, err
	}
	h := &handler{opts: o, cors: cors, routes: routes}
	mux := runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithOutgoingTrailerMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithErrorHandler(h.errorHandler),
		runtime.WithRoutingErrorHandler(h.routingErrorHandler),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newMarshaler()),
		runtime.WithForwardResponseOption(etagResponse),
	)
	if err := storefrontv1.RegisterStorefrontServiceHandlerClient(ctx, mux, storefrontv1.NewStorefrontServiceClient(conn)); err != nil {
		return nil, fmt.Errorf("rest: storefront routes: %w", err)
	}
	if err := opsv1.RegisterOpsServiceHandlerClient(ctx, mux, opsv1.NewOpsServiceClient(conn)); err != nil {
		return nil, fmt.Errorf("rest: ops routes: %w", err)
	}
	h.mux = mux
	return h, nil
}

// incomingHeader forwards the headers both APIs need as gRPC metadata. Authorization is forwarded by grpc-gateway itself.
func incomingHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case HeaderIdempotencyKey:
		return "idempotency-key", true
	case HeaderCorrelationID:
		return correlation.MetadataKey, true
	case HeaderAPIKey:
		return "x-api-key", true
	case "If-Match":
		// For the handlers whose neighbour call takes an etag; the REST
		// side checks the precondition itself as well (checkIfMatch).
		return "if-match", true
	}
	return "", false
}

// outgoingHeader exposes only the replay marker (CreateOrder's, and any an
// ops mutation relays); the correlation id is set
// by the middleware so it is present on every response.
func outgoingHeader(key string) (string, bool) {
	if key == "idempotent-replayed" {
		return HeaderReplayed, true
	}
	return "", false
}

type handler struct {
	opts   Options
	mux    *runtime.ServeMux
	cors   corsPolicy
	routes routeTable
}

// reqState is per-request state the error handler needs.
type reqState struct {
	correlationID string
	// method and the conditional headers of the request, for the ETag
	// response option and the 412 mapping.
	method      string
	ifNoneMatch string
	ifMatch     string

	mu        sync.Mutex
	tooLarge  bool
	decodeErr error
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	if s, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{}
}

// ServeHTTP adds the correlation id, the REST conventions (OPTIONS and
// CORS, 405, unknown query parameters, If-Match, gzip), the body limit
// and the deadline around the grpc-gateway mux.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(HeaderCorrelationID)
	if !correlation.Valid(id) {
		id = correlation.New()
	}
	r.Header.Set(HeaderCorrelationID, id)
	w.Header().Set(HeaderCorrelationID, id)
	st := &reqState{correlationID: id, method: r.Method,
		ifNoneMatch: r.Header.Get("If-None-Match"), ifMatch: r.Header.Get("If-Match")}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), stateKey{}, st), h.opts.RequestTimeout)
	defer cancel()
	ctx = correlation.WithID(ctx, id)
	r = r.WithContext(ctx)

	h.cors.vary(w)
	routes := h.routes.forPath(r.URL.Path)
	if len(routes) > 0 {
		if r.Method == http.MethodOptions {
			h.cors.options(w, r, methods(routes))
			return
		}
		h.cors.actual(w, r)
		same := routesFor(routes, r.Method)
		if len(same) == 0 {
			h.methodNotAllowed(w, r, routes)
			return
		}
		if st := unknownQuery(same, r); st != nil {
			writeError(w, r, st, 0, h.opts.Logger)
			return
		}
	}
	if h.opts.CompressMinBytes > 0 {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			gw := newGzipWriter(w, h.opts.CompressMinBytes)
			defer func() {
				if err := gw.finish(); err != nil {
					h.opts.Logger.DebugContext(ctx, "finish gzip response", slog.Any("error", err))
				}
			}()
			w = gw
		}
	}
	if r.ContentLength > h.opts.MaxBodyBytes {
		st.tooLarge = true
		writeError(w, r, errPayloadTooLarge(h.opts.MaxBodyBytes), http.StatusRequestEntityTooLarge, h.opts.Logger)
		return
	}
	if st.ifMatch != "" && r.Method != http.MethodGet && !h.checkIfMatch(w, r) {
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &limitedBody{rc: r.Body, left: h.opts.MaxBodyBytes, state: st}
	}
	h.mux.ServeHTTP(w, r)
}

// limitedBody fails reads beyond the limit and records it, so the error
// handler can answer 413 instead of a decode error.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	state *reqState
}

var errBodyTooLarge = errors.New("request body too large")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: a body exactly at the limit is fine.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.state.mu.Lock()
			b.state.tooLarge = true
			b.state.mu.Unlock()
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// marshaler is grpc-gateway's protojson marshaler (lowerCamelCase names,
// enum names, strict about unknown fields) whose decoder records decode
// failures, so they are reported as malformed bodies.
type marshaler struct {
	*runtime.JSONPb
}

// Marshal implements runtime.Marshaler, writing zero Money amounts out
// (see withZeroAmounts): EmitUnpopulated or EmitDefaultValues would do
// it for every field, turning each unset string, list and enum of every
// answer into noise, while a money type's zero is a value clients read.
func (m *marshaler) Marshal(v any) ([]byte, error) {
	return marshalWithZeroAmounts(v, m.JSONPb.Marshal)
}

func newMarshaler() *marshaler {
	return &marshaler{JSONPb: &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: false, EmitUnpopulated: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
}

// NewDecoder implements runtime.Marshaler.
func (m *marshaler) NewDecoder(r io.Reader) runtime.Decoder {
	d := m.JSONPb.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		err := d.Decode(v)
		if err != nil && !errors.Is(err, io.EOF) {
			if lb, ok := r.(*limitedBody); ok {
				lb.state.mu.Lock()
				lb.state.decodeErr = err
				lb.state.mu.Unlock()
			}
		}
		return err
	})
}
