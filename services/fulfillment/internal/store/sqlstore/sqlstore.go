// Package sqlstore stores the fulfillment service's data in its own SQL
// database (SQLite or PostgreSQL through platform/sqldb): fulfilment
// requests, shipments, the WMS events seen with their outcomes, the WMS
// feed cursors and the durable queue of outbound side effects. The same
// SQL runs on both engines; times are stored as UTC Unix microseconds.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

// MigrationSet is the migration set of the fulfillment tables.
const MigrationSet = "fulfillment"

//go:embed migrations
var migrationFiles embed.FS

// Migrate creates or upgrades every table the service needs: its own, the
// outbox's and the processed-event table of platform/events.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	sqliteFS, err := fs.Sub(migrationFiles, "migrations/sqlite")
	if err != nil {
		return err
	}
	pgFS, err := fs.Sub(migrationFiles, "migrations/postgres")
	if err != nil {
		return err
	}
	if err := sqldb.MigrateDialect(ctx, db, MigrationSet, sqliteFS, pgFS); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return events.Migrate(ctx, db)
}

// ErrConflict means a row changed between read and update (optimistic
// concurrency); the caller retries from a fresh read.
var ErrConflict = errors.New("sqlstore: concurrent modification")

// Store is the fulfillment store. It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
}

// New returns a store over db (migrated with Migrate).
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// DB returns the underlying database.
func (s *Store) DB() *sqldb.DB { return s.db }

// Tx is a read-write transaction of the store.
type Tx struct {
	tx *sql.Tx
	d  sqldb.Dialect
}

// InTx runs fn in a read-write transaction (see sqldb.DB.InTx: fn may run
// more than once and must not have outside effects).
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return fn(s.Bind(tx)) })
}

// Bind wraps a transaction opened elsewhere (an events consumer's) on the
// store's database.
func (s *Store) Bind(tx *sql.Tx) *Tx { return &Tx{tx: tx, d: s.db.Dialect()} }

// SQL returns the raw transaction.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// Dialect returns the engine of the transaction.
func (t *Tx) Dialect() sqldb.Dialect { return t.d }

// WriteEvent stores ev in the outbox as part of the transaction.
func (t *Tx) WriteEvent(ctx context.Context, ev outbox.Event) error {
	_, err := outbox.Write(ctx, t.tx, t.d, ev)
	return err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
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

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs and slices are marshalled here.
		panic(fmt.Sprintf("sqlstore: marshal %T: %v", v, err))
	}
	return string(b)
}
