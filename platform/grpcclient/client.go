// Package grpcclient dials the gRPC connections Transload services use to
// call each other, with the platform's resilience rules built in:
//
//   - every unary call has a deadline: the caller's, capped by the
//     connection's timeout (WithDefaultTimeout), whichever comes first, so
//     a neighbour's configured budget holds even inside a long request;
//   - retries with exponential backoff, only on UNAVAILABLE and only for the
//     methods listed as idempotent (reads, and mutations carrying a request
//     id), through gRPC's own retry support in the service config, bounded by
//     a retry-throttling budget so retries cannot amplify an outage;
//   - one circuit breaker per target around each logical call (after
//     retries), failing fast with CIRCUIT_OPEN while open, and one breaker
//     per replica address under it (see "Breakers per replica");
//   - correlation id propagation (x-correlation-id) and OpenTelemetry trace
//     propagation (otelgrpc client stats handler);
//   - Prometheus client metrics with a handling-time histogram;
//   - keepalive pings that respect the server's enforcement policy.
//
// The client interceptor chain, outermost first: correlation id, breaker,
// default deadline, metrics. The breaker sits outside the default deadline
// on purpose: a default deadline expiring is the dependency's slowness and
// counts, the caller's own deadline expiring does not.
//
// # Breakers per replica
//
// A target may name several replicas ("static:///a:9004,b:9004", or a
// DNS name with several addresses). Dial's load-balancing policy is round
// robin over the READY addresses, each behind a breaker of its own (same
// Settings as the dependency's, counting each attempt with
// IsTargetFailure): a replica whose breaker is open receives no calls
// until its OpenTimeout passes and a trial call succeeds, while the others
// keep serving. The dependency's breaker does not count a target failure
// on one address while another address is READY and serving (its breaker
// closed, its latest call a success): one failing or killed replica never
// refuses callers of a healthy one. When every replica fails (a partition,
// a shared database down) each failure counts, so the dependency's breaker
// opens after as many failed calls as with one replica; and when every
// READY replica's breaker is open, the call fails at once with
// CIRCUIT_OPEN named after the dependency, a refusal that counts against
// the dependency's breaker too (as does no replica being reachable). Replica breakers log their state
// changes (target "<dependency> replica <address>"); only the
// dependency's breaker is exported as a metric. WithoutBreaker keeps
// plain round robin.
//
// # Classifying errors
//
// Classify is the one answer to "what does this error from a dependency
// mean?"; client adapters map its Class to their domain errors and the
// breakers Dial builds count failures with IsTargetFailure, so a service,
// the gateway and a breaker never disagree about a code.
//
//	error                                     class            breaker  why
//	nil                                       ClassNone        success
//	UNAVAILABLE + reason CIRCUIT_OPEN         ClassCircuitOpen success  refused before it was sent (by our breaker, or relayed by the target about its own)
//	UNAVAILABLE                               ClassTransient   failure  the target is down, restarting or unreachable
//	DEADLINE_EXCEEDED                         ClassTransient   failure  the target was slower than the budget the client gave it (see ClassifyCtx)
//	RESOURCE_EXHAUSTED                        ClassTransient   failure  overloaded or throttling us; backing off is what it asks for
//	INTERNAL, UNKNOWN, DATA_LOSS              ClassTransient   failure  the target broke while handling a request it accepted
//	OK (on a non-nil error), unknown codes    ClassTransient   failure  a broken peer; treated like UNKNOWN
//	errors without a status                   ClassTransient   failure  transport, encoding or adapter failures
//	ABORTED                                   ClassConflict    success  the target is up and lost a concurrency race (REQUEST_IN_PROGRESS, CONCURRENT_MODIFICATION); retry the operation
//	INVALID_ARGUMENT, OUT_OF_RANGE            ClassRejected    success  a verdict about the request's content
//	NOT_FOUND, ALREADY_EXISTS                 ClassRejected    success  a verdict about the resource named
//	FAILED_PRECONDITION                       ClassRejected    success  a verdict about the state the request needs
//	UNAUTHENTICATED, PERMISSION_DENIED        ClassRejected    success  a verdict about the caller's credentials; retrying cannot change it
//	UNIMPLEMENTED                             ClassRejected    success  the target does not serve the method (version skew); it is up
//	CANCELLED, context.Canceled               ClassCallerGone  success  the caller went away; nothing is known about the target
//
// "breaker" is IsTargetFailure; a success there resets the consecutive
// failure count, because an answer proves the target is up. One refinement
// on top of the table: an UNAVAILABLE carrying reason
// DEPENDENCY_UNAVAILABLE is ClassTransient for the caller (it got no
// answer it can use) but not a failure of the target, which answered to
// say that its own dependency is down.
//
// DEADLINE_EXCEEDED has two owners. The breaker runs outside Dial's
// default deadline and leaves out any call whose caller's context has
// ended, so only a deadline the client imposed counts against the target.
// A caller that holds its own context uses ClassifyCtx(ctx, err): an ended
// ctx makes any error ClassCallerGone, while a per-call timeout the caller
// derived from ctx expiring stays ClassTransient. Classify alone, with no
// context, takes DEADLINE_EXCEEDED and context.DeadlineExceeded to be the
// dependency's slowness.
package grpcclient

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/meshtls"
)

