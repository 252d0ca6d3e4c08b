package outbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/sqldb"
)

// Broker loss and the reconciler
//
// The relay marks a row published once JetStream stored it, and records
// the stream sequence it was stored under (stream_seq). JetStream may
// still lose it before every consumer read it: the stream is purged, a
// short max-age or a size limit expires it, the stream is deleted and
// recreated. Consumers would then never see the event.
//
// The [Reconciler] checks, every interval and under a lease (one
// reconciler per database, so one per service across its replicas), the
// rows published within the lookback: a row is missing when its stream
// no longer holds its stream sequence, that is when
//
//   - the stream was created after the row was published (recreated),
//   - the sequence is below the stream's first sequence (purged, expired
//     or dropped by a limit) or above its last (the stream was reset), or
//   - the stream has interior deletes and the sequence is one of them, or
//     holds a different event (read only when the stream has deletes).
//
// This costs one stream info per stream per pass and one indexed scan
// of the window's rows, not a read per event. It does not ask the
// consumers: JetStream moves a consumer's ack floor past the messages a
// purge or a limit removed, so an ack floor cannot tell a consumed
// event from a lost one. A missing row is therefore republished whether
// or not its consumers had read it; consumers apply an event once by its
// event id (package events), so a republished event already applied is
// skipped. The republish carries the original event id and headers and a
// new Nats-Msg-Id (the original may still be in the stream's duplicate
// window after a purge, which would drop it), aggregate by aggregate in
// sequence order. Each row is republished at most once: the reconciler
// records the new stream sequence and the time (republished_unix_us),
// counts it in transload_outbox_reconcile_republished_total and raises
// an exception per stream and pass (see [ReconcileConfig].Exception), so
// an operator hears of a broker that keeps losing events rather than the
// reconciler republishing them for ever.
//
// The lookback must be shorter than the max age of the streams: an event
// that expires by its stream's normal retention inside the lookback
// would be counted as lost and republished once.

// ReconcileConfig configures the reconciler that [WithReconcile] runs
// next to the relay.
type ReconcileConfig struct {
	// Service names the service, for the lease holder and the exception's
	// producer.
	Service string
	// Interval is how often a pass runs (default 1m; negative disables
	// the reconciler).
	Interval time.Duration
	// Lookback is how far back, by publish time, a pass checks published
	// rows (default 15m). Keep it below the streams' max age and the
	// outbox purge age.
	Lookback time.Duration
	// LeaseTTL is how long the lease of one pass holds (default 3x the
	// interval, at least 30s); a replica that dies holding it is replaced
	// once it expired.
	LeaseTTL time.Duration
	// Exception, when set, returns the outbox event raising an exception
	// for loss (e.g. an opsevents exception for the ops desk); it is
	// written in the transaction that records the republishes.
	Exception func(loss Loss) (Event, error)
}

// ReconcileSettings is the reconciler configuration a service reads from
// its environment ([LoadReconcileSettings]).
type ReconcileSettings struct {
	// Interval is how often the outbox reconciler checks the stream;
	// 0 turns it off.
	Interval time.Duration `env:"OUTBOX_RECONCILE_INTERVAL" default:"1m"`
	// Lookback is how far back it checks published events.
	Lookback time.Duration `env:"OUTBOX_RECONCILE_LOOKBACK" default:"15m"`
}

// LoadReconcileSettings reads [ReconcileSettings] from the environment.
func LoadReconcileSettings() (ReconcileSettings, error) {
	var s ReconcileSettings
	if err := config.Load(&s, os.Getenv); err != nil {
		return s, fmt.Errorf("outbox: reconcile settings: %w", err)
	}
	if s.Lookback < 0 {
		return s, errors.New("outbox: OUTBOX_RECONCILE_LOOKBACK must not be negative")
	}
	return s, nil
}

// Config returns the reconciler configuration of service with s's interval
// and lookback (0 interval: disabled) and exception.
func (s ReconcileSettings) Config(service string, exception func(Loss) (Event, error)) ReconcileConfig {
	iv := s.Interval
	if iv == 0 {
		iv = -1
	}
	return ReconcileConfig{Service: service, Interval: iv, Lookback: s.Lookback, Exception: exception}
}

// Loss describes the events of one stream a reconciler pass found missing
// and republished.
type Loss struct {
	// Stream is the stream that lost them.
	Stream string
	// Events are the republished events, in the order republished.
	Events []LostEvent
	// At is the time of the pass.
	At time.Time
}

// LostEvent is one event missing from its stream.
type LostEvent struct {
	EventID       string
	AggregateType string
	AggregateID   string
	Sequence      int64
	Subject       string
	// StreamSeq is where the stream had stored it; NewStreamSeq is where
	// the republish stored it.
	StreamSeq, NewStreamSeq uint64
}

