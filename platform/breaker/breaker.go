// Package breaker wraps sony/gobreaker with Transload's rules: one breaker
// per dependency (target), and under it one per replica address where
// platform/grpcclient spreads calls over replicas (Allow, the two-step
// form, serves its picker); only dependency failures count, an open breaker
// fails fast with codes.Unavailable and reason ERROR_REASON_CIRCUIT_OPEN,
// and every state change is logged and exported to Prometheus.
//
// What counts as a failure is Settings.IsFailure. The package knows
// nothing of gRPC codes: its default, DefaultIsFailure, counts every error
// but context.Canceled, which suits a dependency without business answers
// (a cache, a socket). Breakers guarding gRPC calls take their predicate
// from platform/grpcclient (grpcclient.IsTargetFailure, which grpcclient.Dial
// installs), where the one classification of status codes lives: business
// answers (InvalidArgument, NotFound, FailedPrecondition, Aborted, ...)
// prove the dependency is up and count as successes. A call whose caller's
// own context was cancelled or expired is not counted at all, whatever the
// predicate: the dependency was never given the chance to answer. A
// caller that knows better than the predicate marks an error NotCounted
// or Failure.
package breaker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"

	"github.com/transload/transload/platform/apierr"
)

// State is a breaker state.
type State = gobreaker.State

// Breaker states, re-exported so callers need not import gobreaker.
const (
	StateClosed   = gobreaker.StateClosed
	StateHalfOpen = gobreaker.StateHalfOpen
	StateOpen     = gobreaker.StateOpen
)

// Settings are the trip and recovery thresholds of a breaker.
type Settings struct {
	// ConsecutiveFailures trips the breaker after this many dependency
	// failures in a row. 0 disables this rule.
	ConsecutiveFailures uint32
	// FailureRatio trips the breaker when failures/requests within Interval
	// reach it, once at least MinRequests were made. 0 disables this rule.
	FailureRatio float64
	// MinRequests is the sample size the ratio rule needs.
	MinRequests uint32
	// Interval is the closed-state window after which counts reset.
	// 0 means counts only reset on state changes.
	Interval time.Duration
	// OpenTimeout is how long the breaker stays open before letting trial
	// requests through (half-open).
	OpenTimeout time.Duration
	// HalfOpenMaxRequests is how many trial requests may run while
	// half-open; that many consecutive successes close the breaker.
	HalfOpenMaxRequests uint32
	// IsFailure reports whether an error returned by a guarded call
	// counts against the dependency; any other error counts as a success,
	// because an answer proves the dependency is up. It is never asked
	// about nil, nor about errors after the caller's context ended. nil
	// means DefaultIsFailure, except for the breakers grpcclient.Dial
	// builds, which use grpcclient.IsTargetFailure.
	IsFailure func(error) bool
}

// DefaultSettings trips after 5 consecutive failures or a 50% failure ratio
// over at least 20 calls in 30s, stays open 10s, then allows 1 trial call.
// IsFailure is left nil so that whoever builds the breaker picks the
// predicate that fits the dependency.
func DefaultSettings() Settings {
	return Settings{
		ConsecutiveFailures: 5,
		FailureRatio:        0.5,
		MinRequests:         20,
		Interval:            30 * time.Second,
		OpenTimeout:         10 * time.Second,
		HalfOpenMaxRequests: 1,
	}
}

func (s Settings) readyToTrip(c gobreaker.Counts) bool {
	if s.ConsecutiveFailures > 0 && c.ConsecutiveFailures >= s.ConsecutiveFailures {
		return true
	}
	if s.FailureRatio > 0 && c.Requests >= max(s.MinRequests, 1) {
		return float64(c.TotalFailures)/float64(c.Requests) >= s.FailureRatio
	}
	return false
}

// Breaker guards calls to one target.
type Breaker struct {
	target    string
	settings  Settings
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	logger    *slog.Logger
	metrics   *Metrics
	isFailure func(error) bool
}

// Option configures a Breaker.
type Option func(*Breaker)

