// Package sqlstore is the simulator's wms.Store on database/sql, one
// implementation for both SQLite and PostgreSQL (the SQL is shared; only
// the migrations and the row-lock clause differ per engine).
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

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

//go:embed migrations
var migrations embed.FS

// MigrationSet names the simulator's migrations in schema_migrations.
const MigrationSet = "wmssim"

// Migrate brings db's schema up to date.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	sqliteFS, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		return err
	}
	postgresFS, err := fs.Sub(migrations, "migrations/postgres")
	if err != nil {
		return err
	}
	return sqldb.MigrateDialect(ctx, db, MigrationSet, sqliteFS, postgresFS)
}

// Store is the wms.Store on a sqldb.DB.
type Store struct {
	db *sqldb.DB
	// forUpdate locks a loaded row until commit on PostgreSQL; SQLite's
	// BEGIN IMMEDIATE already serialises writers.
	forUpdate string
}

var _ wms.Store = (*Store)(nil)

// New returns a Store on db, which must be migrated (see Migrate).
func New(db *sqldb.DB) *Store {
	s := &Store{db: db}
	if db.Dialect() == sqldb.Postgres {
		s.forUpdate = " FOR UPDATE"
	}
	return s
}

// Counter names in wms_counters.
const (
	counterShipmentRequests = "shipment_requests"
	counterShipmentEvents   = "shipment_events"
	counterExpectedReturns  = "expected_returns"
	counterReturnEvents     = "return_events"
)

func (s *Store) next(ctx context.Context, tx *sql.Tx, counter string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, s.db.Rebind(
		`UPDATE wms_counters SET last_value = last_value + 1 WHERE name = ? RETURNING last_value`), counter).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next %s: %w", counter, err)
	}
	return v, nil
}

func (s *Store) head(ctx context.Context, counter string) (int64, error) {
	var v int64
	err := s.db.SQL().QueryRowContext(ctx, s.db.Rebind(
		`SELECT last_value FROM wms_counters WHERE name = ?`), counter).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("head %s: %w", counter, err)
	}
	return v, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func decode[T any](raw string) (T, error) {
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("decode record: %w", err)
	}
	return v, nil
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode record: %w", err)
	}
	return string(b), nil
}

// loadRecord reads the record column of the row with id in table, locked
// for update on PostgreSQL; found is false when there is none.
func (s *Store) loadRecord(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table, id string, lock bool) (raw string, found bool, err error) {
	query := `SELECT record FROM ` + table + ` WHERE id = ?`
	if lock {
		query += s.forUpdate
	}
	err = q.QueryRowContext(ctx, s.db.Rebind(query), id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("load %s %s: %w", table, id, err)
	}
	return raw, true, nil
}

// CreateShipmentRequest implements wms.Store.
func (s *Store) CreateShipmentRequest(ctx context.Context, id string, build func(number int64) (wms.ShipmentRequest, error)) (wms.ShipmentRequest, bool, error) {
	var (
		out     wms.ShipmentRequest
		created bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		created = false
		raw, found, err := s.loadRecord(ctx, tx, "shipment_requests", id, true)
		if err != nil {
			return err
		}
		if found {
			if out, err = decode[wms.ShipmentRequest](raw); err != nil {
				return err
			}
			out.Submissions++
			return s.writeShipmentRequest(ctx, tx, out)
		}
		number, err := s.next(ctx, tx, counterShipmentRequests)
		if err != nil {
			return err
		}
		if out, err = build(number); err != nil {
			return err
		}
		out.ID, out.Number, out.Submissions = id, number, 1
		rec, err := encode(out)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO shipment_requests
			(id, number, state, next_step_at, create_time, update_time, record) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			out.ID, out.Number, string(out.State), nullTime(out.NextStepAt), out.CreateTime.UTC(), out.UpdateTime.UTC(), rec)
		if sqldb.IsUniqueViolation(err) {
			return wms.ErrDuplicateKey
		}
		if err != nil {
			return fmt.Errorf("insert shipment request %s: %w", id, err)
		}
		created = true
		return nil
	})
	if err != nil {
		return wms.ShipmentRequest{}, false, err
	}
	return out, created, nil
}