// Defaults.
const (
	DefaultTimeout = 5 * time.Second
	// DefaultMaxRecvMsgSize matches grpcserver.DefaultMaxSendMsgSize so a
	// response the server may send is one the client accepts.
	DefaultMaxRecvMsgSize = 16 << 20
)

// Keepalive: ping after 30s without activity (above the server's 10s
// minimum, so the server never answers with GOAWAY "too_many_pings"), give
// up on the connection if the ping is not answered within 10s.
const (
	KeepaliveTime    = 30 * time.Second
	KeepaliveTimeout = 10 * time.Second
)

// RetryPolicy is gRPC's retryPolicy for idempotent methods.
type RetryPolicy struct {
	// MaxAttempts includes the first call; gRPC caps it at 5.
	MaxAttempts       int
	InitialBackoff    time.Duration
	MaxBackoff        time.Duration
	BackoffMultiplier float64
	// RetryableCodes lists the codes that trigger a retry.
	RetryableCodes []codes.Code
}

// DefaultRetryPolicy makes up to 4 attempts on UNAVAILABLE with jittered
// exponential backoff starting at 100ms, capped at 2s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:       4,
		InitialBackoff:    100 * time.Millisecond,
		MaxBackoff:        2 * time.Second,
		BackoffMultiplier: 2,
		RetryableCodes:    []codes.Code{codes.Unavailable},
	}
}

// RetryThrottling is gRPC's retry budget for a connection: each failed
// attempt costs one token, each success earns TokenRatio; retries stop
// while tokens are at or below MaxTokens/2.
type RetryThrottling struct {
	MaxTokens  int
	TokenRatio float64
}

// DefaultRetryThrottling allows retries until about half of recent
// attempts fail: 10 tokens, 0.1 earned per success.
func DefaultRetryThrottling() RetryThrottling {
	return RetryThrottling{MaxTokens: 10, TokenRatio: 0.1}
}

type options struct {
	logger          *slog.Logger
	idempotent      []string
	retry           RetryPolicy
	throttling      RetryThrottling
	defaultTimeout  time.Duration
	streamTimeout   time.Duration
	breakerSettings breaker.Settings
	breaker         *breaker.Breaker
	noBreaker       bool
	registry        prometheus.Registerer
	tracerProvider  trace.TracerProvider
	creds           credentials.TransportCredentials
	mesh            *meshtls.Member // WithMeshTLS: replaces creds, see meshtls.go
	dependency      string
	unary           []grpc.UnaryClientInterceptor
	stream          []grpc.StreamClientInterceptor
	dialOpts        []grpc.DialOption
}

// Option configures Dial.
type Option func(*options)

// WithIdempotentMethods lists the full method names ("/pkg.Service/Method")
// that may be retried: reads, and mutations that carry a request id the
// server de-duplicates on. Nothing else is ever retried.
func WithIdempotentMethods(fullMethods ...string) Option {
	return func(o *options) { o.idempotent = append(o.idempotent, fullMethods...) }
}

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithRetryThrottling replaces DefaultRetryThrottling.
func WithRetryThrottling(t RetryThrottling) Option { return func(o *options) { o.throttling = t } }

