package outbox

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/sqldb"
)

// Relay publishes committed outbox rows to JetStream and marks them
// published. Create it with [NewRelay] and start it with [Relay.Run].
//
// It publishes with JetStream async publishes (see [WithConcurrency]).
// When a wave's acknowledgements time out it calls CleanupPublisher on
// its JetStream context, failing any other async publish pending there:
// give the relay a context of its own if something else publishes
// asynchronously through it.
type Relay struct {
	db     *sqldb.DB
	js     jetstream.JetStream
	cfg    relayConfig
	wake   chan struct{}
	m      relayMetrics
	logger *slog.Logger
	// streams, when not nil, ensures the streams before the first round.
	streams *eventstreams.Ensurer
	// reconciler, when not nil, runs next to the relay (WithReconcile).
	reconciler *Reconciler

	// roundMu serialises rounds; pending is owned by the round holding it.
	roundMu sync.Mutex
	// pending holds rows JetStream acknowledged that are not marked yet
	// (marks are batched, see WithMarkInterval), each with the stream
	// sequence JetStream stored it under, with the time the oldest was
	// added.
	pending      map[int64]uint64
	pendingSince time.Time
	lastPurge    time.Time
	lastLag      time.Time
	// cursor is the highest id read since the marks were last written;
	// on SQLite every unpublished row at or below it is in pending (see
	// unpublished).
	cursor     int64
	selectStmt *sql.Stmt

	// afterPublish runs after JetStream acknowledged a row and before the
	// row is marked; an error abandons the round without marking, as a
	// crash at that point would. Set only by tests.
	afterPublish func(ctx context.Context, r Row) error
}

type relayConfig struct {
	pollInterval   time.Duration
	batchSize      int
	publishTimeout time.Duration
	concurrency    int
	purgeAfter     time.Duration
	markInterval   time.Duration
	registerer     prometheus.Registerer
	logger         *slog.Logger
	now            func() time.Time
	streams        []eventstreams.Stream
	streamBackoff  eventstreams.Backoff
	reconcile      *ReconcileConfig
	// err is an option's error, returned by NewRelay.
	err error
}

// defaultMarkInterval is the default of [WithMarkInterval].
const defaultMarkInterval = 500 * time.Millisecond

// RelayOption configures [NewRelay].
type RelayOption func(*relayConfig)

// WithPollInterval sets how often the relay looks for unpublished rows when
// nobody calls [Relay.Notify] (default 500ms).
func WithPollInterval(d time.Duration) RelayOption {
	return func(c *relayConfig) { c.pollInterval = d }
}

// WithBatchSize sets how many unpublished rows one round reads (default
// 256). A full batch starts the next round at once.
func WithBatchSize(n int) RelayOption { return func(c *relayConfig) { c.batchSize = n } }

// WithPublishTimeout bounds the wait for the acknowledgements of each
// wave of publishes (see [WithConcurrency]), and each attempt to ensure a
// stream of [WithStreams] (default 5s). Rows not acknowledged in time stay
// unpublished and are sent again in a later round with the same
// Nats-Msg-Id.
func WithPublishTimeout(d time.Duration) RelayOption {
	return func(c *relayConfig) { c.publishTimeout = d }
}

// WithConcurrency sets how many rows one wave of a round publishes before
// waiting for their acknowledgements (default 256). A wave holds at most
// one row per aggregate: an aggregate's next row is published only after
// JetStream acknowledged the previous one, so the stream keeps every
// aggregate in sequence order; a round with rows of many aggregates costs
// a round trip per wave instead of one per row.
func WithConcurrency(n int) RelayOption { return func(c *relayConfig) { c.concurrency = n } }

