// Package app wires the gateway on the runtime svcmain.Start returned: the
// gRPC server (platform/grpcserver with the standard chain, API-key auth and
// protovalidate) serving storefront.v1 and ops.v1, the REST side
// (grpc-gateway calling the same services in process through the same
// interceptor chain, grpcserver.LocalConn) with the operator console
// mounted beside it, the neighbour clients (the ops service among them)
// and the availability cache and stock projection (stockview, fed by
// inventory's stock events), and runs them until the context ends.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/listen"
	"github.com/transload/transload/platform/svcmain"

	"github.com/transload/transload/gateway/internal/apidocs"
	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/catalogevents"
	"github.com/transload/transload/gateway/internal/config"
	"github.com/transload/transload/gateway/internal/console"
	"github.com/transload/transload/gateway/internal/grpcapi"
	"github.com/transload/transload/gateway/internal/neighbours"
	"github.com/transload/transload/gateway/internal/notifyclient"
	"github.com/transload/transload/gateway/internal/rest"
	"github.com/transload/transload/gateway/internal/stockview"
)

// Deps are optional overrides, mostly for tests: ready listeners (bufconn),
// how the REST side and the neighbour clients dial, a cache store, a clock.
type Deps struct {
	// GRPCListener, AdminListener and HTTPListener replace listening on
	// the configured addresses.
	GRPCListener, AdminListener, HTTPListener net.Listener
	// SelfDialOptions, when set, are used by the console and the
	// readiness check to reach the gRPC listener (e.g. a bufconn dialer);
	// the target is then "passthrough:///self". REST calls the services
	// in process (grpcserver.LocalConn) and does not dial.
	SelfDialOptions []grpc.DialOption
	// NeighbourOptions are added to every neighbour connection.
	NeighbourOptions []grpcclient.Option
	// CacheStore replaces the store built from cfg.Cache.
	CacheStore cache.Store
	// Now is the clock of the availability cache (default time.Now).
	Now func() time.Time
}

// Gateway is a wired, not yet running gateway.
type Gateway struct {
	cfg     config.Config
	logger  *slog.Logger
	srv     *grpcserver.Server
	self    *grpc.ClientConn
	clients *neighbours.Clients
	// notifyConn serves the webhook routes (package notifyclient).
	notifyConn *grpc.ClientConn
	store      cache.Store
	rest       http.Handler
	events     *catalogevents.Listener
	stock      *stockview.Feed
	http       *http.Server
	httpLis    net.Listener
	serving    atomic.Bool
}