// WithDefaultTimeout sets the connection's per-call budget (default
// DefaultTimeout): every unary call ends at the earlier of the caller's
// deadline and d from its start. A call cut by d counts against the
// breaker (the dependency was slow); a call cut by the caller's own
// deadline does not. Zero leaves calls with the caller's deadline only.
func WithDefaultTimeout(d time.Duration) Option { return func(o *options) { o.defaultTimeout = d } }

// WithStreamTimeout sets the connection's budget for a whole stream
// (default none: streams are often meant to stay open): a stream ends at
// the earlier of the caller's deadline and d from its opening. The budget
// is released when the stream ends (a receive fails, io.EOF included).
func WithStreamTimeout(d time.Duration) Option { return func(o *options) { o.streamTimeout = d } }

// WithBreakerSettings sets the thresholds of the connection's breaker
// (default breaker.DefaultSettings()). When s.IsFailure is nil the breaker
// counts failures with IsTargetFailure.
func WithBreakerSettings(s breaker.Settings) Option {
	return func(o *options) { o.breakerSettings = s }
}

// WithBreaker uses b instead of creating a breaker for the target, e.g. to
// share one breaker between several connections to the same dependency.
// b counts failures with its own Settings.IsFailure: build it with
// IsFailure set to IsTargetFailure (or a refinement of it), since
// breaker.New's default counts every error, business answers included.
// The connection's replica breakers take b's Settings (WithBreakerSettings
// is then ignored).
func WithBreaker(b *breaker.Breaker) Option { return func(o *options) { o.breaker = b } }

// WithoutBreaker disables the breaker (for callers that must reach the
// target even when it is struggling, such as health probes).
func WithoutBreaker() Option { return func(o *options) { o.noBreaker = true } }

// WithRegistry registers client and breaker metrics with reg (typically
// grpcserver.Server.Registry()). Several connections may share reg. Without
// it no metrics are recorded.
func WithRegistry(reg prometheus.Registerer) Option { return func(o *options) { o.registry = reg } }

// WithLogger sets the logger for breaker state changes.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTracerProvider sets the tracer provider for the otelgrpc stats handler
// (default: the global one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// WithTransportCredentials sets TLS (or mTLS) credentials; the default is
// plaintext, for meshes that terminate TLS in a sidecar and for local runs.
func WithTransportCredentials(c credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = c }
}

// WithUnaryInterceptors appends interceptors inside the standard chain.
func WithUnaryInterceptors(i ...grpc.UnaryClientInterceptor) Option {
	return func(o *options) { o.unary = append(o.unary, i...) }
}

// WithStreamInterceptors appends stream interceptors inside the standard chain.
func WithStreamInterceptors(i ...grpc.StreamClientInterceptor) Option {
	return func(o *options) { o.stream = append(o.stream, i...) }
}

// WithDialOptions passes extra options to grpc.NewClient (applied last).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithDependency names the dependency the connection reaches, e.g. "erp"
// or "inventory": its breaker, the breaker's metrics and logs, and the
// CIRCUIT_OPEN errors it returns carry this name instead of the dial
// target, because operators read "erp" on a dashboard, not an address
// (which also changes between environments).
func WithDependency(name string) Option { return func(o *options) { o.dependency = name } }

