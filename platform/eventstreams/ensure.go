package eventstreams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// JetStreamConfig is the JetStream configuration s declares: file
// storage, limits retention and the de-duplication window the outbox
// relies on.
func (s Stream) JetStreamConfig() jetstream.StreamConfig {
	window := s.DuplicateWindow
	if window <= 0 {
		window = DefaultDuplicateWindow
	}
	if s.MaxAge > 0 && window > s.MaxAge {
		window = s.MaxAge
	}
	return jetstream.StreamConfig{
		Name:        s.Name,
		Description: s.Description,
		Subjects:    s.Subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  window,
		MaxAge:      s.MaxAge,
		Replicas:    max(s.Replicas, 1),
	}
}

// Ensure creates s, or updates it to its declaration when it exists, and
// returns it. It is the producer's call: the producer owns its stream's
// configuration. Updating keeps the stored messages; it fails if the
// change is one JetStream refuses (e.g. switching storage type). A stream
// that does not validate is an error wrapping [ErrInvalidStream].
func Ensure(ctx context.Context, js jetstream.JetStream, s Stream) (jetstream.Stream, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	st, err := CreateOrUpdate(ctx, js, s.JetStreamConfig())
	if err != nil {
		return nil, fmt.Errorf("eventstreams: ensure stream %s: %w", s.Name, err)
	}
	return st, nil
}

// CreateOrUpdate creates the stream cfg declares, or updates an existing
// one only when its configuration differs (JetStream answers a create
// with the configuration a stream already has as a success, and one with
// another configuration as ErrStreamNameAlreadyInUse). Every consumer
// start and every relay start ensures its streams, so an unconditional
// update would rewrite an unchanged stream's configuration each time,
// concurrently with other processes creating consumers on it (which
// nats-server v2.15's file store does not synchronise: a data race the
// race detector reports in tests).
func CreateOrUpdate(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.UpdateStream(ctx, cfg)
	}
	return st, err
}

// EnsureExists creates s when it does not exist and leaves an existing
// stream as its producer configured it. It is a consumer's call: a
// consumer may start before the producer, but must not undo a producer's
// newer configuration.
func EnsureExists(ctx context.Context, js jetstream.JetStream, s Stream) error {
	if err := s.Validate(); err != nil {
		return err
	}
	_, err := js.CreateStream(ctx, s.JetStreamConfig())
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("eventstreams: create stream %s: %w", s.Name, err)
	}
	return nil
}

// Backoff is the pause schedule between failed attempts of
// [Ensurer.Run]: Base after the first failure, doubling up to Max, each
// pause drawn uniformly from [d/2, d] so that services restarting
// together do not retry in step.
type Backoff struct {
	// Base is the full pause after the first failure.
	Base time.Duration
	// Max caps the full pause.
	Max time.Duration
}

// DefaultBackoff starts at 250ms and caps at 10s: quick while NATS is
// starting next to the service, one attempt (and log line) every few
// seconds while it is down.
var DefaultBackoff = Backoff{Base: 250 * time.Millisecond, Max: 10 * time.Second}

// Pause returns the pause after failures consecutive failed attempts (1
// for the first): in [d/2, d] with d = Base·2^(failures-1) capped at Max.
// A zero Base falls back to DefaultBackoff; a Max below Base is Base.
func (b Backoff) Pause(failures int) time.Duration {
	if b.Base <= 0 {
		b = DefaultBackoff
	}
	b.Max = max(b.Max, b.Base)
	d := b.Base
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Ensurer makes sure a set of streams exists before a relay publishes to
// them or a consumer binds to them, retrying while NATS is unreachable.
// The outbox relay (outbox.WithStreams) and the events consumer
// (events.WithStreams) both start with one.
type Ensurer struct {
	streams []Stream
	cfg     ensureConfig
}

// The metrics are per process, labelled by stream: a relay and a consumer
// in one service report on their streams side by side.
var (
	ensureFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "transload_eventstreams_ensure_failures_total",
		Help: "Failed attempts to create or update a JetStream stream (NATS unreachable or the change refused).",
	}, []string{"stream"})
	streamReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "transload_eventstreams_stream_ready",
		Help: "1 once the process ensured the JetStream stream, 0 while it is still trying.",
	}, []string{"stream"})
)

type ensureConfig struct {
	existsOnly     bool
	backoff        Backoff
	attemptTimeout time.Duration
	logger         *slog.Logger
	registerer     prometheus.Registerer
	sleep          func(ctx context.Context, d time.Duration) error
}

// EnsureOption configures [NewEnsurer].
type EnsureOption func(*ensureConfig)

