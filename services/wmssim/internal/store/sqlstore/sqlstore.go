// Package sqlstore is the simulator's wms.Store on database/sql, one
// implementation for both SQLite and PostgreSQL (the SQL is shared; only
// the migrations and the row-lock clause differ per engine).
//
// Shipment requests and expected returns are stored the same way (records.go):
// the whole domain record as JSON in a record column, next to the columns
// queries filter or sort on, with one create-or-replay and one
// read-modify-write path that appends the record's feed events in the same
// transaction.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
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
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
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

// How each record and event kind is stored.
var (
	shipmentRequests = recordKind[wms.ShipmentRequest]{
		table: "shipment_requests", counter: "shipment_requests", notFound: wms.ErrShipmentRequestNotFound,
		cols: []string{"state", "next_step_at", "update_time"},
		values: func(r *wms.ShipmentRequest) []any {
			return []any{string(r.State), nullTime(r.NextStepAt), r.UpdateTime.UTC()}
		},
		head: func(r *wms.ShipmentRequest) recordHead {
			return recordHead{ID: &r.ID, Number: &r.Number, Submissions: &r.Submissions, CreateTime: r.CreateTime}
		},
	}
	shipmentEvents = eventKind[wms.ShipmentEvent]{
		table: "shipment_events", counter: "shipment_events", parent: "shipment_request_id",
		cols: []string{"event_id", "sequence", "state", "occur_time"},
		values: func(ev wms.ShipmentEvent) []any {
			return []any{ev.EventID, ev.Sequence, string(ev.State), ev.OccurTime.UTC()}
		},
		position: func(ev *wms.ShipmentEvent) *int64 { return &ev.Position },
	}
	expectedReturns = recordKind[wms.ExpectedReturn]{
		table: "expected_returns", counter: "expected_returns", notFound: wms.ErrExpectedReturnNotFound,
		cols: []string{"state", "receive_at", "update_time"},
		values: func(r *wms.ExpectedReturn) []any {
			return []any{string(r.State), nullTime(r.ReceiveAt), r.UpdateTime.UTC()}
		},
		head: func(r *wms.ExpectedReturn) recordHead {
			return recordHead{ID: &r.ID, Number: &r.Number, Submissions: &r.Submissions, CreateTime: r.CreateTime}
		},
	}
	returnEvents = eventKind[wms.ReturnEvent]{
		table: "return_events", counter: "return_events", parent: "expected_return_id",
		cols: []string{"event_id", "sequence", "occur_time"},
		values: func(ev wms.ReturnEvent) []any {
			return []any{ev.EventID, ev.Sequence, ev.OccurTime.UTC()}
		},
		position: func(ev *wms.ReturnEvent) *int64 { return &ev.Position },
	}
)

// CreateShipmentRequest implements wms.Store.
func (s *Store) CreateShipmentRequest(ctx context.Context, id string, build func(number int64) (wms.ShipmentRequest, error)) (wms.ShipmentRequest, bool, error) {
	return createRecord(ctx, s, shipmentRequests, id, build)
}

// GetShipmentRequest implements wms.Store.
func (s *Store) GetShipmentRequest(ctx context.Context, id string) (wms.ShipmentRequest, error) {
	return getRecord(ctx, s, shipmentRequests, id)
}

// UpdateShipmentRequest implements wms.Store.
func (s *Store) UpdateShipmentRequest(ctx context.Context, id string, fn func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error)) (wms.ShipmentRequest, error) {
	return updateRecord(ctx, s, shipmentRequests, shipmentEvents, id, fn)
}

