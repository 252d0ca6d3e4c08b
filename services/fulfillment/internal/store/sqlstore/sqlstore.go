// Package sqlstore stores the fulfillment service's data in its own SQL
// database (SQLite or PostgreSQL through platform/sqldb): fulfilment
// requests, shipments, the WMS events seen with their outcomes, the WMS
// feed cursors, the cancellations and the durable queue of outbound side
// effects. The same SQL runs on both engines; times are stored as UTC Unix
// microseconds.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// MigrationSet is the migration set of the fulfillment tables.
const MigrationSet = "fulfillment"

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades every table the service needs: its own, the
// outbox's and the processed-event table of platform/events.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return events.Migrate(ctx, db)
}

// querier is what reads and writes go through: the *sql.DB of a Store or
// the *sql.Tx of a Tx.
type querier interface {
	sqldb.Querier
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// conn holds the reads a Store and a Tx share; inside a PostgreSQL
// transaction they lock the rows they return (lock is " FOR UPDATE").
type conn struct {
	q    querier
	d    sqldb.Dialect
	lock string
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.d.Rebind(query), args...)
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.d.Rebind(query), args...)
}

// Store is the fulfillment store. It is safe for concurrent use.
type Store struct {
	conn
	db *sqldb.DB
}

var _ fulfillment.Store = (*Store)(nil)

// New returns a store over db (migrated with Migrate).
func New(db *sqldb.DB) *Store {
	return &Store{conn: conn{q: db.SQL(), d: db.Dialect()}, db: db}
}

// Tx is a read-write transaction of the store.
type Tx struct {
	conn
	tx *sql.Tx
	// requests are the request rows this transaction read, as its own
	// writes left them (see GetRequest).
	requests map[string]requestRow
	// shipments are the shipment rows it read or wrote, by id, as its
	// own writes left them (see FindShipment).
	shipments map[string]shipmentRow
	// wmsEvents are the WMS events PrefetchWMSEvents looked up (nil: not
	// recorded), kept current by RecordWMSEvent.
	wmsEvents map[wmsEventKey]*fulfillment.WMSEventRecord
}

var _ fulfillment.Tx = (*Tx)(nil)

// InTx implements fulfillment.Store (see sqldb.DB.InTx for the retries).
func (s *Store) InTx(ctx context.Context, fn func(tx fulfillment.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return fn(s.Bind(tx)) })
}

// Bind returns the store's view of a transaction opened elsewhere on its
// database (an events consumer's).
func (s *Store) Bind(tx *sql.Tx) fulfillment.Tx {
	lock := ""
	if s.d == sqldb.Postgres {
		lock = " FOR UPDATE"
	}
	return &Tx{conn: conn{q: tx, d: s.d, lock: lock}, tx: tx}
}

// WriteEvent implements fulfillment.Tx: the event and what it tells the
// operations plane (fulfillmentpb.Events) go to the outbox together.
func (t *Tx) WriteEvent(ctx context.Context, ev fulfillment.Event) error {
	return t.WriteEvents(ctx, []fulfillment.Event{ev})
}

// WriteEvents implements fulfillment.Tx: the outbox events of all evs, in
// order, in one outbox.WriteBatch.
func (t *Tx) WriteEvents(ctx context.Context, evs []fulfillment.Event) error {
	var all []outbox.Event
	for _, ev := range evs {
		oes, err := fulfillmentpb.Events(ev)
		if err != nil {
			return err
		}
		all = append(all, oes...)
	}
	_, err := outbox.WriteBatch(ctx, t.tx, t.d, all)
	return err
}

// inTx runs one statement in its own transaction, so SQLite writers queue
// on the in-process writer lock.
func (s *Store) inTx(ctx context.Context, query string, args ...any) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(query), args...)
		return err
	})
}

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UTC().UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// encodeJSON returns v as JSON text for a column.
func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode %T: %w", v, err)
	}
	return string(b), nil
}

// jsonColumn is a JSON text column read into dst.
type jsonColumn struct {
	name, text string
	dst        any
}

// decodeJSON decodes the JSON columns of row.
func decodeJSON(row string, cols ...jsonColumn) error {
	for _, c := range cols {
		if err := json.Unmarshal([]byte(c.text), c.dst); err != nil {
			return fmt.Errorf("decode %s of %s: %w", c.name, row, err)
		}
	}
	return nil
}