// New wires the gateway on rt (its logger, registry, tracing and admin
// server) and binds its listeners.
func New(ctx context.Context, cfg config.Config, rt *svcmain.Runtime, d Deps) (_ *Gateway, err error) {
	logger := rt.Logger()
	keys, err := auth.ParseKeys(cfg.APIKeys)
	if err != nil {
		return nil, fmt.Errorf("gateway: API_KEYS: %w", err)
	}
	if keys.Len() == 0 {
		logger.Warn("no API keys configured (API_KEYS): every storefront call will be rejected as unauthenticated")
	}
	g := &Gateway{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			g.closeAll()
		}
	}()

	reg := rt.Registry()
	sopts := []grpcserver.Option{
		grpcserver.WithAuth(auth.NewRateLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst, nil).Limit(keys.AuthFunc())),
		// Outermost, so Idempotency-Key fills request_id before validation.
		grpcserver.WithFirstUnaryInterceptors(grpcapi.RequestIDUnaryInterceptor()),
	}
	if d.GRPCListener != nil {
		sopts = append(sopts, grpcserver.WithListener(d.GRPCListener))
	} else {
		sopts = append(sopts, grpcserver.WithAddr(cfg.GRPCAddr))
	}
	if d.AdminListener != nil {
		sopts = append(sopts, grpcserver.WithAdminListener(d.AdminListener))
	} else {
		sopts = append(sopts, grpcserver.WithAdminAddr(cfg.AdminAddr))
	}
	if g.srv, err = rt.NewServer(sopts...); err != nil {
		return nil, err
	}

	cacheMetrics, err := cache.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("gateway: cache metrics: %w", err)
	}
	g.store = d.CacheStore
	if g.store == nil {
		if g.store, err = cache.New(cfg.Cache, cache.WithLogger(logger), cache.WithMetrics(cacheMetrics)); err != nil {
			return nil, fmt.Errorf("gateway: cache: %w", err)
		}
	}

	if g.clients, err = neighbours.Dial(neighbours.Targets{
		Catalog:     neighbours.Target{Addr: cfg.CatalogAddr, Timeout: cfg.CatalogTimeout},
		Inventory:   neighbours.Target{Addr: cfg.InventoryAddr, Timeout: cfg.InventoryTimeout},
		Order:       neighbours.Target{Addr: cfg.OrderAddr, Timeout: cfg.OrderTimeout},
		Fulfillment: neighbours.Target{Addr: cfg.FulfillmentAddr, Timeout: cfg.FulfillmentTimeout},
		Ops:         neighbours.Target{Addr: cfg.OpsAddr, Timeout: cfg.OpsTimeout},
	}, append(rt.ClientOptions(), d.NeighbourOptions...)...); err != nil {
		return nil, err
	}

	notify, notifyConn, err := notifyclient.Dial(cfg.NotifyAddr, cfg.NotifyTimeout, append(rt.ClientOptions(), d.NeighbourOptions...)...)
	if err != nil {
		return nil, err
	}
	g.notifyConn = notifyConn

	view, feed, err := startStockFeed(cfg, g.clients.Inventory, reg, logger)
	if err != nil {
		return nil, fmt.Errorf("gateway: stock events: %w", err)
	}
	g.stock = feed
	api, err := grpcapi.New(g.clients, g.store, grpcapi.Options{
		Currencies:        cfg.Currencies,
		DefaultCurrency:   cfg.DefaultCurrency,
		FreshFor:          cfg.AvailabilityFreshFor,
		SnapshotTTL:       cfg.AvailabilitySnapshotTTL,
		DependencyTimeout: cfg.AvailabilityDependencyTimeout,
		Now:               d.Now,
		Logger:            logger,
		CacheMetrics:      cacheMetrics,
		Registry:          reg,
		StockView:         view,
		Notify:            notify,
		OrderLimiter:      auth.NewRateLimiter(cfg.OrderRatePerCustomer, cfg.OrderBurstPerCustomer, nil),
	})
	if err != nil {
		return nil, err
	}
	storefrontv1.RegisterStorefrontServiceServer(g.srv, api)
	ops, err := grpcapi.NewOps(g.clients.Ops, logger)
	if err != nil {
		return nil, err
	}
	// Readiness does not look at the ops service: the operators' plane
	// being down must not take the storefront out of rotation.
	opsv1.RegisterOpsServiceServer(g.srv, ops)
	if cfg.NATSURL != "" {
		if g.events, err = catalogevents.Listen(cfg.NATSURL, cfg.ServiceName, func(subject string) {
			logger.Debug("catalog changed; price cache versions dropped", slog.String("subject", subject))
			api.InvalidatePrices()
		}, logger); err != nil {
			return nil, fmt.Errorf("gateway: catalog events: %w", err)
		}
	}

	target := "passthrough:///self"
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if len(d.SelfDialOptions) > 0 {
		dialOpts = append(dialOpts, d.SelfDialOptions...)
	} else {
		target = loopbackTarget(g.srv.Addr())
	}
	dialOpts = append(dialOpts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(rt.TracerProvider()))))
	if g.self, err = grpc.NewClient(target, dialOpts...); err != nil {
		return nil, fmt.Errorf("gateway: dial own gRPC listener: %w", err)
	}
	// REST calls the services in process: the same interceptor chain
	// (request id, recovery, correlation, deadline, access log, metrics,
	// auth and rate limit, validation) and error statuses as a call on
	// the listener, without a loopback gRPC hop per request.
	compressMin := cfg.CompressMinBytes
	if compressMin == 0 {
		compressMin = -1 // rest.Options: negative turns gzip off, 0 is its default
	}
	if g.rest, err = rest.NewHandler(ctx, g.srv.LocalConn(), rest.Options{
		MaxBodyBytes: cfg.MaxBodyBytes, RequestTimeout: cfg.RequestTimeout, Logger: logger,
		AllowedOrigins: cfg.CORSAllowedOrigins, CompressMinBytes: compressMin,
	}); err != nil {
		return nil, fmt.Errorf("gateway: rest: %w", err)
	}
	sessionKey, set, err := cfg.SessionKey()
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if !set {
		logger.Warn("CONSOLE_SESSION_KEY is not set: console sessions are sealed with a random key of this process, " +
			"so they end when it restarts and are not recognized by other gateway replicas")
	}
	// The console calls ops.v1 on the gateway's own listener, like REST,
	// so the operator's key goes through the same authentication, roles
	// and audit actor as any other caller's.
	consoleHandler, err := console.New(opsv1.NewOpsServiceClient(g.self), console.Options{Logger: logger, SessionKey: sessionKey})
	if err != nil {
		return nil, fmt.Errorf("gateway: console: %w", err)
	}
	g.http = &http.Server{
		Handler:           withConsole(consoleHandler, apidocs.Handler(), g.rest),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Protocols:         restProtocols(),
	}
	g.httpLis = d.HTTPListener
	if g.httpLis == nil {
		if g.httpLis, err = listen.TCP(cfg.HTTPAddr); err != nil { // the launcher's socket when it handed one over
			return nil, fmt.Errorf("gateway: listen rest on %s: %w", cfg.HTTPAddr, err)
		}
	}

	health := healthpb.NewHealthClient(g.self)
	rt.Admin().AddCheck("grpc", func(ctx context.Context) error {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: storefrontv1.StorefrontService_ServiceDesc.ServiceName})
		if err != nil {
			return fmt.Errorf("own gRPC listener: %w", err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("storefront service is %s", resp.GetStatus())
		}
		return nil
	})
	rt.Admin().AddCheck("rest", func(context.Context) error {
		if !g.serving.Load() {
			return errors.New("REST listener not serving")
		}
		return nil
	})
	return g, nil
}

