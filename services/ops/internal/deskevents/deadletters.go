package deskevents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/ops/internal/desk"
)

// DeadLetters is the durable consumer of the dead-letter stream. The
// platform's events.Consumer does not fit a stream of dead letters: it
// records processed events by their event id, which an event that is
// dead-lettered again after a replay repeats, and it would dead-letter
// its own failures into the stream it reads. This one keys each dead
// letter by its dead-letter stream sequence and retries a failed
// transaction until it commits.
type DeadLetters struct {
	js      jetstream.JetStream
	store   desk.Store
	desk    *desk.Desk
	stream  string
	opts    options
	running atomic.Bool
}

type options struct {
	logger    *slog.Logger
	fetchWait time.Duration
	retryWait time.Duration
	opTimeout time.Duration
	batch     int
}

// Option configures NewDeadLetters.
type Option func(*options)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithFetchWait sets how long one pull waits for messages (default 5s).
func WithFetchWait(d time.Duration) Option { return func(o *options) { o.fetchWait = d } }

// WithRetryWait sets the pause after a failed pull, consumer setup or
// transaction (default 1s).
func WithRetryWait(d time.Duration) Option { return func(o *options) { o.retryWait = d } }

// NewDeadLetters returns the consumer of dead-letter stream (empty:
// events.DefaultDeadLetterStream) projecting into d over store.
func NewDeadLetters(js jetstream.JetStream, store desk.Store, d *desk.Desk, stream string, opts ...Option) *DeadLetters {
	if stream == "" {
		stream = events.DefaultDeadLetterStream
	}
	o := options{logger: slog.Default(), fetchWait: 5 * time.Second, retryWait: time.Second, opTimeout: 5 * time.Second, batch: 16}
	for _, opt := range opts {
		opt(&o)
	}
	return &DeadLetters{js: js, store: store, desk: d, stream: stream, opts: o}
}

// Running reports whether the consumer is bound to the stream and pulling.
func (c *DeadLetters) Running() bool { return c.running.Load() }

// Run consumes dead letters until ctx ends, then returns nil. It creates
// the dead-letter stream when missing and the durable consumer, and keeps
// retrying while NATS or the database is unavailable.
func (c *DeadLetters) Run(ctx context.Context) error {
	log := c.opts.logger.With(slog.String("consumer", DeadLetterConsumer))
	for ctx.Err() == nil {
		cons, err := c.setup(ctx)
		if err != nil {
			log.WarnContext(ctx, "deskevents: dead-letter consumer setup failed; retrying", slog.Any("err", err))
			c.pause(ctx)
			continue
		}
		c.running.Store(true)
		err = c.consume(ctx, log, cons)
		c.running.Store(false)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "deskevents: dead-letter pull failed; retrying", slog.Any("err", err))
			c.pause(ctx)
		}
	}
	return nil
}

func (c *DeadLetters) pause(ctx context.Context) {
	t := time.NewTimer(c.opts.retryWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *DeadLetters) setup(ctx context.Context) (jetstream.Consumer, error) {
	sctx, cancel := context.WithTimeout(ctx, c.opts.opTimeout)
	defer cancel()
	if _, err := events.EnsureDeadLetterStream(sctx, c.js, c.stream); err != nil {
		return nil, err
	}
	cons, err := c.js.CreateOrUpdateConsumer(sctx, c.stream, jetstream.ConsumerConfig{
		Durable:       DeadLetterConsumer,
		Description:   "ops service: projects dead letters into the exception desk",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		FilterSubject: events.DeadLetterSubjectPrefix + ">",
		// Never give up on a dead letter: a failed transaction is retried
		// until the database takes it.
		MaxDeliver: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("deskevents: create consumer %s on %s: %w", DeadLetterConsumer, c.stream, err)
	}
	return cons, nil
}

// consume pulls and projects dead letters until ctx ends or a pull fails.
func (c *DeadLetters) consume(ctx context.Context, log *slog.Logger, cons jetstream.Consumer) error {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, c.opts.fetchWait)
		batch, err := cons.Fetch(c.opts.batch, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			return err
		}
		for msg := range batch.Messages() {
			c.handle(ctx, log, msg)
		}
		err = batch.Error()
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

func (c *DeadLetters) handle(ctx context.Context, log *slog.Logger, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		log.ErrorContext(ctx, "deskevents: dead letter without JetStream metadata", slog.Any("err", err))
		return
	}
	dl := DeadLetter(&jetstream.RawStreamMsg{
		Subject: msg.Subject(), Sequence: md.Sequence.Stream, Header: msg.Headers(), Data: msg.Data(), Time: md.Timestamp,
	})
	err = c.store.InTx(ctx, func(tx desk.Tx) error { return c.desk.ProjectDeadLetter(ctx, tx, dl) })
	if err != nil {
		if ctx.Err() == nil {
			log.WarnContext(ctx, "deskevents: projecting dead letter failed; redelivering",
				slog.Uint64("seq", dl.Seq), slog.Any("err", err))
		}
		if nerr := msg.NakWithDelay(c.opts.retryWait); nerr != nil {
			log.DebugContext(ctx, "deskevents: nak failed; the server redelivers after the ack wait", slog.Any("err", nerr))
		}
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.opTimeout)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		// Stored already; the redelivery finds the row and does nothing.
		log.WarnContext(ctx, "deskevents: dead letter ack failed; it will be redelivered and skipped", slog.Any("err", err))
	}
}

// DeadLetter reads a message of the dead-letter stream into the desk's
// row (events.ParseDeadLetter, plus the original publish time).
func DeadLetter(raw *jetstream.RawStreamMsg) desk.DeadLetter {
	p := events.ParseDeadLetter(raw)
	dl := desk.DeadLetter{
		Seq: p.Seq, Consumer: p.Consumer, Subject: p.Subject, EventID: p.EventID,
		AggregateType: p.AggregateType, AggregateID: p.AggregateID, AggregateSequence: p.Sequence,
		CorrelationID: p.CorrelationID, Stream: p.Stream, StreamSeq: p.StreamSeq, Error: p.Error,
		DeliveryCount: int32(min(p.Deliveries, 1<<31-1)), DeadLetterTime: p.DeadAt, PayloadType: p.EventType,
		Payload: p.Data,
	}
	if t, err := time.Parse(time.RFC3339Nano, p.Header.Get(outbox.HeaderOccurredAt)); err == nil {
		dl.PublishTime = t.UTC()
	}
	return dl
}

// Check returns the readiness check of the projections (the database has
// its own, from svcmain): NATS answers, the three durable consumers exist
// and the dead-letter consumer is pulling.
func Check(js jetstream.JetStream, dl *DeadLetters) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, cc := range []events.ConsumerConfig{DeskConfig(), AuditConfig(), {Name: DeadLetterConsumer, Stream: dl.stream}} {
			if _, err := js.Consumer(ctx, cc.Stream, cc.Name); err != nil {
				return fmt.Errorf("consumer %s on %s: %w", cc.Name, cc.Stream, err)
			}
		}
		if !dl.Running() {
			return errors.New("dead-letter consumer " + DeadLetterConsumer + " is not running")
		}
		return nil
	}
}
