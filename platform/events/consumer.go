package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

// Defaults for [ConsumerConfig].
const (
	DefaultMaxDeliver = 5
	DefaultAckWait    = 30 * time.Second
)

// DefaultBackoff is the redelivery delay schedule used when
// ConsumerConfig.Backoff is empty.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute}

// ConsumerConfig describes a durable consumer.
type ConsumerConfig struct {
	// Name is the durable consumer name. It also keys the processed-event
	// rows and names the dead-letter subject, so it must stay stable; it
	// may contain letters, digits, '-' and '_'.
	Name string
	// Stream is the stream to consume, e.g. "ORDER".
	Stream string
	// FilterSubjects restricts the consumer to these subjects (wildcards
	// allowed); empty means the whole stream.
	FilterSubjects []string
	// MaxDeliver is how many times an event is delivered before it is
	// dead-lettered (default DefaultMaxDeliver).
	MaxDeliver int
	// Backoff is the delay before each redelivery: Backoff[n-1] after the
	// n-th failed delivery, the last entry repeating (default
	// DefaultBackoff).
	Backoff []time.Duration
	// AckWait is how long the server waits for an ack before it
	// redelivers (covers a crashed consumer); handlers must finish well
	// within it (default DefaultAckWait).
	AckWait time.Duration
	// DeadLetterStream is the stream dead letters go to (default
	// DefaultDeadLetterStream).
	DeadLetterStream string
}

// Consumer runs a [Handler] for the events of a durable JetStream consumer.
// Create it with [NewConsumer] and run it with [Consumer.Run].
type Consumer struct {
	db      *sqldb.DB
	js      jetstream.JetStream
	cfg     ConsumerConfig
	handler Handler
	opts    consumerOptions
	m       consumerMetrics
	// streams, when not nil, makes sure the streams exist before the
	// consumer binds.
	streams *eventstreams.Ensurer
	// held are the messages a batch consumer pulled and has not resolved,
	// in stream order (only Run's goroutine touches them).
	held []*heldMsg
	// synced (batch consumers, Run's goroutine only) is true while every
	// message the server has delivered and not seen acknowledged is held
	// or was already applied: no other process holds one, so the held
	// messages may be applied without asking the server (see ready).
	// lastDelivered is the consumer sequence of the newest delivery
	// received; a delivery whose sequence does not follow it went
	// elsewhere (another replica, a pull given up) and clears synced.
	synced        bool
	lastDelivered uint64
	// busy (batch consumers with a linger, Run's goroutine only): the
	// last pull brought messages, so the next one gathers a batch in one
	// pull request (see pull); pending is the stream's count of messages
	// left for the consumer at the last message that pull took.
	busy    bool
	pending uint64
}

type consumerOptions struct {
	logger     *slog.Logger
	registerer prometheus.Registerer
	now        func() time.Time
	fetchWait  time.Duration
	retryWait  time.Duration
	opTimeout  time.Duration
	streams    []eventstreams.Stream
	backoff    eventstreams.Backoff
	batch      int
	linger     time.Duration
	filter     Filter
	raw        bool
}

// ConsumerOption configures [NewConsumer].
type ConsumerOption func(*consumerOptions)

// WithConsumerLogger sets the logger (default slog.Default()).
func WithConsumerLogger(l *slog.Logger) ConsumerOption {
	return func(o *consumerOptions) { o.logger = l }
}

// WithConsumerRegisterer registers the consumer metrics
// (transload_events_*) with reg; several consumers may share one
// registerer.
func WithConsumerRegisterer(reg prometheus.Registerer) ConsumerOption {
	return func(o *consumerOptions) { o.registerer = reg }
}

// WithConsumerClock sets the clock for processed-event and dead-letter
// times (default time.Now).
func WithConsumerClock(now func() time.Time) ConsumerOption {
	return func(o *consumerOptions) { o.now = now }
}

// WithFetchWait sets how long one pull request waits for a message before
// the consumer pulls again (default 5s). Shorter values notice a lost
// connection sooner.
func WithFetchWait(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.fetchWait = d }
}

// WithRetryWait sets the pause after a failed pull or consumer setup
// (NATS unavailable) before trying again (default 1s).
func WithRetryWait(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.retryWait = d }
}

// WithOperationTimeout bounds acks, dead-letter publishes and each attempt
// to create a stream of [WithStreams] (default 5s).
func WithOperationTimeout(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.opTimeout = d }
}

