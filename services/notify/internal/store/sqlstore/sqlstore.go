// Package sqlstore keeps the notify service's data in its own SQL
// database (SQLite or PostgreSQL through platform/sqldb): subscriptions,
// the order → channel/customer map, the durable delivery queue and the
// delivery log. The same SQL runs on both engines; times are UTC Unix
// microseconds, 0 meaning unset.
//
// Queue order: deliveries of one subscription go out by `position`; a
// delivery is due only when no earlier pending delivery of the same
// ordering key (the order) exists, so a later change of an order never
// overtakes an earlier one that is still being retried, while other orders
// proceed.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

// MigrationSet is the migration set of the notify tables.
const MigrationSet = "notify"

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the service's tables, the outbox (exceptions
// for the desk) and the consumers' processed-event table.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return events.Migrate(ctx, db)
}

// Subscription states.
const (
	SubActive   = 1
	SubDisabled = 2
)

// Delivery states.
const (
	DeliveryPending   = 1
	DeliveryDelivered = 2
	DeliveryFailed    = 3
)

// ErrNotFound is returned for a missing row.
var ErrNotFound = errors.New("sqlstore: not found")

// ErrRequestReused is returned by CreateSubscription for a request id
// used before with a different payload.
var ErrRequestReused = errors.New("sqlstore: request id reused with a different payload")

// Subscription is a stored subscription.
type Subscription struct {
	ID, Channel, CustomerID, TargetURI, DisplayName string
	// EventTypes is a bit set, bit 1<<t for notify.v1.EventType t.
	EventTypes int64
	// Secret is the current secret; OldSecret signs too until OldUntil.
	Secret, OldSecret   string
	OldUntil            time.Time
	State               int
	StateMessage        string
	ConsecutiveFailures int
	CreateTime          time.Time
	LastSuccess         time.Time
	RequestID           string
	RequestHash         string
}

// Delivery is a queued event for one subscription.
type Delivery struct {
	Seq                      int64
	ID, SubscriptionID       string
	EventID                  string
	EventType                int
	Resource, OrderingKey    string
	Position                 int64
	Body                     []byte
	EventTime, CreateTime    time.Time
	State, Attempts          int
	NextAttempt, DeliverTime time.Time
	AttemptLog               []Attempt
}

// Attempt is one HTTP attempt.
type Attempt struct {
	Number     int
	Time       time.Time
	StatusCode int
	Latency    time.Duration
	Error      string
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type conn struct {
	q querier
	d sqldb.Dialect
}

func (c conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.d.Rebind(q), args...)
}

func (c conn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.d.Rebind(q), args...)
}

func (c conn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.d.Rebind(q), args...)
}

// Store is the notify store; safe for concurrent use.
type Store struct {
	conn
	db *sqldb.DB
}

// New returns a store over db (migrated with Migrate).
func New(db *sqldb.DB) *Store { return &Store{conn: conn{q: db.SQL(), d: db.Dialect()}, db: db} }

// DB returns the database (the consumers and the outbox use it).
func (s *Store) DB() *sqldb.DB { return s.db }

// Tx is the store inside a transaction.
type Tx struct{ conn }

// Bind returns the store's view of tx (the consumer's transaction).
func (s *Store) Bind(tx *sql.Tx) *Tx { return &Tx{conn{q: tx, d: s.d}} }

// InTx runs fn in a transaction of the store.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx, t *Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return fn(tx, s.Bind(tx)) })
}

const subColumns = `id, channel, customer_id, target_uri, event_types, display_name, secret, old_secret, old_secret_until,
 state, state_message, consecutive_failures, create_time, last_success_time, request_id, request_hash`

type scanner interface{ Scan(dest ...any) error }