// WithMarkInterval sets how long [Relay.Run] may hold acknowledged rows
// before marking them published in one transaction (default 500ms, or
// sooner once a batch's worth is held; 0 marks after every round).
// Batching the marks keeps the relay from taking the database write lock
// and paying a commit (an fsync) once per event or per few events: at
// 50ms the marks were 9% of inventory's CPU in the sustained bench. A
// crash before the mark only means the rows are republished and dropped
// by JetStream as duplicates (the streams' duplicate window is minutes).
func WithMarkInterval(d time.Duration) RelayOption {
	return func(c *relayConfig) { c.markInterval = d }
}

// WithPurgeAfter deletes rows published more than d ago, checked at most
// once a minute; 0 (the default) keeps them.
func WithPurgeAfter(d time.Duration) RelayOption {
	return func(c *relayConfig) { c.purgeAfter = d }
}

// WithRegisterer registers the relay's metrics with reg (default: not
// registered). Metric names are transload_outbox_*.
func WithRegisterer(reg prometheus.Registerer) RelayOption {
	return func(c *relayConfig) { c.registerer = reg }
}

// WithLogger sets the relay's logger (default slog.Default()).
func WithLogger(l *slog.Logger) RelayOption { return func(c *relayConfig) { c.logger = l } }

// WithClock sets the clock used for publish times and lag (default
// time.Now).
func WithClock(now func() time.Time) RelayOption { return func(c *relayConfig) { c.now = now } }

// WithStreams makes [Relay.Run] first ensure streams (create them, or
// update them to their declaration), retrying with
// eventstreams.DefaultBackoff while NATS is unreachable, and relay only
// once they all exist: a publish to a subject no stream captures would
// fail anyway. Each attempt is bounded by the publish timeout, logged
// with the relay's logger and counted in the transload_eventstreams_*
// metrics with its registerer.
func WithStreams(streams ...eventstreams.Stream) RelayOption {
	return func(c *relayConfig) { c.streams = append(c.streams, streams...) }
}

// WithStreamBackoff sets the pause schedule between attempts to ensure
// the streams of [WithStreams] (default eventstreams.DefaultBackoff).
func WithStreamBackoff(b eventstreams.Backoff) RelayOption {
	return func(c *relayConfig) { c.streamBackoff = b }
}

type relayMetrics struct {
	unpublished prometheus.Gauge
	oldestAge   prometheus.Gauge
	published   prometheus.Counter
	duplicates  prometheus.Counter
	failures    prometheus.Counter
}

func newRelayMetrics() relayMetrics {
	return relayMetrics{
		unpublished: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "transload_outbox_unpublished_events",
			Help: "Outbox rows not yet published to JetStream, as of the relay's last round.",
		}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "transload_outbox_oldest_unpublished_age_seconds",
			Help: "Age of the oldest unpublished outbox row (outbox lag); 0 when none.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "transload_outbox_published_total",
			Help: "Outbox rows published to JetStream and marked published.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "transload_outbox_duplicate_publishes_total",
			Help: "Publishes JetStream acknowledged as duplicates (a row republished after a crash or by a second relay).",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "transload_outbox_publish_failures_total",
			Help: "Failed publishes; the row and its aggregate's later rows wait for the next round.",
		}),
	}
}

func (m relayMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.unpublished, m.oldestAge, m.published, m.duplicates, m.failures}
}