// WithStreams makes [Consumer.Run] first create the streams that do not
// exist yet, with their declared configuration, retrying with
// eventstreams.DefaultBackoff while NATS is unreachable: a consumer may
// start before the producer of the stream it binds to. A stream that
// exists is left as its producer made it. When one of the streams is the
// one the consumer binds to, [NewConsumer] also checks that the stream
// captures every filter subject.
func WithStreams(streams ...eventstreams.Stream) ConsumerOption {
	return func(o *consumerOptions) { o.streams = append(o.streams, streams...) }
}

// WithRawPayload makes the consumer hand its handler (and filter) events
// whose Payload is nil: it checks the headers as [Decode] does but leaves
// decoding Event.Data to the handler, which checks Event.Type itself and
// returns a [Permanent] error for a payload it cannot decode (dead-lettered
// at once, as an undecodable payload is without the option). For a
// handler that needs only part of a large payload: decoding the whole
// message was half the ops audit consumer's CPU per event.
func WithRawPayload() ConsumerOption {
	return func(o *consumerOptions) { o.raw = true }
}

// WithStreamBackoff sets the pause schedule between attempts to create
// the streams of [WithStreams] (default eventstreams.DefaultBackoff).
func WithStreamBackoff(b eventstreams.Backoff) ConsumerOption {
	return func(o *consumerOptions) { o.backoff = b }
}

type consumerMetrics struct {
	outcomes *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// Outcome labels of transload_events_processed_total.
const (
	outcomeApplied      = "applied"
	outcomeDuplicate    = "duplicate"
	outcomeRetried      = "retried"
	outcomeDeadLettered = "dead_lettered"
	outcomeFiltered     = "filtered"
)

func newConsumerMetrics(reg prometheus.Registerer) (consumerMetrics, error) {
	m := consumerMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "transload_events_processed_total",
			Help: "Events handled by a consumer, by outcome (applied, duplicate, retried, dead_lettered, filtered).",
		}, []string{"consumer", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "transload_events_handle_duration_seconds",
			Help:    "Time to handle one event delivery, transaction included.",
			Buckets: prometheus.DefBuckets,
		}, []string{"consumer"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.outcomes, err = register(reg, m.outcomes)
	if err != nil {
		return m, err
	}
	m.duration, err = register(reg, m.duration)
	return m, err
}

// register registers c, or returns the collector already registered under
// the same description so several consumers share the vectors.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("events: register metrics: %w", err)
	}
	return c, nil
}

// NewConsumer returns a consumer that applies handler to the events of
// cfg.Stream in db. It validates cfg; the JetStream consumer and the
// dead-letter stream are created by [Consumer.Run].
func NewConsumer(db *sqldb.DB, js jetstream.JetStream, cfg ConsumerConfig, handler Handler, opts ...ConsumerOption) (*Consumer, error) {
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, ".*> \t\r\n") {
		return nil, fmt.Errorf("events: consumer name %q must be non-empty without '.', '*', '>' or whitespace", cfg.Name)
	}
	if cfg.Stream == "" {
		return nil, errors.New("events: consumer needs a stream")
	}
	if handler == nil {
		return nil, errors.New("events: consumer needs a handler")
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = DefaultMaxDeliver
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.DeadLetterStream == "" {
		cfg.DeadLetterStream = DefaultDeadLetterStream
	}
	o := consumerOptions{
		logger:    slog.Default(),
		now:       time.Now,
		fetchWait: 5 * time.Second,
		retryWait: time.Second,
		opTimeout: 5 * time.Second,
		backoff:   eventstreams.DefaultBackoff,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkFilters(cfg, o.streams); err != nil {
		return nil, err
	}
	m, err := newConsumerMetrics(o.registerer)
	if err != nil {
		return nil, err
	}
	c := &Consumer{db: db, js: js, cfg: cfg, handler: handler, opts: o, m: m}
	if len(o.streams) > 0 {
		c.streams, err = eventstreams.NewEnsurer(o.streams, eventstreams.ExistsOnly(),
			eventstreams.WithBackoff(o.backoff), eventstreams.WithAttemptTimeout(o.opTimeout),
			eventstreams.WithLogger(o.logger), eventstreams.WithRegisterer(o.registerer))
		if err != nil {
			return nil, fmt.Errorf("events: consumer %s streams: %w", cfg.Name, err)
		}
	}
	return c, nil
}

// checkFilters reports a filter subject that the declared stream the
// consumer binds to does not capture: JetStream would refuse the
// consumer, and a subject renamed on one side only must fail at start.
func checkFilters(cfg ConsumerConfig, streams []eventstreams.Stream) error {
	for _, s := range streams {
		if s.Name != cfg.Stream {
			continue
		}
		for _, f := range cfg.FilterSubjects {
			if !s.Captures(f) {
				return fmt.Errorf("events: consumer %s filters on %q, which stream %s does not capture", cfg.Name, f, s.Name)
			}
		}
	}
	return nil
}

// Run consumes events until ctx is cancelled, then returns nil. With
// [WithStreams] it first makes sure the streams exist. It creates (or
// updates) the durable consumer and the dead-letter stream, and keeps
// retrying while NATS is unavailable; a handler error never stops it.
func (c *Consumer) Run(ctx context.Context) error {
	if c.streams != nil {
		if err := c.streams.Run(ctx, c.js); err != nil {
			// Only ctx ends the wait: shutting down before NATS came up.
			return nil
		}
	}
	log := c.opts.logger.With(slog.String("consumer", c.cfg.Name))
	for ctx.Err() == nil {
		cons, err := c.setup(ctx)
		if err != nil {
			log.WarnContext(ctx, "events: consumer setup failed; retrying", slog.Any("err", err))
			c.pause(ctx)
			continue
		}
		if err := c.consume(ctx, cons); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "events: pull failed; retrying", slog.Any("err", err))
			c.pause(ctx)
		}
	}
	return nil
}