func scanSub(r scanner) (*Subscription, error) {
	var s Subscription
	var oldUntil, created, lastOK int64
	err := r.Scan(&s.ID, &s.Channel, &s.CustomerID, &s.TargetURI, &s.EventTypes, &s.DisplayName, &s.Secret, &s.OldSecret,
		&oldUntil, &s.State, &s.StateMessage, &s.ConsecutiveFailures, &created, &lastOK, &s.RequestID, &s.RequestHash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.OldUntil, s.CreateTime, s.LastSuccess = fromMicros(oldUntil), fromMicros(created), fromMicros(lastOK)
	return &s, nil
}

// CreateSubscription inserts sub. With a request id already used by the
// same owner it returns the stored subscription and created=false when the
// hash matches, ErrRequestReused otherwise.
// The insert bumps the subscription version (SubscriptionVersion) in the
// same transaction.
func (s *Store) CreateSubscription(ctx context.Context, sub *Subscription) (*Subscription, bool, error) {
	err := s.InTx(ctx, func(_ *sql.Tx, t *Tx) error {
		if _, err := t.exec(ctx, `INSERT INTO subscriptions (`+subColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			sub.ID, sub.Channel, sub.CustomerID, sub.TargetURI, sub.EventTypes, sub.DisplayName, sub.Secret, sub.OldSecret,
			micros(sub.OldUntil), sub.State, sub.StateMessage, sub.ConsecutiveFailures, micros(sub.CreateTime),
			micros(sub.LastSuccess), sub.RequestID, sub.RequestHash); err != nil {
			return err
		}
		return t.bumpSubscriptionVersion(ctx)
	})
	if err == nil {
		return sub, true, nil
	}
	if !sqldb.IsUniqueViolation(err) || sub.RequestID == "" {
		return nil, false, fmt.Errorf("sqlstore: insert subscription: %w", err)
	}
	prev, err := scanSub(s.queryRow(ctx, `SELECT `+subColumns+` FROM subscriptions
 WHERE channel = ? AND customer_id = ? AND request_id = ?`, sub.Channel, sub.CustomerID, sub.RequestID))
	if err != nil {
		return nil, false, err
	}
	if prev.RequestHash != sub.RequestHash {
		return nil, false, ErrRequestReused
	}
	return prev, false, nil
}

// GetSubscription returns subscription id.
func (s *Store) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	return scanSub(s.queryRow(ctx, `SELECT `+subColumns+` FROM subscriptions WHERE id = ?`, id))
}

// CountSubscriptions counts an owner's subscriptions.
func (s *Store) CountSubscriptions(ctx context.Context, channel, customerID string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM subscriptions WHERE channel = ? AND customer_id = ?`, channel, customerID).Scan(&n)
	return n, err
}

// ListSubscriptions lists the channel's subscriptions (only customerID's
// when it is not empty) after the cursor (create time, id), oldest first.
func (s *Store) ListSubscriptions(ctx context.Context, channel, customerID string, afterTime time.Time, afterID string, limit int) ([]*Subscription, error) {
	q := `SELECT ` + subColumns + ` FROM subscriptions WHERE channel = ? AND (create_time > ? OR (create_time = ? AND id > ?))`
	args := []any{channel, micros(afterTime), micros(afterTime), afterID}
	if customerID != "" {
		q += ` AND customer_id = ?`
		args = append(args, customerID)
	}
	q += ` ORDER BY create_time, id LIMIT ?`
	args = append(args, limit)
	return s.subs(ctx, q, args...)
}

func (s *Store) subs(ctx context.Context, q string, args ...any) ([]*Subscription, error) {
	return collect(ctx, s.conn, scanSub, q, args...)
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, c conn, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ActiveSubscriptions returns every active subscription (the dispatcher's
// set).
func (s *Store) ActiveSubscriptions(ctx context.Context) ([]*Subscription, error) {
	return s.subs(ctx, `SELECT `+subColumns+` FROM subscriptions WHERE state = ? ORDER BY id`, SubActive)
}

// bumpSubscriptionVersion moves the subscription version: the set of
// subscriptions changed in this transaction.
func (t *Tx) bumpSubscriptionVersion(ctx context.Context) error {
	_, err := t.exec(ctx, `UPDATE subscription_version SET version = version + 1 WHERE id = 1`)
	return err
}

// SubscriptionVersion returns a number that changes with every committed
// subscription insert or delete (a point read).
func (s *Store) SubscriptionVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.queryRow(ctx, `SELECT version FROM subscription_version WHERE id = 1`).Scan(&v)
	return v, err
}

// Interest is what a subscription wants: its owner and event types.
type Interest struct {
	Channel, CustomerID string
	EventTypes          int64
}

// Interests returns the owner and event types of every subscription,
// active or disabled (a disabled subscription keeps queueing).
func (s *Store) Interests(ctx context.Context) ([]Interest, error) {
	return collect(ctx, s.conn, func(r scanner) (Interest, error) {
		var in Interest
		err := r.Scan(&in.Channel, &in.CustomerID, &in.EventTypes)
		return in, err
	}, `SELECT channel, customer_id, event_types FROM subscriptions`)
}

// DeleteSubscription deletes a subscription, its deliveries and their log,
// and bumps the subscription version.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	return s.InTx(ctx, func(_ *sql.Tx, t *Tx) error {
		if err := t.bumpSubscriptionVersion(ctx); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = ?)`, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM deliveries WHERE subscription_id = ?`, id); err != nil {
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM subscriptions WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// RotateSecret makes secret current and keeps the current one signing
// until until.
func (s *Store) RotateSecret(ctx context.Context, id, secret string, until time.Time) error {
	res, err := s.exec(ctx, `UPDATE subscriptions SET old_secret = secret, old_secret_until = ?, secret = ? WHERE id = ?`,
		micros(until), secret, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Enable re-activates a subscription and makes its pending deliveries due
// now.
func (s *Store) Enable(ctx context.Context, id string, now time.Time) error {
	return s.InTx(ctx, func(_ *sql.Tx, t *Tx) error {
		res, err := t.exec(ctx, `UPDATE subscriptions SET state = ?, state_message = '', consecutive_failures = 0 WHERE id = ?`, SubActive, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = t.exec(ctx, `UPDATE deliveries SET next_attempt_time = ? WHERE subscription_id = ? AND state = ? AND next_attempt_time > ?`,
			micros(now), id, DeliveryPending, micros(now))
		return err
	})
}

// PendingCounts returns the pending deliveries per subscription.
func (s *Store) PendingCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT subscription_id, COUNT(*) FROM deliveries WHERE state = ? GROUP BY subscription_id`, DeliveryPending)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// SetOrderOwner records the channel and customer of an order (first
// writer wins: they never change).
func (t *Tx) SetOrderOwner(ctx context.Context, orderID, channel, customerID string) error {
	_, err := t.exec(ctx, `INSERT INTO order_owners (order_id, channel, customer_id) VALUES (?,?,?) ON CONFLICT (order_id) DO NOTHING`,
		orderID, channel, customerID)
	return err
}