// NewRelay returns a relay that reads db's outbox and publishes through js.
// It fails if registering metrics fails or a stream of [WithStreams] does
// not validate.
func NewRelay(db *sqldb.DB, js jetstream.JetStream, opts ...RelayOption) (*Relay, error) {
	cfg := relayConfig{
		pollInterval:   500 * time.Millisecond,
		batchSize:      256,
		publishTimeout: 5 * time.Second,
		concurrency:    256,
		markInterval:   defaultMarkInterval,
		logger:         slog.Default(),
		now:            time.Now,
		streamBackoff:  eventstreams.DefaultBackoff,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	cfg.batchSize = max(cfg.batchSize, 1)
	cfg.concurrency = max(cfg.concurrency, 1)
	if cfg.pollInterval <= 0 {
		cfg.pollInterval = 500 * time.Millisecond
	}
	r := &Relay{
		db:      db,
		js:      js,
		cfg:     cfg,
		wake:    make(chan struct{}, 1),
		m:       newRelayMetrics(),
		logger:  cfg.logger,
		pending: map[int64]uint64{},
	}
	if cfg.registerer != nil {
		for _, c := range r.m.collectors() {
			if err := cfg.registerer.Register(c); err != nil {
				return nil, fmt.Errorf("outbox: register relay metrics: %w", err)
			}
		}
	}
	if cfg.reconcile != nil && cfg.reconcile.Interval >= 0 {
		var err error
		r.reconciler, err = NewReconciler(db, js, *cfg.reconcile, cfg.registerer, cfg.logger, cfg.now)
		if err != nil {
			return nil, err
		}
	}
	if len(cfg.streams) > 0 {
		var err error
		r.streams, err = eventstreams.NewEnsurer(cfg.streams, eventstreams.WithBackoff(cfg.streamBackoff),
			eventstreams.WithAttemptTimeout(cfg.publishTimeout), eventstreams.WithLogger(cfg.logger),
			eventstreams.WithRegisterer(cfg.registerer))
		if err != nil {
			return nil, fmt.Errorf("outbox: relay streams: %w", err)
		}
	}
	return r, nil
}

// Notify wakes the relay for an early round; call it after committing a
// transaction that wrote events to cut latency below the poll interval.
// It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes rows until ctx is cancelled, then marks what it published
// and returns nil. With [WithStreams] it first ensures the streams,
// retrying until NATS answers. With [WithReconcile] it runs the
// reconciler alongside and waits for it before returning. Errors of a round (database or NATS
// unavailable) are logged and retried on the next round. Run and
// [Relay.RunOnce] must not run at the same time on one relay.
func (r *Relay) Run(ctx context.Context) error {
	if r.streams != nil {
		if err := r.streams.Run(ctx, r.js); err != nil {
			// Only ctx ends the wait: shutting down before NATS came up.
			return nil
		}
	}
	if r.reconciler != nil {
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = r.reconciler.Run(rctx)
		}()
		defer func() { stop(); <-done }()
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.publishTimeout)
		defer cancel()
		if err := r.flush(fctx); err != nil {
			r.logger.WarnContext(ctx, "outbox relay: final mark failed; rows will be republished", slog.Any("err", err))
		}
	}()
	timer := time.NewTimer(r.cfg.pollInterval)
	defer timer.Stop()
	for {
		for {
			n, err := r.round(ctx, false)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				r.logger.WarnContext(ctx, "outbox relay round failed", slog.Any("err", err))
				break
			}
			if n < r.cfg.batchSize {
				break
			}
		}
		wait := r.cfg.pollInterval
		if r.pendingCount() > 0 {
			// Come back in time to mark the published rows.
			wait = min(wait, r.cfg.markInterval)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-r.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

func (r *Relay) pendingCount() int {
	r.roundMu.Lock()
	defer r.roundMu.Unlock()
	return len(r.pending)
}

// Row is an outbox row as the relay reads it.
type Row struct {
	pk            int64
	EventID       string
	AggregateType string
	AggregateID   string
	Sequence      int64
	Subject       string
	PayloadType   string
	Payload       []byte
	CorrelationID string
	Traceparent   string
	Tracestate    string
	CreatedAt     time.Time
}

// Message builds the JetStream message for the row.
func (row Row) Message() *nats.Msg {
	m := nats.NewMsg(row.Subject)
	m.Data = row.Payload
	m.Header.Set(HeaderMsgID, row.EventID)
	m.Header.Set(HeaderEventID, row.EventID)
	m.Header.Set(HeaderEventType, row.PayloadType)
	m.Header.Set(HeaderAggregateType, row.AggregateType)
	m.Header.Set(HeaderAggregateID, row.AggregateID)
	m.Header.Set(HeaderSequence, strconv.FormatInt(row.Sequence, 10))
	m.Header.Set(HeaderOccurredAt, row.CreatedAt.UTC().Format(time.RFC3339Nano))
	if row.CorrelationID != "" {
		m.Header.Set(HeaderCorrelationID, row.CorrelationID)
	}
	if row.Traceparent != "" {
		m.Header.Set(HeaderTraceparent, row.Traceparent)
	}
	if row.Tracestate != "" {
		m.Header.Set(HeaderTracestate, row.Tracestate)
	}
	return m
}

// RunOnce runs one complete relay round: it reads up to the batch size
// of unpublished rows, publishes them per aggregate in sequence order,
// marks the acknowledged ones published (together with any left by
// [Relay.Run]) and refreshes the lag metrics. It returns how many rows it
// read; the error reports the first failure (rows that were acknowledged
// are still marked).
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	return r.round(ctx, true)
}