// Dial returns a client connection to target (any grpc.NewClient target,
// e.g. "dns:///inventory:8080", "127.0.0.1:8080", or several replicas as
// "static:///127.0.0.1:9004,127.0.0.1:9204", see StaticScheme); calls
// are spread over the target's addresses round robin, skipping a replica
// whose own breaker is open, behind the dependency's breaker (see
// "Breakers per replica"). Like grpc.NewClient it does not connect until
// the first call. The breaker is named after the dependency
// (WithDependency), or after target when none is named.
func Dial(target string, opts ...Option) (*grpc.ClientConn, error) {
	o := options{
		logger:          slog.Default(),
		retry:           DefaultRetryPolicy(),
		throttling:      DefaultRetryThrottling(),
		defaultTimeout:  DefaultTimeout,
		breakerSettings: breaker.DefaultSettings(),
		creds:           insecure.NewCredentials(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.mesh != nil {
		o.creds = meshCredentials(o.mesh, o.dependency, o.breaker, target)
	}
	lb := map[string]any{"round_robin": struct{}{}}
	unary := []grpc.UnaryClientInterceptor{correlationUnary}
	stream := []grpc.StreamClientInterceptor{correlationStream}
	if !o.noBreaker {
		s := o.breakerSettings
		if o.breaker != nil {
			// The replicas trip and recover like the shared breaker.
			s = o.breaker.Settings()
		}
		if s.IsFailure == nil {
			s.IsFailure = IsTargetFailure
		}
		name := cmp.Or(o.dependency, target)
		b := o.breaker
		if b == nil {
			bopts := []breaker.Option{breaker.WithLogger(o.logger)}
			if o.registry != nil {
				m, err := breaker.NewMetrics(o.registry)
				if err != nil {
					return nil, fmt.Errorf("grpcclient: breaker metrics: %w", err)
				}
				bopts = append(bopts, breaker.WithMetrics(m))
			}
			b = breaker.New(name, s, bopts...)
		} else {
			name = b.Target()
		}
		// One breaker per replica address under the dependency's breaker
		// (replicas.go); the id only lives until NewClient parsed the config.
		set := newReplicaSet(name, s, o.logger)
		id := nextSetID.Add(1)
		replicaSets.Store(id, set)
		defer replicaSets.Delete(id)
		lb = map[string]any{replicaPolicy: map[string]uint64{"set": id}}
		unary = append(unary, replicaUnary(b, set))
		stream = append(stream, replicaStream(b, set))
	}
	sc, err := serviceConfig(lb, o.idempotent, o.retry, o.throttling)
	if err != nil {
		return nil, err
	}
	unary = append(unary, deadlineUnary(o.defaultTimeout))
	if o.streamTimeout > 0 {
		stream = append(stream, deadlineStream(o.streamTimeout))
	}
	if o.registry != nil {
		m, err := clientMetrics(o.registry)
		if err != nil {
			return nil, err
		}
		unary = append(unary, m.UnaryClientInterceptor())
		stream = append(stream, m.StreamClientInterceptor())
	}
	unary = append(unary, o.unary...)
	stream = append(stream, o.stream...)

	otelOpts := []otelgrpc.Option{}
	if o.tracerProvider != nil {
		otelOpts = append(otelOpts, otelgrpc.WithTracerProvider(o.tracerProvider))
	}
	dialOpts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(o.creds),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelOpts...)),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
		// Our service config is the only one: a resolver (e.g. DNS TXT)
		// must not switch retries on for non-idempotent methods.
		grpc.WithDisableServiceConfig(),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                KeepaliveTime,
			Timeout:             KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxRecvMsgSize)),
	}, o.dialOpts...)
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("grpcclient: dial %s: %w", target, err)
	}
	return conn, nil
}

// clientMetrics returns the client metrics registered with reg, creating
// and registering them on first use.
func clientMetrics(reg prometheus.Registerer) (*grpcprom.ClientMetrics, error) {
	m := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram())
	if err := reg.Register(m); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*grpcprom.ClientMetrics); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("grpcclient: register client metrics: %w", err)
	}
	return m, nil
}

type jsonName struct {
	Service string `json:"service"`
	Method  string `json:"method,omitempty"`
}

type jsonRetryPolicy struct {
	MaxAttempts          int      `json:"maxAttempts"`
	InitialBackoff       string   `json:"initialBackoff"`
	MaxBackoff           string   `json:"maxBackoff"`
	BackoffMultiplier    float64  `json:"backoffMultiplier"`
	RetryableStatusCodes []string `json:"retryableStatusCodes"`
}

type jsonMethodConfig struct {
	Name        []jsonName       `json:"name"`
	RetryPolicy *jsonRetryPolicy `json:"retryPolicy,omitempty"`
}