// WithLogger sets the logger for state changes (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(b *Breaker) { b.logger = l } }

// WithMetrics exports state and transitions through m.
func WithMetrics(m *Metrics) Option { return func(b *Breaker) { b.metrics = m } }

// DefaultIsFailure is the failure predicate of a breaker whose Settings
// leave IsFailure nil: every error counts except context.Canceled, which is
// never a dependency's verdict.
func DefaultIsFailure(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled)
}

// New returns a closed breaker for target (a dial target or a dependency
// name such as "erp"); target labels its logs, metrics and errors.
func New(target string, s Settings, opts ...Option) *Breaker {
	b := &Breaker{target: target, settings: s, logger: slog.Default(), isFailure: s.IsFailure}
	if b.isFailure == nil {
		b.isFailure = DefaultIsFailure
	}
	for _, o := range opts {
		o(b)
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          target,
		MaxRequests:   s.HalfOpenMaxRequests,
		Interval:      s.Interval,
		Timeout:       s.OpenTimeout,
		ReadyToTrip:   s.readyToTrip,
		OnStateChange: b.onStateChange,
		IsSuccessful:  b.isSuccessful,
		IsExcluded: func(err error) bool {
			var v verdict
			return errors.As(err, &v) && v.kind == verdictNotCounted
		},
	})
	b.metrics.setState(target, StateClosed)
	return b
}

// onStateChange runs under gobreaker's lock; it must not call back into cb.
func (b *Breaker) onStateChange(_ string, from, to gobreaker.State) {
	level := slog.LevelInfo
	if to == StateOpen {
		level = slog.LevelWarn
	}
	b.logger.Log(context.Background(), level, "circuit breaker state changed",
		slog.String("target", b.target), slog.String("from", from.String()), slog.String("to", to.String()))
	b.metrics.setState(b.target, to)
	b.metrics.transition(b.target, from, to)
}

// Settings returns the settings the breaker was built with (IsFailure as
// given, possibly nil), e.g. for breakers of the same dependency's
// replicas that must trip and recover alike.
func (b *Breaker) Settings() Settings { return b.settings }

// Target returns the target the breaker guards.
func (b *Breaker) Target() string { return b.target }

// State returns the current state (an open breaker whose timeout has passed
// reports half-open).
func (b *Breaker) State() State { return b.cb.State() }

// isSuccessful is gobreaker's view of an error that is not excluded:
// nil, or an error IsFailure does not count, unless the caller marked it
// with Failure.
func (b *Breaker) isSuccessful(err error) bool {
	if err == nil {
		return true
	}
	var v verdict
	if errors.As(err, &v) && v.kind == verdictFailure {
		return false
	}
	return !b.isFailure(err)
}

// Serving reports whether the target looks healthy now: the breaker is
// closed and the latest call it counted succeeded (or none failed yet).
func (b *Breaker) Serving() bool {
	return b.cb.State() == StateClosed && b.cb.Counts().ConsecutiveFailures == 0
}