// round runs one relay round under roundMu: mark held rows that are due,
// read a batch, publish it, hold or mark what JetStream acknowledged, and
// do the periodic upkeep. markAll marks every acknowledged row before it
// returns (RunOnce); otherwise marks may wait for the mark interval.
func (r *Relay) round(ctx context.Context, markAll bool) (int, error) {
	r.roundMu.Lock()
	defer r.roundMu.Unlock()

	if err := r.flushIfDue(ctx); err != nil {
		return 0, err
	}
	rows, err := r.unpublished(ctx)
	if err != nil {
		return 0, err
	}
	res := r.publishRows(ctx, rows)
	if res.aborted {
		// As if the relay died here: nothing of this round is marked.
		return len(rows), res.firstErr
	}
	allDone := r.hold(rows, res.done)
	// Finish with a context that outlives a cancelled ctx: the rows were
	// acknowledged, and marking them now saves a republish after restart.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.publishTimeout)
	defer cancel()
	// A round with a failure leaves unpublished rows below the cursor:
	// mark now so the next round scans from the start.
	if markAll || !allDone || r.cfg.markInterval <= 0 || ctx.Err() != nil {
		if err := r.flushLocked(fctx); err != nil {
			return len(rows), err
		}
	}
	if err := r.purgeIfDue(fctx); err != nil {
		res.fail(err)
	}
	if err := r.refreshLag(fctx, markAll); err != nil {
		res.fail(err)
	}
	if ctx.Err() != nil {
		res.fail(ctx.Err())
	}
	return len(rows), res.firstErr
}

// flushIfDue marks the rows held back for a batched mark when they are
// due or crowd the batch: they are still unpublished in the database.
func (r *Relay) flushIfDue(ctx context.Context) error {
	if len(r.pending) > 0 && (len(r.pending) >= r.cfg.batchSize ||
		r.cfg.now().Sub(r.pendingSince) >= r.cfg.markInterval) {
		return r.flushLocked(ctx)
	}
	return nil
}

// publishResult collects the outcome of publishing one batch from the
// round's workers.
type publishResult struct {
	mu sync.Mutex
	// done holds the rows JetStream acknowledged.
	done     []ackedRow
	firstErr error
	// aborted is set when the after-publish hook failed (tests only).
	aborted bool
}

func (p *publishResult) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstErr == nil {
		p.firstErr = err
	}
}

// ackedRow is a row JetStream acknowledged, with the stream sequence it
// is stored under.
type ackedRow struct {
	pk        int64
	streamSeq uint64
}

func (p *publishResult) ack(pk int64, streamSeq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = append(p.done, ackedRow{pk, streamSeq})
}

func (p *publishResult) abort(err error) {
	p.mu.Lock()
	p.aborted = true
	p.mu.Unlock()
	p.fail(err)
}