type jsonServiceConfig struct {
	LoadBalancingConfig []map[string]any   `json:"loadBalancingConfig"`
	MethodConfig        []jsonMethodConfig `json:"methodConfig,omitempty"`
	RetryThrottling     *struct {
		MaxTokens  int     `json:"maxTokens"`
		TokenRatio float64 `json:"tokenRatio"`
	} `json:"retryThrottling,omitempty"`
}

// ServiceConfig renders the gRPC service config JSON Dial installs: round
// robin load balancing, the retry policy for exactly the idempotent methods
// (full names "/pkg.Service/Method"), and retry throttling. A connection
// with a breaker gets the same config with round robin replaced by its
// per-replica breakers (a round robin that skips a replica whose breaker
// is open, see Dial).
func ServiceConfig(idempotent []string, p RetryPolicy, t RetryThrottling) (string, error) {
	return serviceConfig(map[string]any{"round_robin": struct{}{}}, idempotent, p, t)
}

// serviceConfig is ServiceConfig with the load-balancing policy lb.
func serviceConfig(lb map[string]any, idempotent []string, p RetryPolicy, t RetryThrottling) (string, error) {
	sc := jsonServiceConfig{LoadBalancingConfig: []map[string]any{lb}}
	if len(idempotent) > 0 && p.MaxAttempts > 1 {
		if p.InitialBackoff <= 0 || p.MaxBackoff <= 0 || p.BackoffMultiplier <= 0 || len(p.RetryableCodes) == 0 {
			return "", errors.New("grpcclient: retry policy needs positive backoffs, multiplier and retryable codes")
		}
		mc := jsonMethodConfig{RetryPolicy: &jsonRetryPolicy{
			MaxAttempts:       p.MaxAttempts,
			InitialBackoff:    seconds(p.InitialBackoff),
			MaxBackoff:        seconds(p.MaxBackoff),
			BackoffMultiplier: p.BackoffMultiplier,
		}}
		for _, c := range p.RetryableCodes {
			mc.RetryPolicy.RetryableStatusCodes = append(mc.RetryPolicy.RetryableStatusCodes, code.Code_name[int32(c)])
		}
		methods := slices.Clone(idempotent)
		slices.Sort(methods)
		for _, full := range slices.Compact(methods) {
			svc, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
			if !ok || svc == "" || method == "" || strings.Contains(method, "/") {
				return "", fmt.Errorf("grpcclient: idempotent method %q is not a full method name like /pkg.Service/Method", full)
			}
			mc.Name = append(mc.Name, jsonName{Service: svc, Method: method})
		}
		sc.MethodConfig = []jsonMethodConfig{mc}
		if t.MaxTokens > 0 {
			sc.RetryThrottling = &struct {
				MaxTokens  int     `json:"maxTokens"`
				TokenRatio float64 `json:"tokenRatio"`
			}{t.MaxTokens, t.TokenRatio}
		}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("grpcclient: service config: %w", err)
	}
	return string(b), nil
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// outgoingWithCorrelation adds the context's correlation id (or a new one)
// to the outgoing metadata unless the caller already set one.
func outgoingWithCorrelation(ctx context.Context) context.Context {
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(correlation.MetadataKey)) > 0 {
		return ctx
	}
	ctx, id := correlation.Ensure(ctx)
	return metadata.AppendToOutgoingContext(ctx, correlation.MetadataKey, id)
}

func correlationUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(outgoingWithCorrelation(ctx), method, req, reply, cc, opts...)
}

func correlationStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(outgoingWithCorrelation(ctx), desc, cc, method, opts...)
}

// deadlineStream caps every stream at d from its opening (WithStreamTimeout).
func deadlineStream(d time.Duration) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer,
		opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &budgetedStream{ClientStream: cs, cancel: cancel}, nil
	}
}

// budgetedStream releases its stream's deadline when the stream ends.
type budgetedStream struct {
	grpc.ClientStream
	cancel context.CancelFunc
}

// RecvMsg receives the next message; an error (io.EOF included) ends the
// stream and releases its deadline.
func (s *budgetedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.cancel()
	}
	return err
}

// deadlineUnary caps every unary call at d (context.WithTimeout keeps an
// earlier caller deadline). Streams are left alone: they are often meant
// to stay open.
func deadlineUnary(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