// UpdateShipmentRequests implements wms.Store: the requests are updated
// one after another in a single transaction, so a progression round costs
// one commit (one fsync) however many requests reached a milestone.
func (s *Store) UpdateShipmentRequests(ctx context.Context, ids []string, fn func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error)) ([]wms.ShipmentEvent, error) {
	var out []wms.ShipmentEvent
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = out[:0] // InTx may run this again
		for _, id := range ids {
			_, evs, err := updateRecordTx(ctx, s, tx, shipmentRequests, shipmentEvents, id, fn)
			if err != nil {
				return err
			}
			out = append(out, evs...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListShipmentRequests implements wms.Store.
func (s *Store) ListShipmentRequests(ctx context.Context) ([]wms.ShipmentRequest, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), `SELECT record FROM shipment_requests ORDER BY number`, nil, scanRecord[wms.ShipmentRequest])
	if err != nil {
		return nil, fmt.Errorf("list shipment requests: %w", err)
	}
	return out, nil
}

// DueShipmentRequests implements wms.Store.
func (s *Store) DueShipmentRequests(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := sqldb.QueryAll(ctx, s.db.SQL(), s.db.Rebind(`SELECT id FROM shipment_requests
		WHERE next_step_at IS NOT NULL AND next_step_at <= ? ORDER BY next_step_at, number LIMIT ?`),
		[]any{now.UTC(), limit}, sqldb.ScanValue[string])
	if err != nil {
		return nil, fmt.Errorf("due shipment requests: %w", err)
	}
	return ids, nil
}

// ShipmentEvents implements wms.Store.
func (s *Store) ShipmentEvents(ctx context.Context, after int64, limit int) ([]wms.ShipmentEvent, error) {
	return readEvents(ctx, s, shipmentEvents, after, limit)
}

// ShipmentEventHead implements wms.Store.
func (s *Store) ShipmentEventHead(ctx context.Context) (int64, error) {
	return s.head(ctx, shipmentEvents.counter)
}

// CreateExpectedReturn implements wms.Store.
func (s *Store) CreateExpectedReturn(ctx context.Context, id string, build func(number int64) (wms.ExpectedReturn, error)) (wms.ExpectedReturn, bool, error) {
	return createRecord(ctx, s, expectedReturns, id, build)
}

// GetExpectedReturn implements wms.Store.
func (s *Store) GetExpectedReturn(ctx context.Context, id string) (wms.ExpectedReturn, error) {
	return getRecord(ctx, s, expectedReturns, id)
}

// UpdateExpectedReturn implements wms.Store.
func (s *Store) UpdateExpectedReturn(ctx context.Context, id string, fn func(r *wms.ExpectedReturn) ([]wms.ReturnEvent, error)) (wms.ExpectedReturn, error) {
	return updateRecord(ctx, s, expectedReturns, returnEvents, id, fn)
}

// DueExpectedReturns implements wms.Store.
func (s *Store) DueExpectedReturns(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := sqldb.QueryAll(ctx, s.db.SQL(), s.db.Rebind(`SELECT id FROM expected_returns
		WHERE receive_at IS NOT NULL AND receive_at <= ? ORDER BY receive_at, number LIMIT ?`),
		[]any{now.UTC(), limit}, sqldb.ScanValue[string])
	if err != nil {
		return nil, fmt.Errorf("due expected returns: %w", err)
	}
	return ids, nil
}

// ReturnEvents implements wms.Store.
func (s *Store) ReturnEvents(ctx context.Context, after int64, limit int) ([]wms.ReturnEvent, error) {
	return readEvents(ctx, s, returnEvents, after, limit)
}

// ReturnEventHead implements wms.Store.
func (s *Store) ReturnEventHead(ctx context.Context) (int64, error) {
	return s.head(ctx, returnEvents.counter)
}

// next takes the next value of counter in wms_counters, locking its row
// until tx ends.
func (s *Store) next(ctx context.Context, tx *sql.Tx, counter string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, s.db.Rebind(
		`UPDATE wms_counters SET last_value = last_value + 1 WHERE name = ? RETURNING last_value`), counter).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next %s: %w", counter, err)
	}
	return v, nil
}

// head returns the last value counter handed out.
func (s *Store) head(ctx context.Context, counter string) (int64, error) {
	var v int64
	err := s.db.SQL().QueryRowContext(ctx, s.db.Rebind(`SELECT last_value FROM wms_counters WHERE name = ?`), counter).Scan(&v)
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