func (c *Consumer) pause(ctx context.Context) {
	t := time.NewTimer(c.opts.retryWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *Consumer) setup(ctx context.Context) (jetstream.Consumer, error) {
	sctx, cancel := context.WithTimeout(ctx, c.opts.opTimeout)
	defer cancel()
	if _, err := EnsureDeadLetterStream(sctx, c.js, c.cfg.DeadLetterStream); err != nil {
		return nil, err
	}
	cc := jetstream.ConsumerConfig{
		Durable:       c.cfg.Name,
		Description:   "transload events consumer " + c.cfg.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		// The consumer decides when to give up (and dead-letters then), so
		// the server never drops a message on its own.
		MaxDeliver: -1,
		// One message in flight: strict stream order, see the package doc.
		// A batch consumer ([WithBatch]) lets up to n be in flight and
		// keeps the order itself, see batch.go.
		MaxAckPending: max(c.opts.batch, 1),
	}
	switch len(c.cfg.FilterSubjects) {
	case 0:
	case 1:
		cc.FilterSubject = c.cfg.FilterSubjects[0]
	default:
		cc.FilterSubjects = c.cfg.FilterSubjects
	}
	cons, err := c.js.CreateOrUpdateConsumer(sctx, c.cfg.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("events: create consumer %s on %s: %w", c.cfg.Name, c.cfg.Stream, err)
	}
	return cons, nil
}

// consume pulls and handles messages until ctx ends or a pull fails.
func (c *Consumer) consume(ctx context.Context, cons jetstream.Consumer) error {
	if c.opts.batch > 1 {
		return c.consumeBatches(ctx, cons)
	}
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, c.opts.fetchWait)
		// Batch 1: with MaxAckPending 1 the server hands out one message
		// at a time anyway, and a finished pull never holds a message the
		// client has not seen.
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			return err
		}
		for msg := range batch.Messages() {
			c.handle(ctx, msg)
		}
		err = batch.Error()
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// errDuplicate aborts the transaction of an already-processed event.
var errDuplicate = errors.New("events: event already processed")

// delivery is a received message with its decoded event and the context,
// span and logger its handler runs with.
type delivery struct {
	msg       jetstream.Msg
	md        *jetstream.MsgMetadata
	ev        Event
	decodeErr error
	ctx       context.Context
	span      trace.Span
	log       *slog.Logger
}