func (s *Store) writeShipmentRequest(ctx context.Context, tx *sql.Tx, r wms.ShipmentRequest) error {
	rec, err := encode(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE shipment_requests
		SET state = ?, next_step_at = ?, update_time = ?, record = ? WHERE id = ?`),
		string(r.State), nullTime(r.NextStepAt), r.UpdateTime.UTC(), rec, r.ID)
	if err != nil {
		return fmt.Errorf("update shipment request %s: %w", r.ID, err)
	}
	return nil
}

// GetShipmentRequest implements wms.Store.
func (s *Store) GetShipmentRequest(ctx context.Context, id string) (wms.ShipmentRequest, error) {
	return getRecord[wms.ShipmentRequest](ctx, s, "shipment_requests", id, wms.ErrShipmentRequestNotFound)
}

// UpdateShipmentRequest implements wms.Store.
func (s *Store) UpdateShipmentRequest(ctx context.Context, id string, fn func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error)) (wms.ShipmentRequest, error) {
	return updateRecord(ctx, s, "shipment_requests", id, wms.ErrShipmentRequestNotFound, fn,
		func(ctx context.Context, tx *sql.Tx, r *wms.ShipmentRequest) error {
			r.ID = id
			return s.writeShipmentRequest(ctx, tx, *r)
		},
		func(ctx context.Context, tx *sql.Tx, ev wms.ShipmentEvent) error {
			pos, err := s.next(ctx, tx, counterShipmentEvents)
			if err != nil {
				return err
			}
			rec, err := encode(ev)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO shipment_events
				(position, event_id, shipment_request_id, sequence, state, occur_time, record) VALUES (?, ?, ?, ?, ?, ?, ?)`),
				pos, ev.EventID, id, ev.Sequence, string(ev.State), ev.OccurTime.UTC(), rec)
			if err != nil {
				return fmt.Errorf("insert shipment event %s: %w", ev.EventID, err)
			}
			return nil
		})
}

// ListShipmentRequests implements wms.Store.
func (s *Store) ListShipmentRequests(ctx context.Context) ([]wms.ShipmentRequest, error) {
	rows, err := s.db.SQL().QueryContext(ctx, `SELECT record FROM shipment_requests ORDER BY number`)
	if err != nil {
		return nil, fmt.Errorf("list shipment requests: %w", err)
	}
	return collect(rows, func(raw string, _ int64) (wms.ShipmentRequest, error) {
		return decode[wms.ShipmentRequest](raw)
	})
}

// DueShipmentRequests implements wms.Store.
func (s *Store) DueShipmentRequests(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(`SELECT id FROM shipment_requests
		WHERE next_step_at IS NOT NULL AND next_step_at <= ? ORDER BY next_step_at, number LIMIT ?`), now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("due shipment requests: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("due shipment requests: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due shipment requests: %w", err)
	}
	return ids, nil
}

// ShipmentEvents implements wms.Store.
func (s *Store) ShipmentEvents(ctx context.Context, after int64, limit int) ([]wms.ShipmentEvent, error) {
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(`SELECT record, position FROM shipment_events
		WHERE position > ? ORDER BY position LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("shipment events: %w", err)
	}
	return collect(rows, func(raw string, pos int64) (wms.ShipmentEvent, error) {
		ev, err := decode[wms.ShipmentEvent](raw)
		ev.Position = pos
		return ev, err
	})
}

// ShipmentEventHead implements wms.Store.
func (s *Store) ShipmentEventHead(ctx context.Context) (int64, error) {
	return s.head(ctx, counterShipmentEvents)
}

// CreateExpectedReturn implements wms.Store.
func (s *Store) CreateExpectedReturn(ctx context.Context, id string, build func(number int64) (wms.ExpectedReturn, error)) (wms.ExpectedReturn, bool, error) {
	var (
		out     wms.ExpectedReturn
		created bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		created = false
		raw, found, err := s.loadRecord(ctx, tx, "expected_returns", id, true)
		if err != nil {
			return err
		}
		if found {
			if out, err = decode[wms.ExpectedReturn](raw); err != nil {
				return err
			}
			out.Submissions++
			return s.writeExpectedReturn(ctx, tx, out)
		}
		number, err := s.next(ctx, tx, counterExpectedReturns)
		if err != nil {
			return err
		}
		if out, err = build(number); err != nil {
			return err
		}
		out.ID, out.Number, out.Submissions = id, number, 1
		rec, err := encode(out)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO expected_returns
			(id, number, state, create_time, update_time, record) VALUES (?, ?, ?, ?, ?, ?)`),
			out.ID, out.Number, string(out.State), out.CreateTime.UTC(), out.UpdateTime.UTC(), rec)
		if sqldb.IsUniqueViolation(err) {
			return wms.ErrDuplicateKey
		}
		if err != nil {
			return fmt.Errorf("insert expected return %s: %w", id, err)
		}
		created = true
		return nil
	})
	if err != nil {
		return wms.ExpectedReturn{}, false, err
	}
	return out, created, nil
}