// publishRows publishes rows in waves of JetStream async publishes: a
// wave sends the next row of every aggregate whose previous row was
// acknowledged (up to the configured concurrency at once) and then waits
// for all their acknowledgements, so a round costs one round trip per
// wave, not one per row. A row is sent only after its aggregate's
// previous row was acknowledged, which keeps each aggregate in sequence
// order in the stream even when a publish fails or NATS restarts (a
// pipelined later row could be stored while the earlier one is lost); an
// aggregate stops at its first failure and its later rows wait for the
// next round.
func (r *Relay) publishRows(ctx context.Context, rows []Row) *publishResult {
	res := &publishResult{}
	queues := groupByAggregate(rows)
	for len(queues) > 0 && ctx.Err() == nil && !res.aborted {
		heads := make([]Row, 0, min(len(queues), r.cfg.concurrency))
		next := queues[:0:0]
		for start := 0; start < len(queues) && ctx.Err() == nil && !res.aborted; start += r.cfg.concurrency {
			part := queues[start:min(start+r.cfg.concurrency, len(queues))]
			heads = heads[:0]
			for _, q := range part {
				heads = append(heads, q[0])
			}
			acked := r.publishWave(ctx, heads, res)
			for i, q := range part {
				if acked[i] && len(q) > 1 {
					next = append(next, q[1:])
				}
			}
		}
		queues = next
	}
	return res
}

// inflight is a row published asynchronously, waiting for its
// acknowledgement.
type inflight struct {
	row  Row
	ack  jetstream.PubAckFuture
	span trace.Span
	// seq is the stream sequence of the acknowledgement.
	seq uint64
}