// OrderOwner returns the channel and customer of an order; ok is false
// when the order was never seen.
func (t *Tx) OrderOwner(ctx context.Context, orderID string) (channel, customerID string, ok bool, err error) {
	return t.orderOwner(ctx, orderID)
}

// OrderOwner is Tx.OrderOwner outside a transaction.
func (s *Store) OrderOwner(ctx context.Context, orderID string) (channel, customerID string, ok bool, err error) {
	return s.orderOwner(ctx, orderID)
}

func (c conn) orderOwner(ctx context.Context, orderID string) (channel, customerID string, ok bool, err error) {
	err = c.queryRow(ctx, `SELECT channel, customer_id FROM order_owners WHERE order_id = ?`, orderID).Scan(&channel, &customerID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	return channel, customerID, err == nil, err
}

// Matching returns the subscriptions (active or disabled: a disabled one
// keeps queueing) of channel that take eventType and see customerID's
// changes. An empty channel matches customer-bound subscriptions of
// customerID in every channel.
func (t *Tx) Matching(ctx context.Context, channel, customerID string, eventType int) ([]*Subscription, error) {
	q := `SELECT ` + subColumns + ` FROM subscriptions WHERE (customer_id = '' OR customer_id = ?)`
	args := []any{customerID}
	if channel != "" {
		q += ` AND channel = ?`
		args = append(args, channel)
	} else {
		q += ` AND customer_id <> ''`
	}
	subs, err := collect(ctx, t.conn, scanSub, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(subs, func(sub *Subscription) bool { return sub.EventTypes&(1<<eventType) == 0 }), nil
}

// Enqueue inserts d (pending, due at once) unless the subscription already
// has the event; it reports whether it inserted.
func (t *Tx) Enqueue(ctx context.Context, d *Delivery) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO deliveries (id, subscription_id, event_id, event_type, resource, ordering_key, position,
 body, event_time, create_time, state, attempts, next_attempt_time)
 VALUES (?,?,?,?,?,?,(SELECT COALESCE(MAX(position), 0) + 1 FROM deliveries),?,?,?,?,0,?)
 ON CONFLICT DO NOTHING`,
		d.ID, d.SubscriptionID, d.EventID, d.EventType, d.Resource, d.OrderingKey, d.Body, micros(d.EventTime),
		micros(d.CreateTime), DeliveryPending, micros(d.NextAttempt))
	if err != nil {
		return false, fmt.Errorf("sqlstore: enqueue: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

const deliveryColumns = `seq, id, subscription_id, event_id, event_type, resource, ordering_key, position, body, event_time,
 create_time, state, attempts, next_attempt_time, deliver_time`

func scanDelivery(r scanner) (*Delivery, error) {
	var d Delivery
	var evt, created, next, delivered int64
	err := r.Scan(&d.Seq, &d.ID, &d.SubscriptionID, &d.EventID, &d.EventType, &d.Resource, &d.OrderingKey, &d.Position,
		&d.Body, &evt, &created, &d.State, &d.Attempts, &next, &delivered)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	d.EventTime, d.CreateTime, d.NextAttempt, d.DeliverTime = fromMicros(evt), fromMicros(created), fromMicros(next), fromMicros(delivered)
	return &d, nil
}

// Next returns the subscription's next delivery to attempt: the pending
// delivery with the lowest position among those that are the head of
// their ordering key. due is false (and d the head) when it is not due
// before now; d is nil when nothing is pending.
func (s *Store) Next(ctx context.Context, subID string, now time.Time) (d *Delivery, due bool, err error) {
	d, err = scanDelivery(s.queryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
 WHERE `+headsOnly+`
 ORDER BY CASE WHEN d.next_attempt_time <= ? THEN 0 ELSE 1 END, d.next_attempt_time, d.position LIMIT 1`,
		subID, DeliveryPending, DeliveryPending, micros(now)))
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return d, !d.NextAttempt.After(now), nil
}