// ExistsOnly makes the ensurer create missing streams with [EnsureExists]
// instead of creating or updating them with [Ensure]: the choice of a
// consumer that ensures its producer's stream.
func ExistsOnly() EnsureOption { return func(c *ensureConfig) { c.existsOnly = true } }

// WithBackoff sets the pause schedule between failed attempts (default
// DefaultBackoff).
func WithBackoff(b Backoff) EnsureOption { return func(c *ensureConfig) { c.backoff = b } }

// WithAttemptTimeout bounds one attempt at one stream (default 5s); while
// the client is reconnecting a request waits for this long.
func WithAttemptTimeout(d time.Duration) EnsureOption {
	return func(c *ensureConfig) { c.attemptTimeout = d }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) EnsureOption { return func(c *ensureConfig) { c.logger = l } }

// WithRegisterer registers the metrics transload_eventstreams_* with reg
// (default: not registered). Several ensurers may share one registerer.
func WithRegisterer(reg prometheus.Registerer) EnsureOption {
	return func(c *ensureConfig) { c.registerer = reg }
}

// WithSleep replaces the pause between attempts (default a timer that
// ends early with ctx). sleep returns ctx's error when ctx ended. Tests
// use it to observe the schedule without waiting for it.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) EnsureOption {
	return func(c *ensureConfig) { c.sleep = sleep }
}

// NewEnsurer returns an ensurer of streams. It fails if a stream does
// not validate (the error wraps [ErrInvalidStream]) or registering the
// metrics fails.
func NewEnsurer(streams []Stream, opts ...EnsureOption) (*Ensurer, error) {
	cfg := ensureConfig{
		backoff:        DefaultBackoff,
		attemptTimeout: 5 * time.Second,
		logger:         slog.Default(),
		sleep:          sleepCtx,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.attemptTimeout <= 0 {
		cfg.attemptTimeout = 5 * time.Second
	}
	for _, s := range streams {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	if cfg.registerer != nil {
		for _, c := range []prometheus.Collector{ensureFailures, streamReady} {
			var are prometheus.AlreadyRegisteredError
			if err := cfg.registerer.Register(c); err != nil && (!errors.As(err, &are) || are.ExistingCollector != c) {
				return nil, fmt.Errorf("eventstreams: register metrics: %w", err)
			}
		}
	}
	e := &Ensurer{streams: append([]Stream(nil), streams...), cfg: cfg}
	for _, s := range e.streams {
		ensureFailures.WithLabelValues(s.Name)
		streamReady.WithLabelValues(s.Name).Set(0)
	}
	return e, nil
}

// Streams returns the streams e ensures.
func (e *Ensurer) Streams() []Stream { return append([]Stream(nil), e.streams...) }

// Run ensures every stream through js. A stream that fails is tried
// again after a pause from the backoff schedule (logged and counted in
// transload_eventstreams_ensure_failures_total) until all are ensured;
// then Run returns nil. When ctx ends first, Run returns ctx's error.
func (e *Ensurer) Run(ctx context.Context, js jetstream.JetStream) error {
	pending := e.Streams()
	failures := 0
	for {
		var failed []Stream
		var lastErr error
		for _, s := range pending {
			if err := e.attempt(ctx, js, s); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				ensureFailures.WithLabelValues(s.Name).Inc()
				failed, lastErr = append(failed, s), err
				continue
			}
			streamReady.WithLabelValues(s.Name).Set(1)
			e.cfg.logger.InfoContext(ctx, "eventstreams: stream ready", slog.String("stream", s.Name))
		}
		if len(failed) == 0 {
			return nil
		}
		pending = failed
		failures++
		pause := e.cfg.backoff.Pause(failures)
		e.cfg.logger.WarnContext(ctx, "eventstreams: stream not ready; retrying",
			slog.Any("streams", names(failed)), slog.Int("consecutive_failures", failures),
			slog.Duration("retry_in", pause), slog.Any("error", lastErr))
		if err := e.cfg.sleep(ctx, pause); err != nil {
			return err
		}
	}
}

func (e *Ensurer) attempt(ctx context.Context, js jetstream.JetStream, s Stream) error {
	actx, cancel := context.WithTimeout(ctx, e.cfg.attemptTimeout)
	defer cancel()
	if e.cfg.existsOnly {
		return EnsureExists(actx, js, s)
	}
	_, err := Ensure(actx, js, s)
	return err
}

func names(streams []Stream) []string {
	out := make([]string, len(streams))
	for i, s := range streams {
		out[i] = s.Name
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