func (s *Store) writeExpectedReturn(ctx context.Context, tx *sql.Tx, r wms.ExpectedReturn) error {
	rec, err := encode(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE expected_returns
		SET state = ?, update_time = ?, record = ? WHERE id = ?`),
		string(r.State), r.UpdateTime.UTC(), rec, r.ID)
	if err != nil {
		return fmt.Errorf("update expected return %s: %w", r.ID, err)
	}
	return nil
}

// GetExpectedReturn implements wms.Store.
func (s *Store) GetExpectedReturn(ctx context.Context, id string) (wms.ExpectedReturn, error) {
	return getRecord[wms.ExpectedReturn](ctx, s, "expected_returns", id, wms.ErrExpectedReturnNotFound)
}

// UpdateExpectedReturn implements wms.Store.
func (s *Store) UpdateExpectedReturn(ctx context.Context, id string, fn func(r *wms.ExpectedReturn) ([]wms.ReturnEvent, error)) (wms.ExpectedReturn, error) {
	return updateRecord(ctx, s, "expected_returns", id, wms.ErrExpectedReturnNotFound, fn,
		func(ctx context.Context, tx *sql.Tx, r *wms.ExpectedReturn) error {
			r.ID = id
			return s.writeExpectedReturn(ctx, tx, *r)
		},
		func(ctx context.Context, tx *sql.Tx, ev wms.ReturnEvent) error {
			pos, err := s.next(ctx, tx, counterReturnEvents)
			if err != nil {
				return err
			}
			rec, err := encode(ev)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO return_events
				(position, event_id, expected_return_id, sequence, occur_time, record) VALUES (?, ?, ?, ?, ?, ?)`),
				pos, ev.EventID, id, ev.Sequence, ev.OccurTime.UTC(), rec)
			if err != nil {
				return fmt.Errorf("insert return event %s: %w", ev.EventID, err)
			}
			return nil
		})
}

// getRecord reads and decodes one JSON record of table by id; notFound is
// returned when there is none.
func getRecord[T any](ctx context.Context, s *Store, table, id string, notFound error) (T, error) {
	var zero T
	raw, found, err := s.loadRecord(ctx, s.db.SQL(), table, id, false)
	if err != nil {
		return zero, err
	}
	if !found {
		return zero, notFound
	}
	return decode[T](raw)
}

// updateRecord is the one read-modify-write path for records that emit feed
// events: in a single transaction it locks and decodes the record, lets fn
// change it, writes it back and appends the events fn returned, so a
// record's state and its feed never disagree.
func updateRecord[T, E any](ctx context.Context, s *Store, table, id string, notFound error,
	fn func(*T) ([]E, error),
	write func(context.Context, *sql.Tx, *T) error,
	appendEvent func(context.Context, *sql.Tx, E) error,
) (T, error) {
	var out, zero T
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		raw, found, err := s.loadRecord(ctx, tx, table, id, true)
		if err != nil {
			return err
		}
		if !found {
			return notFound
		}
		r, err := decode[T](raw)
		if err != nil {
			return err
		}
		evs, err := fn(&r)
		if err != nil {
			return err
		}
		if err := write(ctx, tx, &r); err != nil {
			return err
		}
		for _, ev := range evs {
			if err := appendEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	if err != nil {
		return zero, err
	}
	return out, nil
}

// ReturnEvents implements wms.Store.
func (s *Store) ReturnEvents(ctx context.Context, after int64, limit int) ([]wms.ReturnEvent, error) {
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(`SELECT record, position FROM return_events
		WHERE position > ? ORDER BY position LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("return events: %w", err)
	}
	return collect(rows, func(raw string, pos int64) (wms.ReturnEvent, error) {
		ev, err := decode[wms.ReturnEvent](raw)
		ev.Position = pos
		return ev, err
	})
}

// ReturnEventHead implements wms.Store.
func (s *Store) ReturnEventHead(ctx context.Context) (int64, error) {
	return s.head(ctx, counterReturnEvents)
}

// collect scans rows of (record[, position]) through conv and closes rows.
func collect[T any](rows *sql.Rows, conv func(raw string, pos int64) (T, error)) ([]T, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []T
	for rows.Next() {
		var (
			raw string
			pos int64
		)
		dest := []any{&raw}
		if len(cols) > 1 {
			dest = append(dest, &pos)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		v, err := conv(raw, pos)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	return out, nil
}