// WithReconcile makes [Relay.Run] also run a [Reconciler] with cfg
// (unless cfg.Interval is negative); its metrics go to the relay's
// registerer.
func WithReconcile(cfg ReconcileConfig) RelayOption {
	return func(c *relayConfig) { c.reconcile = &cfg }
}

// WithReconcileFromEnv is [WithReconcile] with the interval and lookback
// of the environment ([LoadReconcileSettings]; OUTBOX_RECONCILE_INTERVAL=0
// turns the reconciler off). A malformed variable fails [NewRelay].
func WithReconcileFromEnv(service string, exception func(Loss) (Event, error)) RelayOption {
	return func(c *relayConfig) {
		s, err := LoadReconcileSettings()
		if err != nil {
			c.err = err
			return
		}
		cfg := s.Config(service, exception)
		c.reconcile = &cfg
	}
}

// Reconciler finds published outbox events their stream lost and
// republishes them (see the section on broker loss above).
type Reconciler struct {
	db     *sqldb.DB
	js     jetstream.JetStream
	cfg    ReconcileConfig
	holder string
	logger *slog.Logger
	now    func() time.Time
	m      reconcileMetrics
	// streamOf caches the stream capturing each subject.
	streamOf map[string]string
}

type reconcileMetrics struct {
	passes      prometheus.Counter
	failures    prometheus.Counter
	republished *prometheus.CounterVec
}

// reconcileLease is the name of the reconciler's lease.
const reconcileLease = "outbox-reconcile"

// NewReconciler returns a reconciler of db's outbox against the streams
// js reaches. reg (may be nil) receives its metrics; logger and now
// default to slog.Default and time.Now.
func NewReconciler(db *sqldb.DB, js jetstream.JetStream, cfg ReconcileConfig, reg prometheus.Registerer, logger *slog.Logger, now func() time.Time) (*Reconciler, error) {
	if cfg.Service == "" {
		return nil, errors.New("outbox: reconciler needs its service name")
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = 15 * time.Minute
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = max(3*cfg.Interval, 30*time.Second)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	host, _ := os.Hostname()
	r := &Reconciler{
		db: db, js: js, cfg: cfg, logger: cmp.Or(logger, slog.Default()), now: now,
		holder:   cfg.Service + "@" + host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(id[:]),
		streamOf: map[string]string{},
		m: reconcileMetrics{
			passes: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "transload_outbox_reconcile_passes_total",
				Help: "Outbox reconciler passes that held the lease and checked the stream.",
			}),
			failures: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "transload_outbox_reconcile_failures_total",
				Help: "Outbox reconciler passes that failed (database or NATS unavailable); retried next interval.",
			}),
			republished: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "transload_outbox_reconcile_republished_total",
				Help: "Published outbox events found missing from their stream (purged, expired, stream recreated) and republished, by stream.",
			}, []string{"stream"}),
		},
	}
	if r.now == nil {
		r.now = time.Now
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.m.passes, r.m.failures, r.m.republished} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("outbox: register reconciler metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Run runs a pass every interval until ctx ends, then returns nil.
// A failed pass is logged and counted; the next one retries.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.m.failures.Inc()
			r.logger.WarnContext(ctx, "outbox reconciler: pass failed; retrying next interval", slog.Any("err", err))
		}
	}
}