// Execute runs fn through the breaker. When the breaker is open (or
// half-open with its trial slots taken) fn is not called and the error is
// apierr.CircuitOpen(target). Otherwise fn's error is returned unchanged
// (unwrapped from NotCounted or Failure, which only tell the breaker how
// to count it).
func (b *Breaker) Execute(ctx context.Context, fn func(context.Context) error) error {
	_, err := Do(ctx, b, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// Do is Execute for functions that return a value.
func Do[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	done, ok := b.Allow()
	if !ok {
		var zero T
		return zero, apierr.CircuitOpen(b.target)
	}
	finished := false
	defer func() {
		if !finished { // fn panicked: a failure, and the panic goes on
			done(ctx, Failure(errors.New("breaker: guarded call panicked")))
		}
	}()
	out, err := fn(ctx)
	finished = true
	done(ctx, err)
	return out, unwrapVerdict(err)
}

// Allow is the two-step form of Execute, for a caller that cannot wrap
// the guarded call in a function, such as a gRPC picker that learns the
// outcome later: ok reports whether one call may start now (false while
// open, or half-open with its trial slots taken), and done must then be
// called exactly once with the call's outcome: the caller's ctx and the
// call's error. An error after ctx ended is not counted (CallerEnded), nor
// one marked NotCounted; one marked Failure always counts.
func (b *Breaker) Allow() (done func(ctx context.Context, err error), ok bool) {
	report, err := b.cb.Allow()
	if err != nil {
		return nil, false
	}
	return func(ctx context.Context, err error) {
		if err != nil && ctx != nil && CallerEnded(ctx) {
			err = NotCounted(err)
		}
		report(err)
	}, true
}

// NotCounted marks err as saying nothing about the guarded target, so the
// breaker counts it neither as a failure nor as a success: for example a
// call that failed on one replica of a dependency while another replica
// still serves (platform/grpcclient). Execute and Do return err itself.
func NotCounted(err error) error { return verdict{err: err, kind: verdictNotCounted} }

// Failure marks err as a failure of the guarded target whatever
// Settings.IsFailure says, for example a refusal by a lower layer that
// found every replica of the dependency failing. Execute and Do return
// err itself.
func Failure(err error) error { return verdict{err: err, kind: verdictFailure} }

// verdict is an error with the caller's word on how the breaker counts it.
type verdict struct {
	err  error
	kind int
}

const (
	verdictNotCounted = iota + 1
	verdictFailure
)

// Error returns the wrapped error's message.
func (v verdict) Error() string { return v.err.Error() }

// unwrapVerdict returns the error inside NotCounted or Failure.
func unwrapVerdict(err error) error {
	if v, ok := err.(verdict); ok { //nolint:errorlint // only the mark itself, as NotCounted and Failure return it; a wrapped one keeps its wrapper
		return v.err
	}
	return err
}

// CallerEnded reports whether the caller's ctx has ended: cancelled, or
// past its deadline even when its timer has not fired yet. A per-call
// deadline derived from ctx with the same instant runs its own timer and
// may fire first, before ctx.Err() is set; the failure is still the
// caller's deadline, not the dependency's slowness.
func CallerEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// UnaryClientInterceptor guards every unary call on a connection with b.
// Install it outside any default-deadline interceptor so that a default
// deadline expiring counts as a dependency failure while the caller's own
// deadline expiring does not. b's Settings.IsFailure must read gRPC
// statuses (grpcclient.IsTargetFailure): DefaultIsFailure would count
// business answers too.
func (b *Breaker) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return b.Execute(ctx, func(ctx context.Context) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		})
	}
}

// StreamClientInterceptor guards stream creation with b. Only errors
// returned while opening the stream count; errors later in the stream's life
// are the caller's to interpret.
func (b *Breaker) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return Do(ctx, b, func(ctx context.Context) (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, opts...)
		})
	}
}

// Metrics exports breaker state per target. One Metrics serves every
// breaker registered with the same registry.
type Metrics struct {
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
}

// NewMetrics creates the breaker metrics and registers them with reg,
// reusing already registered ones so several clients can share a registry:
//
//	transload_breaker_state{target}                      0 closed, 1 half-open, 2 open
//	transload_breaker_transitions_total{target,from,to}
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	state := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "transload_breaker_state",
		Help: "Circuit breaker state per target: 0 closed, 1 half-open, 2 open.",
	}, []string{"target"})
	transitions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "transload_breaker_transitions_total",
		Help: "Circuit breaker state transitions per target.",
	}, []string{"target", "from", "to"})
	var err error
	if state, err = registerOrReuse(reg, state); err != nil {
		return nil, err
	}
	if transitions, err = registerOrReuse(reg, transitions); err != nil {
		return nil, err
	}
	return &Metrics{state: state, transitions: transitions}, nil
}

func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func (m *Metrics) setState(target string, s State) {
	if m == nil {
		return
	}
	m.state.WithLabelValues(target).Set(float64(s))
}

func (m *Metrics) transition(target string, from, to State) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(target, from.String(), to.String()).Inc()
}