// publishWave publishes rows (at most one per aggregate) asynchronously,
// waits for their acknowledgements, at most the publish timeout in all,
// and reports which rows JetStream acknowledged (and the after-publish
// hook accepted).
func (r *Relay) publishWave(ctx context.Context, rows []Row, res *publishResult) []bool {
	acked := make([]bool, len(rows))
	sent := make([]inflight, len(rows))
	failed := func(i int, err error) {
		row := sent[i].row
		if sent[i].span != nil {
			sent[i].span.SetStatus(codes.Error, err.Error())
			sent[i].span.End()
		}
		if ctx.Err() == nil {
			r.m.failures.Inc()
		}
		res.fail(fmt.Errorf("outbox: publish event %s (%s %s #%d): %w",
			row.EventID, row.AggregateType, row.AggregateID, row.Sequence, err))
	}
	for i, row := range rows {
		msg, span := r.message(ctx, row)
		sent[i] = inflight{row: row, span: span}
		f, err := r.js.PublishMsgAsync(msg)
		if err != nil {
			failed(i, err)
			continue
		}
		sent[i].ack = f
	}
	timer := time.NewTimer(r.cfg.publishTimeout)
	defer timer.Stop()
	expired := false
	for i := range sent {
		f := sent[i].ack
		if f == nil {
			continue
		}
		var (
			ack *jetstream.PubAck
			err error
		)
		if expired || ctx.Err() != nil {
			// Past the deadline (or once ctx is done) only the answers
			// that already arrived count; the other rows stay unpublished
			// and are sent again (with the same Nats-Msg-Id) in a later
			// round.
			select {
			case ack = <-f.Ok():
			case err = <-f.Err():
			default:
				err = cmp.Or(ctx.Err(), error(jetstream.ErrAsyncPublishTimeout))
			}
		} else {
			select {
			case ack = <-f.Ok():
			case err = <-f.Err():
			case <-timer.C:
				expired = true
				err = jetstream.ErrAsyncPublishTimeout
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err == nil && ack == nil {
			err = jetstream.ErrInvalidJSAck
		}
		if err != nil {
			failed(i, err)
			continue
		}
		sent[i].span.End()
		if ack.Duplicate {
			r.m.duplicates.Inc()
		}
		acked[i] = true
		sent[i].seq = ack.Sequence
	}
	if expired {
		// An acknowledgement that never comes would keep its publish
		// pending in the JetStream context for good; drop them.
		r.js.CleanupPublisher()
	}
	for i, ok := range acked {
		if !ok {
			continue
		}
		if r.afterPublish != nil {
			if err := r.afterPublish(ctx, sent[i].row); err != nil {
				res.abort(err)
				return make([]bool, len(rows))
			}
		}
		res.ack(sent[i].row.pk, sent[i].seq)
	}
	return acked
}

// hold adds the acknowledged rows to those waiting for a batched mark and
// reports whether every row of the batch was acknowledged; then the scan
// cursor moves past the batch.
func (r *Relay) hold(rows []Row, done []ackedRow) (allDone bool) {
	if len(done) > 0 && len(r.pending) == 0 {
		r.pendingSince = r.cfg.now()
	}
	for _, a := range done {
		r.pending[a.pk] = a.streamSeq
	}
	allDone = len(done) == len(rows)
	if allDone && len(rows) > 0 {
		r.cursor = max(r.cursor, rows[len(rows)-1].pk)
	}
	return allDone
}

// purgeIfDue deletes old published rows, at most once a minute.
func (r *Relay) purgeIfDue(ctx context.Context) error {
	if r.cfg.purgeAfter <= 0 || r.cfg.now().Sub(r.lastPurge) < min(time.Minute, r.cfg.purgeAfter) {
		return nil
	}
	r.lastPurge = r.cfg.now()
	_, err := Purge(ctx, r.db, r.cfg.now().Add(-r.cfg.purgeAfter))
	return err
}

// refreshLag updates the lag gauges. They are scraped every few seconds;
// refreshing them on every round would add a query per event under load,
// so it happens at most once per poll interval (capped at a second)
// unless force.
func (r *Relay) refreshLag(ctx context.Context, force bool) error {
	if !force && r.cfg.now().Sub(r.lastLag) < min(r.cfg.pollInterval, time.Second) {
		return nil
	}
	r.lastLag = r.cfg.now()
	lag, err := readLag(ctx, r.db, r.cfg.now(), r.pending)
	if err != nil {
		return err
	}
	r.m.unpublished.Set(float64(lag.Unpublished))
	r.m.oldestAge.Set(lag.OldestAge.Seconds())
	return nil
}

// flush marks the rows held for a batched mark.
func (r *Relay) flush(ctx context.Context) error {
	r.roundMu.Lock()
	defer r.roundMu.Unlock()
	return r.flushLocked(ctx)
}

func (r *Relay) flushLocked(ctx context.Context) error {
	if len(r.pending) == 0 {
		return nil
	}
	if err := r.markPublished(ctx, r.pending); err != nil {
		return err
	}
	r.m.published.Add(float64(len(r.pending)))
	clear(r.pending)
	r.cursor = 0
	return nil
}

// message builds row's JetStream message inside a producer span that
// continues the trace of the transaction that wrote the event; the
// message carries the publish span's context, so the consumer's span
// hangs below it. The caller ends the span when the publish is settled.
func (r *Relay) message(ctx context.Context, row Row) (*nats.Msg, trace.Span) {
	carrier := propagation.MapCarrier{}
	if row.Traceparent != "" {
		carrier[HeaderTraceparent] = row.Traceparent
		if row.Tracestate != "" {
			carrier[HeaderTracestate] = row.Tracestate
		}
	}
	tctx := propagation.TraceContext{}.Extract(ctx, carrier)
	tctx, span := otel.Tracer("github.com/transload/transload/platform/outbox").Start(tctx,
		"publish "+row.Subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", row.Subject),
			attribute.String("messaging.message.id", row.EventID),
		))
	msg := row.Message()
	out := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(tctx, out)
	if tp := out.Get(HeaderTraceparent); tp != "" {
		msg.Header.Set(HeaderTraceparent, tp)
		if ts := out.Get(HeaderTracestate); ts != "" {
			msg.Header.Set(HeaderTracestate, ts)
		}
	}
	return msg, span
}

// groupByAggregate splits rows (in id order) into per-aggregate slices in
// sequence order, aggregates ordered by their first row.
func groupByAggregate(rows []Row) [][]Row {
	type key struct{ typ, id string }
	idx := map[key]int{}
	var groups [][]Row
	for _, row := range rows {
		k := key{row.AggregateType, row.AggregateID}
		i, ok := idx[k]
		if !ok {
			i = len(groups)
			idx[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], row)
	}
	return groups
}

func (r *Relay) unpublished(ctx context.Context) ([]Row, error) {
	// Ordering by id keeps each aggregate in sequence order: a writer
	// holds its aggregate's counter row until commit, so a later sequence
	// gets a later id. Ordering globally by id (rather than by aggregate)
	// keeps a busy aggregate from starving the others.
	//
	// Published rows waiting for their batched mark are still unpublished
	// in the database and must be skipped:
	//
	//   - SQLite has one writer at a time, so ids are handed out in
	//     commit order and every unpublished row at or below r.cursor (the
	//     highest id read since the last mark) is one of them: the scan
	//     simply starts after the cursor.
	//   - PostgreSQL hands out ids at insert, not at commit, so a row
	//     below the cursor can appear later, and skipping it would let the
	//     same aggregate's next event overtake it. There the scan excludes
	//     the held ids explicitly.
	if r.selectStmt == nil {
		q := `
			SELECT id, event_id, aggregate_type, aggregate_id, aggregate_seq, subject, payload_type,
				payload, correlation_id, traceparent, tracestate, created_unix_us
			FROM outbox_events
			WHERE published_unix_us IS NULL AND id > ?
			ORDER BY id
			LIMIT ?`
		if r.db.Dialect() == sqldb.Postgres {
			q = strings.Replace(q, "id > ?", "NOT (id = ANY(?::bigint[]))", 1)
		}
		stmt, err := r.db.SQL().PrepareContext(ctx, r.db.Rebind(q))
		if err != nil {
			return nil, fmt.Errorf("outbox: prepare unpublished query: %w", err)
		}
		r.selectStmt = stmt
	}
	var skip any = r.cursor
	if r.db.Dialect() == sqldb.Postgres {
		held := make([]int64, 0, len(r.pending))
		for pk := range r.pending {
			held = append(held, pk)
		}
		skip = held
	}
	rs, err := r.selectStmt.QueryContext(ctx, skip, r.cfg.batchSize)
	if err != nil {
		return nil, fmt.Errorf("outbox: read unpublished rows: %w", err)
	}
	defer rs.Close()
	var rows []Row
	for rs.Next() {
		var (
			row     Row
			created int64
		)
		if err := rs.Scan(&row.pk, &row.EventID, &row.AggregateType, &row.AggregateID, &row.Sequence,
			&row.Subject, &row.PayloadType, &row.Payload, &row.CorrelationID, &row.Traceparent,
			&row.Tracestate, &created); err != nil {
			return nil, fmt.Errorf("outbox: scan unpublished row: %w", err)
		}
		row.CreatedAt = time.UnixMicro(created).UTC()
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("outbox: read unpublished rows: %w", err)
	}
	// Within one id-ordered batch an aggregate's rows are already in
	// sequence order; sort defensively in case ids and sequences ever
	// disagree (e.g. rows restored from a backup).
	sortBySequence(rows)
	return rows, nil
}

// sortBySequence reorders each aggregate's rows by sequence while keeping
// the positions the aggregate occupies.
func sortBySequence(rows []Row) {
	type key struct{ typ, id string }
	pos := map[key][]int{}
	for i, row := range rows {
		k := key{row.AggregateType, row.AggregateID}
		pos[k] = append(pos[k], i)
	}
	for _, p := range pos {
		if len(p) < 2 {
			continue
		}
		sorted := true
		for j := 1; j < len(p); j++ {
			if rows[p[j-1]].Sequence > rows[p[j]].Sequence {
				sorted = false
				break
			}
		}
		if sorted {
			continue
		}
		group := make([]Row, len(p))
		for j, i := range p {
			group[j] = rows[i]
		}
		// Insertion sort: groups are short and nearly sorted.
		for j := 1; j < len(group); j++ {
			for k := j; k > 0 && group[k-1].Sequence > group[k].Sequence; k-- {
				group[k-1], group[k] = group[k], group[k-1]
			}
		}
		for j, i := range p {
			rows[i] = group[j]
		}
	}
}

// markPublished marks the rows of acked (id → stream sequence) published
// and records each one's stream sequence, for the reconciler.
func (r *Relay) markPublished(ctx context.Context, acked map[int64]uint64) error {
	if len(acked) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(acked))
	for pk := range acked {
		ids = append(ids, pk)
	}
	now := r.cfg.now().UTC().UnixMicro()
	// One statement marks up to two default batches (the most Run
	// holds), well below both engines' bound-parameter limits. The
	// sequences come in a VALUES list joined on the id (UPDATE … FROM,
	// SQLite 3.33+ and PostgreSQL), so the statement stays linear in its
	// rows; VALUES names its columns column1, column2 on both engines.
	const chunk = 1024
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ids); start += chunk {
			part := ids[start:min(start+chunk, len(ids))]
			args := make([]any, 0, 2*len(part)+1)
			args = append(args, now)
			for _, id := range part {
				args = append(args, id, int64(acked[id]))
			}
			q := `UPDATE outbox_events SET published_unix_us = ?, stream_seq = v.column2
				FROM (VALUES (CAST(? AS BIGINT), CAST(? AS BIGINT))` + strings.Repeat(", (?, ?)", len(part)-1) + `) AS v
				WHERE outbox_events.id = v.column1 AND outbox_events.published_unix_us IS NULL`
			if _, err := tx.ExecContext(ctx, r.db.Rebind(q), args...); err != nil {
				return fmt.Errorf("outbox: mark %d rows published: %w", len(part), err)
			}
		}
		return nil
	})
}