// prepare decodes msg and starts its span; ok is false for a message
// without JetStream metadata (logged; nothing to ack).
func (c *Consumer) prepare(ctx context.Context, msg jetstream.Msg) (d delivery, ok bool) {
	log := c.opts.logger.With(slog.String("consumer", c.cfg.Name), slog.String("subject", msg.Subject()))

	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream message; nothing to ack.
		log.ErrorContext(ctx, "events: message without JetStream metadata", slog.Any("err", err))
		return d, false
	}
	decode := Decode
	if c.opts.raw {
		decode = decodeHeaders
	}
	ev, decodeErr := decode(msg.Subject(), msg.Headers(), msg.Data())
	ev.Delivery = md.NumDelivered
	ev.StreamSequence = md.Sequence.Stream

	hctx := ctx
	if ev.CorrelationID != "" {
		hctx = correlation.WithID(hctx, ev.CorrelationID)
	}
	carrier := propagation.MapCarrier{}
	for _, k := range []string{outbox.HeaderTraceparent, outbox.HeaderTracestate} {
		if v := msg.Headers().Get(k); v != "" {
			carrier[k] = v
		}
	}
	hctx = propagation.TraceContext{}.Extract(hctx, carrier)
	hctx, span := otel.Tracer("github.com/transload/transload/platform/events").Start(hctx,
		"process "+msg.Subject(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", c.cfg.Name),
			attribute.String("messaging.message.id", ev.ID),
			attribute.Int64("messaging.delivery.count", int64(md.NumDelivered)),
		))
	log = log.With(slog.String("event_id", ev.ID), slog.String("correlation_id", ev.CorrelationID),
		slog.Uint64("delivery", md.NumDelivered))
	return delivery{msg: msg, md: md, ev: ev, decodeErr: decodeErr, ctx: hctx, span: span, log: log}, true
}

func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	start := time.Now()
	defer func() {
		c.m.duration.WithLabelValues(c.cfg.Name).Observe(time.Since(start).Seconds())
	}()
	d, ok := c.prepare(ctx, msg)
	if !ok {
		return
	}
	defer d.span.End()
	hctx, log, md, ev, decodeErr, span := d.ctx, d.log, d.md, d.ev, d.decodeErr, d.span

	if decodeErr != nil {
		span.SetStatus(codes.Error, decodeErr.Error())
		c.deadLetter(hctx, log, msg, md, decodeErr)
		return
	}

	stopProgress := c.inProgress(msg)
	keep, err := c.keep(hctx, ev)
	var hooks *afterCommit
	if err == nil && keep {
		hooks, err = c.apply(hctx, ev)
	}
	stopProgress()
	switch {
	case err == nil || errors.Is(err, errDuplicate):
		outcome := outcomeApplied
		switch {
		case err != nil:
			outcome = outcomeDuplicate
			log.DebugContext(hctx, "events: skipping already processed event")
		case !keep:
			outcome = outcomeFiltered
		}
		hooks.run(hctx, log)
		actx, cancel := context.WithTimeout(context.WithoutCancel(hctx), c.opts.opTimeout)
		defer cancel()
		if aerr := msg.DoubleAck(actx); aerr != nil {
			// The effects are committed; the redelivery will be skipped.
			log.WarnContext(hctx, "events: ack failed; the event will be redelivered and skipped", slog.Any("err", aerr))
		}
		c.m.outcomes.WithLabelValues(c.cfg.Name, outcome).Inc()
	case ctx.Err() != nil:
		// Shutting down: the failure is ours, not the event's, so it does
		// not count towards dead-lettering. Release it for a prompt
		// redelivery.
		if nerr := msg.Nak(); nerr != nil {
			log.DebugContext(hctx, "events: nak on shutdown failed; the server redelivers after the ack wait", slog.Any("err", nerr))
		}
	case IsPermanent(err) || md.NumDelivered >= uint64(c.cfg.MaxDeliver):
		span.SetStatus(codes.Error, err.Error())
		c.deadLetter(hctx, log, msg, md, err)
	default:
		span.SetStatus(codes.Error, err.Error())
		delay := c.backoff(md.NumDelivered)
		log.WarnContext(hctx, "events: handler failed; redelivering", slog.Any("err", err), slog.Duration("delay", delay))
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			log.WarnContext(hctx, "events: nak failed; the server redelivers after the ack wait", slog.Any("err", nerr))
		}
		c.m.outcomes.WithLabelValues(c.cfg.Name, outcomeRetried).Inc()
	}
}

