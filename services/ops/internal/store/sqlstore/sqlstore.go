// Package sqlstore stores the ops service's desk in its own SQL database
// (SQLite or PostgreSQL through platform/sqldb): exceptions and their
// history, dead letters, the append-only audit index and the results of
// idempotent requests. The same SQL runs on both engines; times are stored
// as UTC Unix microseconds, JSON objects as text.
//
// The audit index has no update or delete path here, and the migration
// gives audit_records triggers that refuse UPDATE and DELETE on both
// engines (and TRUNCATE on PostgreSQL).
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/ops/internal/desk"
)

// MigrationSet is the migration set of the ops tables.
const MigrationSet = "ops"

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades every table the service needs: its own and
// the processed-event table of platform/events (its consumers' dedupe).
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
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

// Store is the ops store. It is safe for concurrent use.
type Store struct {
	conn
	db *sqldb.DB
}

var _ desk.Store = (*Store)(nil)

// New returns a store over db (migrated with Migrate).
func New(db *sqldb.DB) *Store {
	return &Store{conn: conn{q: db.SQL(), d: db.Dialect()}, db: db}
}

// Tx is a read-write transaction of the store.
type Tx struct {
	conn
}

var _ desk.Tx = (*Tx)(nil)

// InTx implements desk.Store (see sqldb.DB.InTx for the retries).
func (s *Store) InTx(ctx context.Context, fn func(tx desk.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return fn(s.Bind(tx)) })
}

// Bind returns the store's view of a transaction opened elsewhere on its
// database (an events consumer's).
func (s *Store) Bind(tx *sql.Tx) desk.Tx {
	lock := ""
	if s.d == sqldb.Postgres {
		lock = " FOR UPDATE"
	}
	return &Tx{conn: conn{q: tx, d: s.d, lock: lock}}
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

// encodeObject returns a JSON object as column text; nil is "".
func encodeObject(m map[string]any) (string, error) {
	if m == nil {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode JSON object: %w", err)
	}
	return string(b), nil
}

// decodeObject reads a column written by encodeObject.
func decodeObject(text string) (map[string]any, error) {
	if text == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("sqlstore: decode JSON object: %w", err)
	}
	return m, nil
}

// notFound turns sql.ErrNoRows into desk.ErrNotFound and wraps other
// errors with what was being done.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return desk.ErrNotFound
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

// where collects the conditions of a list query.
type where struct {
	conds []string
	args  []any
}

// add adds cond with its args when ok.
func (w *where) add(ok bool, cond string, args ...any) {
	if ok {
		w.conds = append(w.conds, cond)
		w.args = append(w.args, args...)
	}
}

// filter adds the list conditions cs, on the columns cols maps their
// fields to. A field or value outside the list's declaration is the
// caller's mistake and an error.
func (w *where) filter(cols map[string]string, cs []desk.Cond) error {
	for _, c := range cs {
		col, ok := cols[c.Field]
		if !ok {
			return fmt.Errorf("sqlstore: cannot filter on %q", c.Field)
		}
		switch c.Op {
		case desk.OpEq, desk.OpNe, desk.OpLt, desk.OpLe, desk.OpGt, desk.OpGe:
		default:
			return fmt.Errorf("sqlstore: unknown comparison %q on %q", c.Op, c.Field)
		}
		var v any
		switch x := c.Value.(type) {
		case string:
			v = x
		case int32:
			v = int64(x)
		case time.Time:
			v = us(x)
		default:
			return fmt.Errorf("sqlstore: %q cannot compare with a %T", c.Field, c.Value)
		}
		w.add(true, col+" "+string(c.Op)+" ?", v)
	}
	return nil
}

// clause returns the WHERE clause ("" without conditions).
func (w *where) clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// keyset adds the condition "after (vals...)" in the order of cols, all
// sorted in one direction: the rows after the last row of the previous
// page.
func (w *where) keyset(desc bool, cols []string, vals []any) {
	cmp := ">"
	if desc {
		cmp = "<"
	}
	// (a < ? OR (a = ? AND (b < ? OR (b = ? AND c < ?))))
	var b strings.Builder
	var args []any
	for i, col := range cols {
		if i == len(cols)-1 {
			fmt.Fprintf(&b, "%s %s ?", col, cmp)
			args = append(args, vals[i])
			break
		}
		fmt.Fprintf(&b, "(%s %s ? OR (%s = ? AND ", col, cmp, col)
		args = append(args, vals[i], vals[i])
	}
	b.WriteString(strings.Repeat("))", len(cols)-1))
	w.add(true, "("+b.String()+")", args...)
}

// order returns the ORDER BY clause over cols in one direction and the
// LIMIT, adding limit to the arguments.
func (w *where) order(desc bool, cols []string, limit int) string {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + dir
	}
	w.args = append(w.args, limit)
	return " ORDER BY " + strings.Join(parts, ", ") + " LIMIT ?"
}