// Pass runs one reconciliation if this reconciler holds (or takes) the
// lease, and returns what it found missing and republished (nil when
// another replica holds the lease or nothing was lost).
func (r *Reconciler) Pass(ctx context.Context) ([]Loss, error) {
	now := r.now()
	ok, err := AcquireLease(ctx, r.db, reconcileLease, r.holder, now, r.cfg.LeaseTTL)
	if err != nil || !ok {
		return nil, err
	}
	r.m.passes.Inc()
	rows, err := r.published(ctx, now.Add(-r.cfg.Lookback))
	if err != nil {
		return nil, err
	}
	missing, err := r.missing(ctx, rows)
	if err != nil {
		return nil, err
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if err := r.load(ctx, missing); err != nil {
		return nil, err
	}
	return r.republish(ctx, missing, now)
}

// checkedRow is a published row with what the reconciler needs.
type checkedRow struct {
	Row
	streamSeq uint64
	published time.Time
	stream    string
}

// published reads the rows published since from that were not
// republished yet, in id order (each aggregate in sequence order), without
// their payloads: only the missing ones are read in full ([Reconciler.load]).
func (r *Reconciler) published(ctx context.Context, from time.Time) ([]checkedRow, error) {
	rs, err := r.db.SQL().QueryContext(ctx, r.db.Rebind(`
		SELECT id, event_id, subject, published_unix_us, stream_seq
		FROM outbox_events
		WHERE published_unix_us IS NOT NULL AND published_unix_us >= ?
			AND stream_seq IS NOT NULL AND republished_unix_us IS NULL
		ORDER BY id`), from.UTC().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("outbox: reconcile: read published rows: %w", err)
	}
	defer rs.Close()
	var rows []checkedRow
	for rs.Next() {
		var (
			c              checkedRow
			published, seq int64
		)
		if err := rs.Scan(&c.pk, &c.EventID, &c.Subject, &published, &seq); err != nil {
			return nil, fmt.Errorf("outbox: reconcile: scan published row: %w", err)
		}
		c.published, c.streamSeq = time.UnixMicro(published).UTC(), uint64(seq)
		rows = append(rows, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("outbox: reconcile: read published rows: %w", err)
	}
	return rows, nil
}

// load reads the rest of the missing rows (payload and headers), 1000 ids
// per query.
func (r *Reconciler) load(ctx context.Context, missing []checkedRow) error {
	const chunk = 1000
	for start := 0; start < len(missing); start += chunk {
		if err := r.loadChunk(ctx, missing[start:min(start+chunk, len(missing))]); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) loadChunk(ctx context.Context, missing []checkedRow) error {
	byID := make(map[int64]*checkedRow, len(missing))
	args := make([]any, 0, len(missing))
	for i := range missing {
		byID[missing[i].pk] = &missing[i]
		args = append(args, missing[i].pk)
	}
	rs, err := r.db.SQL().QueryContext(ctx, r.db.Rebind(`
		SELECT id, aggregate_type, aggregate_id, aggregate_seq, payload_type, payload, correlation_id,
			traceparent, tracestate, created_unix_us
		FROM outbox_events WHERE id IN (?`+strings.Repeat(", ?", len(args)-1)+`)`), args...)
	if err != nil {
		return fmt.Errorf("outbox: reconcile: read missing rows: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			pk, created int64
			row         Row
		)
		if err := rs.Scan(&pk, &row.AggregateType, &row.AggregateID, &row.Sequence, &row.PayloadType, &row.Payload,
			&row.CorrelationID, &row.Traceparent, &row.Tracestate, &created); err != nil {
			return fmt.Errorf("outbox: reconcile: scan missing row: %w", err)
		}
		c := byID[pk]
		row.pk, row.EventID, row.Subject, row.CreatedAt = pk, c.EventID, c.Subject, time.UnixMicro(created).UTC()
		c.Row = row
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("outbox: reconcile: read missing rows: %w", err)
	}
	return nil
}

// streamView is what a pass knows of one stream.
type streamView struct {
	stream  jetstream.Stream
	info    *jetstream.StreamInfo
	deleted map[uint64]bool
}

// missing returns the rows their stream no longer holds.
func (r *Reconciler) missing(ctx context.Context, rows []checkedRow) ([]checkedRow, error) {
	views := map[string]*streamView{}
	var out []checkedRow
	for _, c := range rows {
		name, err := r.stream(ctx, c.Subject)
		if err != nil {
			return nil, err
		}
		v, ok := views[name]
		if !ok {
			if v, err = r.view(ctx, name); err != nil {
				return nil, err
			}
			views[name] = v
		}
		lost, err := v.lost(ctx, c)
		if err != nil {
			return nil, err
		}
		if lost {
			c.stream = name
			out = append(out, c)
		}
	}
	return out, nil
}

// stream returns the name of the stream capturing subject.
func (r *Reconciler) stream(ctx context.Context, subject string) (string, error) {
	if name, ok := r.streamOf[subject]; ok {
		return name, nil
	}
	name, err := r.js.StreamNameBySubject(ctx, subject)
	if err != nil {
		return "", fmt.Errorf("outbox: reconcile: stream of %s: %w", subject, err)
	}
	r.streamOf[subject] = name
	return name, nil
}

func (r *Reconciler) view(ctx context.Context, name string) (*streamView, error) {
	s, err := r.js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("outbox: reconcile: stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("outbox: reconcile: stream %s info: %w", name, err)
	}
	v := &streamView{stream: s, info: info}
	if info.State.NumDeleted > 0 {
		// Interior deletes: read which sequences (one more request).
		info, err := s.Info(ctx, jetstream.WithDeletedDetails(true))
		if err != nil {
			return nil, fmt.Errorf("outbox: reconcile: stream %s deletes: %w", name, err)
		}
		v.deleted = make(map[uint64]bool, len(info.State.Deleted))
		for _, seq := range info.State.Deleted {
			v.deleted[seq] = true
		}
	}
	return v, nil
}

// lost reports whether the stream no longer holds c.
func (v *streamView) lost(ctx context.Context, c checkedRow) (bool, error) {
	st := v.info.State
	switch {
	case v.info.Created.After(c.published):
		return true, nil
	case st.Msgs == 0 || c.streamSeq < st.FirstSeq || c.streamSeq > st.LastSeq:
		return true, nil
	case v.deleted == nil:
		return false, nil
	case v.deleted[c.streamSeq]:
		return true, nil
	}
	// With interior deletes the stream may also have been reset and
	// refilled: check that the sequence holds this event.
	m, err := v.stream.GetMsg(ctx, c.streamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("outbox: reconcile: read %s #%d: %w", v.info.Config.Name, c.streamSeq, err)
	}
	return m.Header.Get(HeaderEventID) != c.EventID, nil
}

// republish publishes the missing rows again (each aggregate in sequence
// order), then records the republishes and raises the exceptions in one
// transaction.
func (r *Reconciler) republish(ctx context.Context, missing []checkedRow, now time.Time) ([]Loss, error) {
	var (
		losses []Loss
		byName = map[string]int{}
		done   []checkedRow
		newSeq = map[int64]uint64{}
		pubErr error
	)
	for _, c := range missing {
		msg := c.Message()
		// A new de-duplication id: after a purge the stream may still
		// remember the original one and would drop the republish.
		msg.Header.Set(HeaderMsgID, c.EventID+"/reconciled/"+strconv.FormatInt(now.UnixMicro(), 10))
		ack, err := r.js.PublishMsg(ctx, msg)
		if err != nil {
			// Later rows of the aggregate would overtake this one; stop
			// and record what was republished so far.
			pubErr = fmt.Errorf("outbox: reconcile: republish %s (%s %s #%d): %w", c.EventID, c.AggregateType, c.AggregateID, c.Sequence, err)
			break
		}
		newSeq[c.pk] = ack.Sequence
		done = append(done, c)
		i, ok := byName[c.stream]
		if !ok {
			i = len(losses)
			byName[c.stream] = i
			losses = append(losses, Loss{Stream: c.stream, At: now})
		}
		losses[i].Events = append(losses[i].Events, LostEvent{
			EventID: c.EventID, AggregateType: c.AggregateType, AggregateID: c.AggregateID, Sequence: c.Sequence,
			Subject: c.Subject, StreamSeq: c.streamSeq, NewStreamSeq: ack.Sequence,
		})
	}
	if len(done) == 0 {
		return nil, pubErr
	}
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, c := range done {
			if _, err := tx.ExecContext(ctx, r.db.Rebind(`
				UPDATE outbox_events SET stream_seq = ?, republished_unix_us = ? WHERE id = ?`),
				int64(newSeq[c.pk]), now.UTC().UnixMicro(), c.pk); err != nil {
				return fmt.Errorf("outbox: reconcile: record republish of %s: %w", c.EventID, err)
			}
		}
		if r.cfg.Exception == nil {
			return nil
		}
		for _, l := range losses {
			ev, err := r.cfg.Exception(l)
			if err != nil {
				return fmt.Errorf("outbox: reconcile: exception for %s: %w", l.Stream, err)
			}
			if _, err := Write(ctx, tx, r.db.Dialect(), ev); err != nil {
				return fmt.Errorf("outbox: reconcile: write exception for %s: %w", l.Stream, err)
			}
		}
		return nil
	})
	if err != nil {
		// The events were republished; the next pass finds them in the
		// stream under their old sequence missing and republishes them
		// again, which consumers skip by event id.
		return nil, errors.Join(pubErr, err)
	}
	for _, l := range losses {
		r.m.republished.WithLabelValues(l.Stream).Add(float64(len(l.Events)))
		r.logger.WarnContext(ctx, "outbox reconciler: republished events missing from their stream",
			slog.String("stream", l.Stream), slog.Int("events", len(l.Events)),
			slog.String("first_event_id", l.Events[0].EventID))
	}
	return slices.Clip(losses), pubErr
}

// AcquireLease takes (or renews) the lease name for holder until now+ttl
// and reports whether holder holds it: it does when nobody held it, the
// holder's lease expired, or holder already held it. The lease lives in
// db's outbox_leases table, so the replicas of one service (one
// database) share it.
func AcquireLease(ctx context.Context, db *sqldb.DB, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var held string
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.Rebind(`
			INSERT INTO outbox_leases (name, holder, expires_unix_us) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_unix_us = excluded.expires_unix_us
			WHERE outbox_leases.holder = excluded.holder OR outbox_leases.expires_unix_us < ?`),
			name, holder, now.Add(ttl).UTC().UnixMicro(), now.UTC().UnixMicro()); err != nil {
			return fmt.Errorf("outbox: acquire lease %s: %w", name, err)
		}
		return tx.QueryRowContext(ctx, db.Rebind(`SELECT holder FROM outbox_leases WHERE name = ?`), name).Scan(&held)
	})
	if err != nil {
		return false, err
	}
	return held == holder, nil
}
