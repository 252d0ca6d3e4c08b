package sqlstore

import (
	"context"
	"database/sql"
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

// requestRow is a fulfillment_requests row as stored: the columns of
// requestColumns, in order.
type requestRow struct {
	id, orderID, customerID, warehouseID, shipTo, lines string
	state                                               int64
	wmsReference                                        string
	attempts                                            int64
	lastError, reservationID, sourceEventID             string
	cancelReason, customerPO                            string
	createUS, updateUS, ackUS, nextUS                   int64
	retryRequestID, retryFingerprint                    string
	version                                             int64
}

func scanRequestRow(row sqldb.Scanner) (requestRow, error) {
	var w requestRow
	err := row.Scan(&w.id, &w.orderID, &w.customerID, &w.warehouseID, &w.shipTo, &w.lines, &w.state, &w.wmsReference,
		&w.attempts, &w.lastError, &w.reservationID, &w.sourceEventID, &w.cancelReason, &w.customerPO,
		&w.createUS, &w.updateUS, &w.ackUS, &w.nextUS, &w.retryRequestID, &w.retryFingerprint, &w.version)
	return w, err
}

// request decodes the row into a fresh Request.
func (w requestRow) request() (*fulfillment.Request, error) {
	r := fulfillment.Request{
		ID: w.id, OrderID: w.orderID, CustomerID: w.customerID, WarehouseID: w.warehouseID,
		State: fulfillment.RequestState(w.state), WMSReference: w.wmsReference, AttemptCount: int(w.attempts),
		LastError: w.lastError, ReservationID: w.reservationID, SourceEventID: w.sourceEventID,
		CancelReason: w.cancelReason, CustomerPO: w.customerPO,
		CreateTime: fromUS(w.createUS), UpdateTime: fromUS(w.updateUS),
		AcknowledgeTime: fromUS(w.ackUS), NextAttemptTime: fromUS(w.nextUS),
		RetryRequestID: w.retryRequestID, RetryFingerprint: w.retryFingerprint, Version: w.version,
	}
	if err := decodeJSON("request "+r.ID, jsonColumn{"ship_to", w.shipTo, &r.ShipTo}, jsonColumn{"lines", w.lines, &r.Lines}); err != nil {
		return nil, err
	}
	return &r, nil
}

func scanRequest(row sqldb.Scanner) (*fulfillment.Request, error) {
	w, err := scanRequestRow(row)
	if err != nil {
		return nil, err
	}
	return w.request()
}

// GetRequest implements fulfillment.Tx. Within one transaction a request
// is read from the database once: the transaction keeps the row as it
// read it and as its own UpdateRequest calls rewrote it (the only writes
// to a request row inside a transaction go through InsertRequest and
// UpdateRequest of the same Tx), and decodes a fresh Request from that
// row on every call, so a caller changing the Request it got changes
// nothing cached. A WMS feed page brings a shipment's milestones
// together (PICKED to DELIVERED within 200 ms at the bench's pace, the
// feed polled every 500 ms), and each milestone read its request again.
func (t *Tx) GetRequest(ctx context.Context, id string) (*fulfillment.Request, error) {
	if w, ok := t.requests[id]; ok {
		return w.request()
	}
	w, err := scanRequestRow(t.queryRow(ctx, `SELECT `+requestColumns+` FROM fulfillment_requests WHERE id = ?`+t.lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", fulfillment.ErrRequestNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get fulfillment request %s: %w", id, err)
	}
	r, err := w.request()
	if err != nil {
		return nil, err
	}
	if t.requests == nil {
		t.requests = map[string]requestRow{}
	}
	t.requests[id] = w
	return r, nil
}

// GetRequest implements fulfillment.Store and fulfillment.Tx (which locks
// the row).
func (c conn) GetRequest(ctx context.Context, id string) (*fulfillment.Request, error) {
	r, err := scanRequest(c.queryRow(ctx, `SELECT `+requestColumns+` FROM fulfillment_requests WHERE id = ?`+c.lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", fulfillment.ErrRequestNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get fulfillment request %s: %w", id, err)
	}
	return r, nil
}

// listRequests returns the requests of a query with "?" placeholders.
func (c conn) listRequests(ctx context.Context, what, query string, args ...any) ([]*fulfillment.Request, error) {
	rs, err := sqldb.QueryAll(ctx, c.q, c.d.Rebind(query), args, scanRequest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return rs, nil
}

// InsertRequest implements fulfillment.Tx.
func (t *Tx) InsertRequest(ctx context.Context, r *fulfillment.Request) (created bool, err error) {
	shipTo, err := encodeJSON(r.ShipTo)
	if err != nil {
		return false, err
	}
	lines, err := encodeJSON(r.Lines)
	if err != nil {
		return false, err
	}
	res, err := t.exec(ctx, `
		INSERT INTO fulfillment_requests (`+requestColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (id) DO NOTHING`,
		r.ID, r.OrderID, r.CustomerID, r.WarehouseID, shipTo, lines, int64(r.State),
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
	delete(t.requests, r.ID) // read again from the row it wrote
	return n == 1, nil
}

// UpdateRequest implements fulfillment.Tx.
func (t *Tx) UpdateRequest(ctx context.Context, r *fulfillment.Request) error {
	lines, err := encodeJSON(r.Lines)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `
		UPDATE fulfillment_requests SET lines = ?, state = ?, wms_reference = ?, attempt_count = ?, last_error = ?,
			cancel_reason = ?, update_us = ?, acknowledge_us = ?, next_attempt_us = ?, retry_request_id = ?,
			retry_fingerprint = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		lines, int64(r.State), r.WMSReference, r.AttemptCount, r.LastError,
		r.CancelReason, us(r.UpdateTime), us(r.AcknowledgeTime), us(r.NextAttemptTime), r.RetryRequestID,
		r.RetryFingerprint, r.ID, r.Version)
	if err != nil {
		delete(t.requests, r.ID)
		return fmt.Errorf("update fulfillment request %s: %w", r.ID, err)
	}
	if err := versioned(res, &r.Version, "fulfillment request", r.ID); err != nil {
		delete(t.requests, r.ID)
		return err
	}
	if w, ok := t.requests[r.ID]; ok {
		// The row as the UPDATE above left it; the columns it does not
		// set keep what was read.
		w.lines, w.state, w.wmsReference, w.attempts, w.lastError = lines, int64(r.State), r.WMSReference, int64(r.AttemptCount), r.LastError
		w.cancelReason, w.updateUS, w.ackUS, w.nextUS = r.CancelReason, us(r.UpdateTime), us(r.AcknowledgeTime), us(r.NextAttemptTime)
		w.retryRequestID, w.retryFingerprint, w.version = r.RetryRequestID, r.RetryFingerprint, r.Version
		t.requests[r.ID] = w
	}
	return nil
}

// versioned checks that an optimistic update changed its row and then
// increments the caller's version.
func versioned(res sql.Result, version *int64, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: %s %s version %d", fulfillment.ErrConflict, what, id, *version)
	}
	*version++
	return nil
}

// OrderRequests implements fulfillment.Tx.
func (t *Tx) OrderRequests(ctx context.Context, orderID string) ([]*fulfillment.Request, error) {
	return t.listRequests(ctx, "requests of order "+orderID,
		`SELECT `+requestColumns+` FROM fulfillment_requests WHERE order_id = ? ORDER BY create_us, id`+t.lock, orderID)
}

// DueRequests implements fulfillment.Store.
func (s *Store) DueRequests(ctx context.Context, now time.Time, limit int) ([]*fulfillment.Request, error) {
	return s.listRequests(ctx, "due fulfillment requests", `
		SELECT `+requestColumns+` FROM fulfillment_requests
		WHERE state IN (?, ?) AND next_attempt_us <= ?
		ORDER BY next_attempt_us, create_us, id LIMIT ?`,
		int64(fulfillment.RequestPending), int64(fulfillment.RequestSentToWMS), us(now), limit)
}

// ListRequests implements fulfillment.Store.
func (s *Store) ListRequests(ctx context.Context, q fulfillment.RequestQuery) ([]*fulfillment.Request, error) {
	var w where
	w.add(q.OrderID != "", "order_id = ?", q.OrderID)
	w.add(q.State != 0, "state = ?", int64(q.State))
	w.add(q.WarehouseID != "", "warehouse_id = ?", q.WarehouseID)
	w.add(q.CustomerID != "", "customer_id = ?", q.CustomerID)
	w.add(!q.CreatedFrom.IsZero(), "create_us >= ?", us(q.CreatedFrom))
	w.add(!q.CreatedBefore.IsZero(), "create_us < ?", us(q.CreatedBefore))
	return s.listRequests(ctx, "list fulfillment requests",
		`SELECT `+requestColumns+` FROM fulfillment_requests`+w.page(q.Page, "create_us"), w.args...)
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

// page returns the WHERE, ORDER BY and LIMIT clauses of a keyset page
// sorted on column (a time in microseconds), then id.
func (w *where) page(p fulfillment.Page, column string) string {
	dir, cmp := "ASC", ">"
	if p.Desc {
		dir, cmp = "DESC", "<"
	}
	w.add(p.AfterID != "", fmt.Sprintf("(%[1]s %[2]s ? OR (%[1]s = ? AND id %[2]s ?))", column, cmp),
		us(p.AfterTime), us(p.AfterTime), p.AfterID)
	clause := ""
	if len(w.conds) > 0 {
		clause = ` WHERE ` + strings.Join(w.conds, " AND ")
	}
	w.args = append(w.args, p.Limit)
	return clause + ` ORDER BY ` + column + ` ` + dir + `, id ` + dir + ` LIMIT ?`
}