// Lag describes the relay backlog of one database.
type Lag struct {
	// Unpublished is the number of rows not yet published.
	Unpublished int64
	// OldestAge is the age of the oldest unpublished row; 0 when none.
	OldestAge time.Duration
}

// ReadLag reads the outbox backlog of db as of now: the rows not yet
// marked published.
func ReadLag(ctx context.Context, db *sqldb.DB, now time.Time) (Lag, error) {
	return readLag(ctx, db, now, nil)
}

// readLag is ReadLag not counting the rows in skip (published, mark
// pending).
func readLag(ctx context.Context, db *sqldb.DB, now time.Time, skip map[int64]uint64) (Lag, error) {
	var (
		n      int64
		oldest *int64
	)
	q := `SELECT COUNT(*), MIN(created_unix_us) FROM outbox_events WHERE published_unix_us IS NULL`
	args := make([]any, 0, len(skip))
	if len(skip) > 0 {
		q += ` AND id NOT IN (?` + strings.Repeat(", ?", len(skip)-1) + `)`
		for pk := range skip {
			args = append(args, pk)
		}
	}
	if err := db.SQL().QueryRowContext(ctx, db.Rebind(q), args...).Scan(&n, &oldest); err != nil {
		return Lag{}, fmt.Errorf("outbox: read lag: %w", err)
	}
	lag := Lag{Unpublished: n}
	if oldest != nil {
		lag.OldestAge = max(now.Sub(time.UnixMicro(*oldest)), 0)
	}
	return lag, nil
}

// Purge deletes rows published before t and returns how many it deleted.
// Unpublished rows and the per-aggregate counters are kept, so sequences
// never restart.
func Purge(ctx context.Context, db *sqldb.DB, before time.Time) (int64, error) {
	var n int64
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.Rebind(
			`DELETE FROM outbox_events WHERE published_unix_us IS NOT NULL AND published_unix_us < ?`),
			before.UTC().UnixMicro())
		if err != nil {
			return fmt.Errorf("outbox: purge published rows: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