// headsOnly selects the pending deliveries of subscription ? (state ?)
// that are the head of their ordering key (no earlier pending one, state
// ?).
const headsOnly = `d.subscription_id = ? AND d.state = ? AND NOT EXISTS (
   SELECT 1 FROM deliveries e WHERE e.subscription_id = d.subscription_id AND e.ordering_key = d.ordering_key
    AND e.state = ? AND e.position < d.position)`

// Due returns up to limit deliveries of the subscription that are due at
// now and the head of their ordering key, in the order Next would take
// them. They belong to distinct ordering keys, so attempting them one
// after the other, before any of their outcomes is recorded, keeps the
// per-key order.
func (s *Store) Due(ctx context.Context, subID string, now time.Time, limit int) ([]*Delivery, error) {
	return s.deliveries(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
 WHERE `+headsOnly+` AND d.next_attempt_time <= ?
 ORDER BY d.next_attempt_time, d.position LIMIT ?`, subID, DeliveryPending, DeliveryPending, micros(now), limit)
}

// GetDelivery returns a delivery with its attempts.
func (s *Store) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	d, err := scanDelivery(s.queryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if err := s.loadAttempts(ctx, []*Delivery{d}); err != nil {
		return nil, err
	}
	return d, nil
}

// ListDeliveries lists a subscription's deliveries newest first (by
// position) below beforePosition (0: from the newest), with their
// attempts.
func (s *Store) ListDeliveries(ctx context.Context, subID string, beforePosition int64, limit int) ([]*Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE subscription_id = ?`
	args := []any{subID}
	if beforePosition > 0 {
		q += ` AND position < ?`
		args = append(args, beforePosition)
	}
	out, err := s.deliveries(ctx, q+` ORDER BY position DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	return out, s.loadAttempts(ctx, out)
}

func (s *Store) deliveries(ctx context.Context, q string, args ...any) ([]*Delivery, error) {
	return collect(ctx, s.conn, scanDelivery, q, args...)
}

// MaxAttemptsShown bounds the attempts loaded per delivery.
const MaxAttemptsShown = 50

func (s *Store) loadAttempts(ctx context.Context, ds []*Delivery) error {
	for _, d := range ds {
		log, err := s.attempts(ctx, d.ID)
		if err != nil {
			return err
		}
		d.AttemptLog = log
	}
	return nil
}

// attempts returns the last MaxAttemptsShown attempts of a delivery,
// oldest first.
func (s *Store) attempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	rows, err := s.query(ctx, `SELECT attempt, attempt_time, status_code, latency_us, error FROM delivery_attempts
 WHERE delivery_id = ? ORDER BY attempt DESC LIMIT ?`, deliveryID, MaxAttemptsShown)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var at, lat int64
		if err := rows.Scan(&a.Number, &at, &a.StatusCode, &lat, &a.Error); err != nil {
			return nil, err
		}
		a.Time, a.Latency = fromMicros(at), time.Duration(lat)*time.Microsecond
		out = append(out, a)
	}
	slices.Reverse(out)
	return out, rows.Err()
}

// Redeliver makes a delivery pending again, due now, at the end of the
// queue (so after the pending deliveries of its ordering key).
func (s *Store) Redeliver(ctx context.Context, id string, now time.Time) error {
	res, err := s.exec(ctx, `UPDATE deliveries SET state = ?, next_attempt_time = ?, deliver_time = 0,
 position = (SELECT COALESCE(MAX(position), 0) + 1 FROM deliveries) WHERE id = ?`, DeliveryPending, micros(now), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// PruneDeliveries deletes up to limit finished (delivered or failed)
// deliveries created before before, oldest first, with their attempts, in
// one transaction, and returns how many it deleted. Pending deliveries are
// never deleted.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := s.InTx(ctx, func(_ *sql.Tx, t *Tx) error {
		n = 0
		ids, err := collect(ctx, t.conn, func(r scanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		}, `SELECT id FROM deliveries WHERE state IN (?, ?) AND create_time < ? ORDER BY create_time LIMIT ?`,
			DeliveryDelivered, DeliveryFailed, micros(before), limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := t.exec(ctx, `DELETE FROM delivery_attempts WHERE delivery_id = ?`, id); err != nil {
				return err
			}
			if _, err := t.exec(ctx, `DELETE FROM deliveries WHERE id = ?`, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// Outcome is the result of one attempt, applied by RecordAttempt.
type Outcome struct {
	Attempt Attempt
	// Delivered: 2xx. GiveUp: the delivery fails for good (4xx, horizon).
	// Otherwise it is retried at RetryAt.
	Delivered, GiveUp bool
	RetryAt           time.Time
	// CountsAsFailure says whether the attempt adds to the subscription's
	// consecutive failures (false when the breaker skipped the attempt).
	CountsAsFailure bool
}

// AttemptResult says what RecordAttempt changed.
type AttemptResult struct {
	// Failures is the subscription's consecutive failures after the attempt.
	Failures int
}

// RecordAttempt logs an attempt of delivery d and applies its outcome to
// the delivery and the subscription, in tx (the caller adds its outbox
// events there).
func (t *Tx) RecordAttempt(ctx context.Context, d *Delivery, o Outcome) (AttemptResult, error) {
	n := d.Attempts + 1
	if _, err := t.exec(ctx, `INSERT INTO delivery_attempts (delivery_id, attempt, attempt_time, status_code, latency_us, error)
 VALUES (?,?,?,?,?,?)`, d.ID, n, micros(o.Attempt.Time), o.Attempt.StatusCode, o.Attempt.Latency.Microseconds(), o.Attempt.Error); err != nil {
		return AttemptResult{}, fmt.Errorf("sqlstore: attempt: %w", err)
	}
	state, next, delivered := DeliveryPending, micros(o.RetryAt), int64(0)
	switch {
	case o.Delivered:
		state, next, delivered = DeliveryDelivered, 0, micros(o.Attempt.Time)
	case o.GiveUp:
		state, next = DeliveryFailed, 0
	}
	if _, err := t.exec(ctx, `UPDATE deliveries SET state = ?, attempts = ?, next_attempt_time = ?, deliver_time = ? WHERE id = ?`,
		state, n, next, delivered, d.ID); err != nil {
		return AttemptResult{}, err
	}
	var err error
	switch {
	case o.Delivered:
		_, err = t.exec(ctx, `UPDATE subscriptions SET consecutive_failures = 0, last_success_time = ? WHERE id = ?`,
			micros(o.Attempt.Time), d.SubscriptionID)
	case o.CountsAsFailure:
		_, err = t.exec(ctx, `UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1 WHERE id = ?`, d.SubscriptionID)
	}
	if err != nil {
		return AttemptResult{}, err
	}
	var res AttemptResult
	err = t.queryRow(ctx, `SELECT consecutive_failures FROM subscriptions WHERE id = ?`, d.SubscriptionID).Scan(&res.Failures)
	return res, err
}

// Postpone moves a delivery's next attempt without logging an attempt
// (the target's breaker is open).
func (t *Tx) Postpone(ctx context.Context, id string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE deliveries SET next_attempt_time = ? WHERE id = ? AND state = ?`, micros(at), id, DeliveryPending)
	return err
}

// Disable disables an active subscription; ok is false when it was not
// active (so the caller raises one exception only).
func (t *Tx) Disable(ctx context.Context, id, message string) (bool, error) {
	if len(message) > 500 {
		message = message[:500]
	}
	res, err := t.exec(ctx, `UPDATE subscriptions SET state = ?, state_message = ? WHERE id = ? AND state = ?`,
		SubDisabled, strings.ToValidUTF8(message, "?"), id, SubActive)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
