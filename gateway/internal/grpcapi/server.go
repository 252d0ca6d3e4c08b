// Package grpcapi implements transload.storefront.v1.StorefrontService by
// composing the process APIs (catalog-pricing, inventory, order,
// fulfillment), and transload.ops.v1.OpsService by forwarding it to the ops
// service. The same implementations serve gRPC callers and, through
// grpc-gateway dialing the gateway's own listener, REST callers.
//
// Files: one per storefront resource (availability.go, products.go,
// orders.go, shipments.go, returns.go), ops.go (the ops.v1 forwarder), convert.go
// (process API ↔ storefront messages, pure), errors.go (the one place
// errors are built and mapped) and requestid.go (the Idempotency-Key →
// request_id interceptor, for storefront and ops mutations alike).
package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/cache"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/neighbours"
	"github.com/transload/transload/gateway/internal/stockview"
)

// Options tune a Server; zero values take the defaults noted.
type Options struct {
	// Currencies are the accepted ISO 4217 codes (required).
	Currencies []string
	// DefaultCurrency prices Product.list_price (default: first currency).
	DefaultCurrency string
	// FreshFor is how long CheckAvailability trusts the versions it last saw
	// to answer from the version-keyed cache; 0 disables the hot path.
	FreshFor time.Duration
	// SnapshotTTL is how long last good answers are kept for the fallback
	// (default 24h).
	SnapshotTTL time.Duration
	// DependencyTimeout bounds each live call of CheckAvailability
	// (default 1.5s).
	DependencyTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// CacheMetrics records the availability caches' hits and misses
	// (default: unregistered).
	CacheMetrics *cache.Metrics
	// Registry receives the gateway's own metrics when set.
	Registry prometheus.Registerer
	// StockView, when set, answers CheckAvailability's stock for the SKUs
	// it holds (see package stockview); nil reads stock live on every call.
	StockView *stockview.View
	// Notify serves the webhook routes (webhooks.go); nil answers them
	// UNIMPLEMENTED.
	Notify notifyv1.NotificationServiceClient
	// OrderLimiter charges every CreateOrder to the customer it is for
	// (keyed by customer id, whichever key sends it), so keys bound to
	// the same customer and channel keys ordering for it share one
	// budget; nil does not limit.
	OrderLimiter *auth.RateLimiter
}

// Server implements storefrontv1.StorefrontServiceServer (returns in
// returns.go). Webhook subscriptions are served by the notify service
// (webhooks.go).
type Server struct {
	storefrontv1.UnimplementedStorefrontServiceServer

	n          *neighbours.Clients
	currencies []string
	defaultCur string
	now        func() time.Time
	logger     *slog.Logger
	avail      *availability
	metrics    *metrics
	notify     notifyv1.NotificationServiceClient
	orderLimit *auth.RateLimiter
}

var _ storefrontv1.StorefrontServiceServer = (*Server)(nil)

// New returns a Server over the neighbour clients, keeping availability
// caches and snapshots in store.
func New(n *neighbours.Clients, store cache.Store, o Options) (*Server, error) {
	if n == nil || store == nil {
		return nil, errors.New("grpcapi: New needs neighbour clients and a cache store")
	}
	if len(o.Currencies) == 0 {
		return nil, errors.New("grpcapi: at least one currency is required")
	}
	if o.DefaultCurrency == "" {
		o.DefaultCurrency = o.Currencies[0]
	}
	if o.SnapshotTTL <= 0 {
		o.SnapshotTTL = 24 * time.Hour
	}
	if o.DependencyTimeout <= 0 {
		o.DependencyTimeout = 1500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{
		n:          n,
		currencies: slices.Clone(o.Currencies),
		defaultCur: o.DefaultCurrency,
		now:        o.Now,
		logger:     o.Logger,
		notify:     o.Notify,
		orderLimit: o.OrderLimiter,
	}
	av, err := newAvailability(store, o)
	if err != nil {
		return nil, err
	}
	s.avail = av
	if s.metrics, err = newMetrics(o.Registry); err != nil {
		return nil, err
	}
	return s, nil
}

// InvalidatePrices makes CheckAvailability quote live on its next call
// instead of trusting the catalog and price versions it last saw; the
// gateway calls it on CatalogPublished and PricesChanged events.
func (s *Server) InvalidatePrices() { s.avail.invalidatePrices() }

// invalidateStock drops skus from the stock projection, so the next
// availability answer for them is read live from inventory. CreateOrder
// and CancelOrder call it before answering, whatever the outcome (an
// order can be reserved even when its answer is lost): the caller's next
// availability then reflects its own order (read-your-writes), however
// late the stock events are. It holds per gateway process.
func (s *Server) invalidateStock(skus []string) {
	if s.avail.view != nil && len(skus) > 0 {
		s.avail.view.Invalidate(skus)
	}
}

// caller returns the authenticated storefront principal. The AuthFunc
// guarantees one; its absence is a wiring bug.
func (s *Server) caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Channel == "" {
		s.logger.ErrorContext(ctx, "storefront call without a storefront principal")
		return auth.Principal{}, apierr.Unauthenticated("missing API key")
	}
	return p, nil
}

// callerFor returns the caller and the customer a request acts for: the
// key's customer when the key is bound (another requested customer is
// CUSTOMER_MISMATCH), else the requested one (may be empty).
func (s *Server) callerFor(ctx context.Context, requested string) (auth.Principal, string, error) {
	p, err := s.caller(ctx)
	switch {
	case err != nil:
		return auth.Principal{}, "", err
	case !p.CustomerBound():
		return p, requested, nil
	case requested != "" && requested != p.CustomerID:
		return auth.Principal{}, "", errCustomerMismatch(requested)
	}
	return p, p.CustomerID, nil
}

// chargeOrder takes one order from customer's budget (Options.OrderLimiter),
// or fails with RESOURCE_EXHAUSTED RATE_LIMITED and a RetryInfo saying when
// the customer may order again (REST: 429 with Retry-After).
func (s *Server) chargeOrder(customer string) error {
	if ok, wait := s.orderLimit.Allow(customer); !ok {
		return apierr.RateLimited("order rate limit of customer "+customer+" exceeded; retry later", max(wait, time.Millisecond))
	}
	return nil
}

// checkCurrency rejects currencies outside the configured set; field is
// the request field path for the violation.
func (s *Server) checkCurrency(field, code string) error {
	if slices.Contains(s.currencies, code) {
		return nil
	}
	return errUnsupportedCurrency(field, code)
}