// backoff returns the delay after the delivered-th failed delivery.
func (c *Consumer) backoff(delivered uint64) time.Duration {
	i := int(min(delivered, uint64(len(c.cfg.Backoff)))) - 1
	return c.cfg.Backoff[max(i, 0)]
}

// apply runs the handler and records the event as processed in one
// transaction, and returns the [AfterCommit] hooks the handler registered
// (nil unless it committed). A handler panic is turned into an error so one
// bad event cannot crash the service.
func (c *Consumer) apply(ctx context.Context, ev Event) (hooks *afterCommit, err error) {
	defer func() {
		if r := recover(); r != nil {
			hooks, err = nil, fmt.Errorf("events: handler panicked: %v", r)
		}
	}()
	err = c.db.InTx(ctx, func(tx *sql.Tx) error {
		// InTx may run this again: only the last run's hooks count.
		var herr error
		hooks, herr = c.applyIn(ctx, tx, ev)
		return herr
	})
	if err != nil {
		return nil, err
	}
	return hooks, nil
}

// applyIn records ev as processed and runs the handler in tx. It returns
// errDuplicate (and runs nothing) for an event already recorded.
func (c *Consumer) applyIn(ctx context.Context, tx *sql.Tx, ev Event) (*afterCommit, error) {
	res, err := tx.ExecContext(ctx, c.db.Rebind(`
		INSERT INTO events_processed (consumer, event_id, subject, event_type, aggregate_type,
			aggregate_id, aggregate_seq, processed_unix_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (consumer, event_id) DO NOTHING`),
		c.cfg.Name, ev.ID, ev.Subject, ev.Type, ev.AggregateType, ev.AggregateID, ev.Sequence,
		c.opts.now().UTC().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("events: record processed event: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("events: record processed event: %w", err)
	}
	if n == 0 {
		return nil, errDuplicate
	}
	hooks := &afterCommit{}
	if err := c.handler(withAfterCommit(ctx, hooks), tx, ev); err != nil {
		return nil, err
	}
	return hooks, nil
}

// deadLetter moves msg to the dead-letter stream and terminates it. If the
// dead letter cannot be stored the message is redelivered later instead,
// so it is never lost.
func (c *Consumer) deadLetter(ctx context.Context, log *slog.Logger, msg jetstream.Msg, md *jetstream.MsgMetadata, cause error) {
	if err := c.storeDeadLetter(ctx, log, msg, md, cause, md.NumDelivered); err != nil {
		if nerr := msg.NakWithDelay(c.backoff(md.NumDelivered)); nerr != nil {
			log.WarnContext(ctx, "events: nak failed", slog.Any("err", nerr))
		}
	}
}

// storeDeadLetter publishes msg to the dead-letter stream and terminates
// it. It returns an error, and leaves msg pending, when the dead letter
// could not be stored.
func (c *Consumer) storeDeadLetter(ctx context.Context, log *slog.Logger, msg jetstream.Msg, md *jetstream.MsgMetadata, cause error, deliveries uint64) error {
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.opTimeout)
	defer cancel()
	dl := newDeadLetterMsg(c.cfg.Name, md.Stream, md.Sequence.Stream, msg.Subject(), msg.Headers(), msg.Data(),
		cause, deliveries, c.opts.now())
	if _, err := c.js.PublishMsg(octx, dl); err != nil {
		log.ErrorContext(ctx, "events: storing dead letter failed; redelivering", slog.Any("err", err), slog.Any("cause", cause))
		return err
	}
	log.ErrorContext(ctx, "events: event dead-lettered", slog.Any("err", cause))
	if err := msg.TermWithReason("dead-lettered"); err != nil {
		log.WarnContext(ctx, "events: term failed; the event may be dead-lettered again (de-duplicated)", slog.Any("err", err))
	}
	c.m.outcomes.WithLabelValues(c.cfg.Name, outcomeDeadLettered).Inc()
	return nil
}

// PruneProcessed deletes processed-event rows older than before, across
// all consumers of db, and returns how many it deleted. Keep rows for
// longer than any redelivery, replay or JetStream duplicate window can
// reach back: a pruned event that arrives again is applied again.
func PruneProcessed(ctx context.Context, db *sqldb.DB, before time.Time) (int64, error) {
	var n int64
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.Rebind(`DELETE FROM events_processed WHERE processed_unix_us < ?`),
			before.UTC().UnixMicro())
		if err != nil {
			return fmt.Errorf("events: prune processed events: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
