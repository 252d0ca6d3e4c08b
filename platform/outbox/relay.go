package outbox

import (
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

	"github.com/transload/transload/platform/sqldb"
)

// Relay publishes committed outbox rows to JetStream and marks them
// published. Create it with [NewRelay] and start it with [Relay.Run].
type Relay struct {
	db     *sqldb.DB
	js     jetstream.JetStream
	cfg    relayConfig
	wake   chan struct{}
	m      relayMetrics
	logger *slog.Logger

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
	registerer     prometheus.Registerer
	logger         *slog.Logger
	now            func() time.Time
}

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

// WithPublishTimeout bounds each publish and its acknowledgement (default
// 5s).
func WithPublishTimeout(d time.Duration) RelayOption {
	return func(c *relayConfig) { c.publishTimeout = d }
}

// WithConcurrency sets how many aggregates are published in parallel
// within a round (default 16). One aggregate's events are always published
// one after the other.
func WithConcurrency(n int) RelayOption { return func(c *relayConfig) { c.concurrency = n } }

// WithPurgeAfter deletes rows published more than d ago at the end of each
// round; 0 (the default) keeps them.
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
// It fails only if registering metrics fails.
func NewRelay(db *sqldb.DB, js jetstream.JetStream, opts ...RelayOption) (*Relay, error) {
	cfg := relayConfig{
		pollInterval:   500 * time.Millisecond,
		batchSize:      256,
		publishTimeout: 5 * time.Second,
		concurrency:    16,
		logger:         slog.Default(),
		now:            time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.batchSize = max(cfg.batchSize, 1)
	cfg.concurrency = max(cfg.concurrency, 1)
	if cfg.pollInterval <= 0 {
		cfg.pollInterval = 500 * time.Millisecond
	}
	r := &Relay{
		db:     db,
		js:     js,
		cfg:    cfg,
		wake:   make(chan struct{}, 1),
		m:      newRelayMetrics(),
		logger: cfg.logger,
	}
	if cfg.registerer != nil {
		for _, c := range r.m.collectors() {
			if err := cfg.registerer.Register(c); err != nil {
				return nil, fmt.Errorf("outbox: register relay metrics: %w", err)
			}
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

// Run publishes rows until ctx is cancelled, then returns nil. Errors of a
// round (database or NATS unavailable) are logged and retried on the next
// round.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.pollInterval)
	defer t.Stop()
	for {
		for {
			n, err := r.RunOnce(ctx)
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
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.wake:
		}
	}
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

// RunOnce runs one relay round: it reads up to the batch size of
// unpublished rows, publishes them per aggregate in sequence order, marks
// the acknowledged ones published and refreshes the lag metrics. It
// returns how many rows it read; the error reports the first failure (rows
// that were acknowledged are still marked).
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	rows, err := r.unpublished(ctx)
	if err != nil {
		return 0, err
	}
	var (
		mu       sync.Mutex
		done     []int64
		firstErr error
		aborted  bool
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}

	groups := groupByAggregate(rows)
	work := make(chan []Row)
	var wg sync.WaitGroup
	for range min(r.cfg.concurrency, len(groups)) {
		wg.Go(func() {
			for g := range work {
				for _, row := range g {
					if ctx.Err() != nil {
						return
					}
					if err := r.publish(ctx, row); err != nil {
						r.m.failures.Inc()
						fail(fmt.Errorf("outbox: publish event %s (%s %s #%d): %w",
							row.EventID, row.AggregateType, row.AggregateID, row.Sequence, err))
						// Later rows of this aggregate wait: publishing them
						// now would reorder the aggregate's events.
						break
					}
					if r.afterPublish != nil {
						if err := r.afterPublish(ctx, row); err != nil {
							mu.Lock()
							aborted = true
							mu.Unlock()
							fail(err)
							break
						}
					}
					mu.Lock()
					done = append(done, row.pk)
					mu.Unlock()
				}
			}
		})
	}
	for _, g := range groups {
		select {
		case work <- g:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()

	if aborted {
		return len(rows), firstErr
	}
	// Mark with a context that outlives a cancelled ctx: the rows were
	// acknowledged, and marking them now saves a republish after restart.
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.publishTimeout)
	defer cancel()
	if err := r.markPublished(markCtx, done); err != nil {
		return len(rows), err
	}
	r.m.published.Add(float64(len(done)))
	if r.cfg.purgeAfter > 0 {
		if _, err := Purge(markCtx, r.db, r.cfg.now().Add(-r.cfg.purgeAfter)); err != nil {
			fail(err)
		}
	}
	if lag, err := ReadLag(markCtx, r.db, r.cfg.now()); err == nil {
		r.m.unpublished.Set(float64(lag.Unpublished))
		r.m.oldestAge.Set(lag.OldestAge.Seconds())
	} else {
		fail(err)
	}
	if ctx.Err() != nil && firstErr == nil {
		firstErr = ctx.Err()
	}
	return len(rows), firstErr
}

func (r *Relay) publish(ctx context.Context, row Row) error {
	pctx, cancel := context.WithTimeout(ctx, r.cfg.publishTimeout)
	defer cancel()
	ack, err := r.js.PublishMsg(pctx, row.Message())
	if err != nil {
		return err
	}
	if ack.Duplicate {
		r.m.duplicates.Inc()
	}
	return nil
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
	q := r.db.Rebind(`
		SELECT id, event_id, aggregate_type, aggregate_id, aggregate_seq, subject, payload_type,
			payload, correlation_id, traceparent, tracestate, created_unix_us
		FROM outbox_events
		WHERE published_unix_us IS NULL
		ORDER BY id
		LIMIT ?`)
	rs, err := r.db.SQL().QueryContext(ctx, q, r.cfg.batchSize)
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

func (r *Relay) markPublished(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	now := r.cfg.now().UTC().UnixMicro()
	const chunk = 500
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ids); start += chunk {
			part := ids[start:min(start+chunk, len(ids))]
			args := make([]any, 0, len(part)+1)
			args = append(args, now)
			for _, id := range part {
				args = append(args, id)
			}
			q := `UPDATE outbox_events SET published_unix_us = ? WHERE published_unix_us IS NULL AND id IN (?` +
				strings.Repeat(", ?", len(part)-1) + `)`
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

// ReadLag reads the outbox backlog of db as of now.
func ReadLag(ctx context.Context, db *sqldb.DB, now time.Time) (Lag, error) {
	var (
		n      int64
		oldest *int64
	)
	err := db.SQL().QueryRowContext(ctx,
		`SELECT COUNT(*), MIN(created_unix_us) FROM outbox_events WHERE published_unix_us IS NULL`).
		Scan(&n, &oldest)
	if err != nil {
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
