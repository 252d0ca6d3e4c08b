package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

const requestColumns = `id, order_id, customer_id, warehouse_id, ship_to, lines, state, wms_reference,
	attempt_count, last_error, reservation_id, source_event_id, cancel_reason, customer_po,
	create_us, update_us, acknowledge_us, next_attempt_us, retry_request_id, retry_fingerprint, version`

func scanRequest(row interface{ Scan(...any) error }) (*fulfillment.Request, error) {
	var (
		r                                 fulfillment.Request
		shipTo, lines                     string
		state, attempts                   int64
		createUS, updateUS, ackUS, nextUS int64
	)
	err := row.Scan(&r.ID, &r.OrderID, &r.CustomerID, &r.WarehouseID, &shipTo, &lines, &state, &r.WMSReference,
		&attempts, &r.LastError, &r.ReservationID, &r.SourceEventID, &r.CancelReason, &r.CustomerPO,
		&createUS, &updateUS, &ackUS, &nextUS, &r.RetryRequestID, &r.RetryFingerprint, &r.Version)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(shipTo), &r.ShipTo); err != nil {
		return nil, fmt.Errorf("decode ship_to of %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(lines), &r.Lines); err != nil {
		return nil, fmt.Errorf("decode lines of %s: %w", r.ID, err)
	}
	r.State = fulfillment.RequestState(state)
	r.AttemptCount = int(attempts)
	r.CreateTime, r.UpdateTime = fromUS(createUS), fromUS(updateUS)
	r.AcknowledgeTime, r.NextAttemptTime = fromUS(ackUS), fromUS(nextUS)
	return &r, nil
}

// InsertRequest creates r unless a request with its id exists; created
// reports which. Version is set to 1.
func (t *Tx) InsertRequest(ctx context.Context, r *fulfillment.Request) (created bool, err error) {
	res, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		INSERT INTO fulfillment_requests (`+requestColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (id) DO NOTHING`),
		r.ID, r.OrderID, r.CustomerID, r.WarehouseID, mustJSON(r.ShipTo), mustJSON(r.Lines), int64(r.State),
		r.WMSReference, r.AttemptCount, r.LastError, r.ReservationID, r.SourceEventID, r.CancelReason, r.CustomerPO,
		us(r.CreateTime), us(r.UpdateTime), us(r.AcknowledgeTime), us(r.NextAttemptTime), r.RetryRequestID, r.RetryFingerprint)
	if err != nil {
		return false, fmt.Errorf("insert fulfillment request %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 {
		r.Version = 1
	}
	return n == 1, nil
}

// GetRequest reads a request inside the transaction, locking its row on
// PostgreSQL. It returns fulfillment.ErrRequestNotFound when absent.
func (t *Tx) GetRequest(ctx context.Context, id string) (*fulfillment.Request, error) {
	q := `SELECT ` + requestColumns + ` FROM fulfillment_requests WHERE id = ?`
	if t.d == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	return getRequest(ctx, t.tx, t.d, q, id)
}

// GetRequest reads a request; fulfillment.ErrRequestNotFound when absent.
func (s *Store) GetRequest(ctx context.Context, id string) (*fulfillment.Request, error) {
	return getRequest(ctx, s.db.SQL(), s.db.Dialect(),
		`SELECT `+requestColumns+` FROM fulfillment_requests WHERE id = ?`, id)
}

func getRequest(ctx context.Context, q querier, d sqldb.Dialect, query, id string) (*fulfillment.Request, error) {
	r, err := scanRequest(q.QueryRowContext(ctx, d.Rebind(query), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", fulfillment.ErrRequestNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get fulfillment request %s: %w", id, err)
	}
	return r, nil
}

// UpdateRequest writes r if its Version is still the stored one and
// increments Version; otherwise ErrConflict.
func (t *Tx) UpdateRequest(ctx context.Context, r *fulfillment.Request) error {
	res, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		UPDATE fulfillment_requests SET lines = ?, state = ?, wms_reference = ?, attempt_count = ?, last_error = ?,
			cancel_reason = ?, update_us = ?, acknowledge_us = ?, next_attempt_us = ?, retry_request_id = ?,
			retry_fingerprint = ?, version = version + 1
		WHERE id = ? AND version = ?`),
		mustJSON(r.Lines), int64(r.State), r.WMSReference, r.AttemptCount, r.LastError,
		r.CancelReason, us(r.UpdateTime), us(r.AcknowledgeTime), us(r.NextAttemptTime), r.RetryRequestID,
		r.RetryFingerprint, r.ID, r.Version)
	if err != nil {
		return fmt.Errorf("update fulfillment request %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: fulfillment request %s version %d", ErrConflict, r.ID, r.Version)
	}
	r.Version++
	return nil
}

// DueRequests returns up to limit requests waiting for delivery to the WMS
// (PENDING or SENT_TO_WMS) whose next attempt is due at now, oldest first.
func (s *Store) DueRequests(ctx context.Context, now time.Time, limit int) ([]*fulfillment.Request, error) {
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(`
		SELECT `+requestColumns+` FROM fulfillment_requests
		WHERE state IN (?, ?) AND next_attempt_us <= ?
		ORDER BY next_attempt_us, create_us, id LIMIT ?`),
		int64(fulfillment.RequestPending), int64(fulfillment.RequestSentToWMS), us(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due fulfillment requests: %w", err)
	}
	defer rows.Close()
	var out []*fulfillment.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListRequests returns one page of requests matching f and the token of
// the next page ("" on the last page).
func (s *Store) ListRequests(ctx context.Context, f fulfillment.RequestFilter) ([]*fulfillment.Request, string, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.OrderID != "" {
		add("order_id = ?", f.OrderID)
	}
	if f.State != 0 {
		add("state = ?", int64(f.State))
	}
	if f.WarehouseID != "" {
		add("warehouse_id = ?", f.WarehouseID)
	}
	if f.CustomerID != "" {
		add("customer_id = ?", f.CustomerID)
	}
	if !f.CreatedFrom.IsZero() {
		add("create_us >= ?", us(f.CreatedFrom))
	}
	if !f.CreatedBefore.IsZero() {
		add("create_us < ?", us(f.CreatedBefore))
	}
	fp := fingerprint("requests", f.OrderID, f.State, f.WarehouseID, f.CustomerID, us(f.CreatedFrom), us(f.CreatedBefore), f.Desc)
	page, err := startPage(f.PageToken, fp, f.Desc, "create_us", &where, &args)
	if err != nil {
		return nil, "", err
	}
	size := pageSize(f.PageSize)
	q := `SELECT ` + requestColumns + ` FROM fulfillment_requests`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY create_us ` + page.dir + `, id ` + page.dir + ` LIMIT ?`
	args = append(args, size+1)
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list fulfillment requests: %w", err)
	}
	defer rows.Close()
	var out []*fulfillment.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		last := out[size-1]
		next = encodeToken(fp, us(last.CreateTime), last.ID)
	}
	return out, next, nil
}