// restProtocols are the REST listener's protocols: HTTP/1.1 and HTTP/2
// over cleartext (h2c with prior knowledge, as `curl --http2-prior-knowledge`
// and gRPC-style clients speak it), so one connection multiplexes a
// storefront's calls without TLS inside the cluster. TLS, and with it
// negotiated HTTP/2, is the ingress's job.
func restProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// consolePath is where the operator console is mounted on the REST
// listener.
const consolePath = "/console/"

// withConsole serves the console under consolePath, the API documents
// and reference page (apidocs: /openapi/, /docs/) and everything else with
// rest. It matches the prefixes itself rather than through http.ServeMux,
// which would redirect unclean REST paths instead of letting grpc-gateway
// answer them in the JSON error shape.
func withConsole(console, docs, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, consolePath):
			console.ServeHTTP(w, r)
		case r.URL.Path == strings.TrimSuffix(consolePath, "/"):
			http.Redirect(w, r, consolePath, http.StatusMovedPermanently)
		case apidocs.Owns(r.URL.Path):
			docs.ServeHTTP(w, r)
		default:
			rest.ServeHTTP(w, r)
		}
	})
}

// loopbackTarget turns a listener address into a dial target, replacing an
// unspecified host (0.0.0.0, ::) with loopback.
func loopbackTarget(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		if ip.To4() == nil && ip != nil {
			ip = net.IPv6loopback
		} else {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// GRPCAddr is the gRPC listener's address.
func (g *Gateway) GRPCAddr() net.Addr { return g.srv.Addr() }

// HTTPAddr is the REST listener's address.
func (g *Gateway) HTTPAddr() net.Addr { return g.httpLis.Addr() }

// AdminAddr is the admin listener's address (nil when disabled).
func (g *Gateway) AdminAddr() net.Addr { return g.srv.AdminAddr() }

// Run serves gRPC, admin and REST until ctx ends or a listener fails, then
// shuts everything down gracefully.
func (g *Gateway) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	grpcDone := make(chan error, 1)
	go func() { grpcDone <- g.srv.Run(ctx) }()
	httpDone := make(chan error, 1)
	go func() {
		g.serving.Store(true)
		g.logger.Info("rest listening", slog.String("addr", g.httpLis.Addr().String()))
		err := g.http.Serve(g.httpLis)
		g.serving.Store(false)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		httpDone <- err
	}()

	var runErr error
	grpcFinished, httpFinished := false, false
	select {
	case <-ctx.Done():
	case err := <-httpDone:
		httpFinished = true
		runErr = fmt.Errorf("gateway: rest listener: %w", err)
	case err := <-grpcDone:
		grpcFinished = true
		runErr = err
		if runErr == nil {
			runErr = errors.New("gateway: gRPC server stopped unexpectedly")
		}
	}
	cancel()
	if !httpFinished {
		sctx, scancel := context.WithTimeout(context.Background(), grpcserver.DefaultShutdownTimeout)
		if err := g.http.Shutdown(sctx); err != nil {
			g.logger.Warn("rest shutdown", slog.Any("error", err))
		}
		scancel()
		if err := <-httpDone; err != nil && runErr == nil {
			runErr = fmt.Errorf("gateway: rest listener: %w", err)
		}
	}
	if !grpcFinished {
		if err := <-grpcDone; err != nil && runErr == nil {
			runErr = err
		}
	}
	g.closeClients()
	return runErr
}

// Close releases a gateway whose Run was never called.
func (g *Gateway) Close() error {
	g.closeAll()
	return nil
}

func (g *Gateway) closeAll() {
	if g.srv != nil {
		_ = g.srv.Close()
	}
	if g.httpLis != nil {
		_ = g.httpLis.Close()
	}
	g.closeClients()
}

func (g *Gateway) closeClients() {
	g.events.Close()
	g.stock.Close()
	if g.self != nil {
		_ = g.self.Close()
	}
	if g.clients != nil {
		_ = g.clients.Close()
	}
	if g.notifyConn != nil {
		_ = g.notifyConn.Close()
	}
	if g.store != nil {
		_ = g.store.Close()
	}
}
