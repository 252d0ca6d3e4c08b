// Package sqlstore is the order service's storage on database/sql: one
// implementation of order.Store whose SQL runs unchanged on SQLite and
// PostgreSQL (placeholders rebound by sqldb, times as unix microseconds),
// with embedded per-engine migrations. Events are written to the platform
// outbox in the same transaction as the change that raises them.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/tracing"
	"github.com/transload/transload/services/order/internal/order"
)

// MigrationSet is the name of the order tables' migration set.
const MigrationSet = "order"

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the order tables and the outbox tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return outbox.Migrate(ctx, db)
}

// Encoder turns what the domain writes to the outbox (order events,
// exceptions for the desk, audit records) into outbox events (subject,
// payload builder); orderpb.Encoder is the production encoder.
type Encoder interface {
	Event(order.Event) (outbox.Event, error)
	Exception(order.Exception) (outbox.Event, error)
	Audit(order.Audit) (outbox.Event, error)
}

// Store implements order.Store.
type Store struct {
	db     *sqldb.DB
	encode Encoder
	// parts keeps the parts of the orders written last (partsCache).
	parts *partsCache
}

var _ order.Store = (*Store)(nil)

// New returns a Store over a migrated db; encode builds the outbox events.
func New(db *sqldb.DB, encode Encoder) *Store {
	return &Store{db: db, encode: encode, parts: newPartsCache(partsCacheSize)}
}

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func (s *Store) q(query string) string { return s.db.Rebind(query) }

// forUpdate is the row-lock suffix for reads that precede a write in the
// same transaction (SQLite's BEGIN IMMEDIATE already holds the write lock).
func (s *Store) forUpdate() string {
	if s.db.Dialect() == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// --- idempotency claims ---

type claimRow struct {
	hash, status, orderID, owner, failure string
	leaseUS                               int64
}

func (s *Store) readClaim(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, kind, requestID string, lock bool) (claimRow, bool, error) {
	var r claimRow
	query := `SELECT payload_hash, status, order_id, owner, failure, lease_until_us FROM idempotency_keys WHERE kind = ? AND request_id = ?`
	if lock {
		query += s.forUpdate()
	}
	err := q.QueryRowContext(ctx, s.q(query), kind, requestID).Scan(&r.hash, &r.status, &r.orderID, &r.owner, &r.failure, &r.leaseUS)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read claim: %w", err)
	}
	return r, true, nil
}

// readClaimOrLegacy reads c's claim, as readClaim does without a lock,
// and in the same query the record under c.LegacyRequestID (when set):
// legacy is that record when c's own is missing and it is a finished
// record of the same payload (see order.Claim.LegacyRequestID).
func (s *Store) readClaimOrLegacy(ctx context.Context, c order.Claim) (r claimRow, ok bool, legacy *claimRow, err error) {
	if c.LegacyRequestID == "" || c.LegacyRequestID == c.RequestID {
		r, ok, err = s.readClaim(ctx, s.db.SQL(), c.Kind, c.RequestID, false)
		return r, ok, nil, err
	}
	type keyed struct {
		id string
		claimRow
	}
	rows, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`
		SELECT request_id, payload_hash, status, order_id, owner, failure, lease_until_us FROM idempotency_keys
		WHERE kind = ? AND request_id IN (?, ?)`), []any{c.Kind, c.RequestID, c.LegacyRequestID},
		func(sc sqldb.Scanner) (keyed, error) {
			var k keyed
			err := sc.Scan(&k.id, &k.hash, &k.status, &k.orderID, &k.owner, &k.failure, &k.leaseUS)
			return k, err
		})
	if err != nil {
		return r, false, nil, fmt.Errorf("read claim: %w", err)
	}
	for _, k := range rows {
		if k.id == c.RequestID {
			return k.claimRow, true, nil, nil
		}
	}
	for _, k := range rows {
		if k.hash == c.PayloadHash && k.status != string(order.ClaimPending) {
			return r, false, &k.claimRow, nil
		}
	}
	return r, false, nil, nil
}

func claimResult(r claimRow) (order.ClaimResult, error) {
	res := order.ClaimResult{Status: order.ClaimStatus(r.status), OrderID: r.orderID, LeaseUntil: fromUS(r.leaseUS)}
	if res.Status == order.ClaimFailed {
		f, err := order.UnmarshalFailure(r.failure)
		if err != nil {
			return res, fmt.Errorf("decode stored failure: %w", err)
		}
		res.Failure = &f
	}
	return res, nil
}

// ClaimRequest implements order.Store.
func (s *Store) ClaimRequest(ctx context.Context, c order.Claim) (order.ClaimResult, error) {
	now := time.Now().UTC()
	// Fast path without the write lock: a finished or live claim.
	r, ok, legacy, err := s.readClaimOrLegacy(ctx, c)
	if err != nil {
		return order.ClaimResult{}, err
	}
	if legacy != nil {
		return claimResult(*legacy)
	}
	if ok {
		if r.hash != c.PayloadHash {
			return order.ClaimResult{}, order.ErrIdempotencyKeyReused
		}
		if r.status != string(order.ClaimPending) || r.leaseUS > us(now) {
			return claimResult(r)
		}
	}
	var res order.ClaimResult
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res = order.ClaimResult{}
		// ON CONFLICT DO NOTHING waits for a concurrent inserter and then
		// yields to it: exactly one caller creates the claim.
		ins, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO idempotency_keys (kind, request_id, payload_hash, status, order_id, owner, lease_until_us, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, request_id) DO NOTHING`),
			c.Kind, c.RequestID, c.PayloadHash, string(order.ClaimPending), c.OrderID, c.Owner, us(c.LeaseUntil), us(now), us(now))
		if err != nil {
			return fmt.Errorf("insert claim: %w", err)
		}
		if n, _ := ins.RowsAffected(); n == 1 {
			res = order.ClaimResult{Acquired: true, Status: order.ClaimPending, OrderID: c.OrderID, LeaseUntil: c.LeaseUntil}
			return nil
		}
		r, ok, err := s.readClaim(ctx, tx, c.Kind, c.RequestID, true)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("claim %s vanished", c.RequestID)
		}
		if r.hash != c.PayloadHash {
			return order.ErrIdempotencyKeyReused
		}
		if r.status == string(order.ClaimPending) && r.leaseUS <= us(now) {
			// The owner's lease ended (crashed or stuck): take over,
			// keeping the order id so the reservation converges.
			if _, err := tx.ExecContext(ctx, s.q(`
				UPDATE idempotency_keys SET owner = ?, lease_until_us = ?, updated_us = ?
				WHERE kind = ? AND request_id = ?`),
				c.Owner, us(c.LeaseUntil), us(now), c.Kind, c.RequestID); err != nil {
				return fmt.Errorf("take over claim: %w", err)
			}
			res = order.ClaimResult{Acquired: true, TakenOver: true, Status: order.ClaimPending, OrderID: r.orderID, LeaseUntil: c.LeaseUntil}
			return nil
		}
		res, err = claimResult(r)
		return err
	})
	return res, err
}

// ownClaim checks inside tx that ref still owns a pending claim.
func (s *Store) ownClaim(ctx context.Context, tx *sql.Tx, ref order.ClaimRef) error {
	r, ok, err := s.readClaim(ctx, tx, ref.Kind, ref.RequestID, true)
	if err != nil {
		return err
	}
	if !ok || r.status != string(order.ClaimPending) || r.owner != ref.Owner {
		return order.ErrClaimLost
	}
	return nil
}

// ExtendClaim implements order.Store.
func (s *Store) ExtendClaim(ctx context.Context, ref order.ClaimRef, until time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.ownClaim(ctx, tx, ref); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE idempotency_keys SET lease_until_us = ?, updated_us = ? WHERE kind = ? AND request_id = ?`),
			us(until), us(time.Now()), ref.Kind, ref.RequestID)
		return err
	})
}

// DeleteClaim implements order.Store.
func (s *Store) DeleteClaim(ctx context.Context, ref order.ClaimRef) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return s.deleteClaim(ctx, tx, ref) })
}

// ReapClaim implements order.Store.
func (s *Store) ReapClaim(ctx context.Context, ref order.ClaimRef, ex order.Exception) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.deleteClaim(ctx, tx, ref); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, nil, []order.Exception{ex}, nil)
	})
}

// deleteClaim deletes the pending claim ref owns, in tx.
func (s *Store) deleteClaim(ctx context.Context, tx *sql.Tx, ref order.ClaimRef) error {
	if err := s.ownClaim(ctx, tx, ref); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`DELETE FROM idempotency_keys WHERE kind = ? AND request_id = ?`), ref.Kind, ref.RequestID)
	return err
}

// FailClaim implements order.Store.
func (s *Store) FailClaim(ctx context.Context, ref order.ClaimRef, f order.Failure) error {
	enc, err := order.MarshalFailure(f)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.ownClaim(ctx, tx, ref); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`
			UPDATE idempotency_keys SET status = ?, failure = ?, owner = '', lease_until_us = 0, updated_us = ?
			WHERE kind = ? AND request_id = ?`),
			string(order.ClaimFailed), enc, us(time.Now()), ref.Kind, ref.RequestID)
		return err
	})
}

// AbandonedClaims implements order.Store.
func (s *Store) AbandonedClaims(ctx context.Context, kind string, before time.Time, limit int) ([]order.PendingClaim, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`
		SELECT request_id, owner, order_id, lease_until_us, created_us FROM idempotency_keys
		WHERE kind = ? AND status = 'pending' AND lease_until_us < ?
		ORDER BY lease_until_us LIMIT ?`), []any{kind, us(before), limit},
		func(sc sqldb.Scanner) (order.PendingClaim, error) {
			c := order.PendingClaim{Kind: kind}
			var lease, created int64
			err := sc.Scan(&c.RequestID, &c.Owner, &c.OrderID, &lease, &created)
			c.LeaseUntil, c.CreatedAt = fromUS(lease), fromUS(created)
			return c, err
		})
	if err != nil {
		return nil, fmt.Errorf("list abandoned claims: %w", err)
	}
	return out, nil
}

// StealClaim implements order.Store.
func (s *Store) StealClaim(ctx context.Context, c order.PendingClaim, newOwner string, until time.Time) error {
	now := time.Now()
	res, err := s.db.SQL().ExecContext(ctx, s.q(`
		UPDATE idempotency_keys SET owner = ?, lease_until_us = ?, updated_us = ?
		WHERE kind = ? AND request_id = ? AND status = 'pending' AND owner = ? AND lease_until_us < ?`),
		newOwner, us(until), us(now), c.Kind, c.RequestID, c.Owner, us(now))
	if err != nil {
		return fmt.Errorf("steal claim: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return order.ErrClaimLost
	}
	return nil
}

// --- orders ---

// CreateOrder implements order.Store.
func (s *Store) CreateOrder(ctx context.Context, ref order.ClaimRef, o *order.Order, eff order.Effects) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.ownClaim(ctx, tx, ref); err != nil {
			return err
		}
		o.Version = 1
		if err := s.insertOrder(ctx, tx, o); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO erp_queue (order_id, customer_id, action, next_attempt_us, created_us, traceparent) VALUES (?, ?, ?, ?, ?, ?)`),
			o.ID, o.CustomerID, string(order.ActionSubmit), us(o.CreatedAt), us(o.CreatedAt), tracing.Traceparent(ctx)); err != nil {
			return fmt.Errorf("queue order: %w", err)
		}
		if err := s.writeEffects(ctx, tx, o, eff); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`
			UPDATE idempotency_keys SET status = ?, order_id = ?, owner = '', lease_until_us = 0, updated_us = ?
			WHERE kind = ? AND request_id = ?`),
			string(order.ClaimCompleted), o.ID, us(time.Now()), ref.Kind, ref.RequestID)
		return err
	})
	if err == nil {
		s.parts.put(o)
	}
	return err
}

// writeEffects writes the events, exceptions and audit records of a change
// of o to the outbox in tx, the order snapshots they carry stamped with o's
// version (the outbox gives each aggregate its next sequence numbers and
// stamps them into each payload), and the change's documents
// (writeDocuments).
func (s *Store) writeEffects(ctx context.Context, tx *sql.Tx, o *order.Order, eff order.Effects) error {
	for i := range eff.Events {
		eff.Events[i].Order.Version = o.Version
	}
	for _, a := range eff.Audits {
		if after, ok := a.After.(*order.Order); ok && after.ID == o.ID {
			after.Version = o.Version
		}
	}
	if err := s.writeOutbox(ctx, tx, eff.Events, eff.Exceptions, eff.Audits); err != nil {
		return fmt.Errorf("order %s: %w", o.ID, err)
	}
	return s.writeDocuments(ctx, tx, eff.Documents)
}

// writeOutbox encodes and writes events, exceptions and audit records to
// the outbox in tx, in that order.
func (s *Store) writeOutbox(ctx context.Context, tx *sql.Tx, evs []order.Event, exs []order.Exception, audits []order.Audit) error {
	out := make([]outbox.Event, 0, len(evs)+len(exs)+len(audits))
	for _, ev := range evs {
		oev, err := s.encode.Event(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		out = append(out, oev)
	}
	for _, ex := range exs {
		oev, err := s.encode.Exception(ex)
		if err != nil {
			return fmt.Errorf("encode exception: %w", err)
		}
		out = append(out, oev)
	}
	for _, a := range audits {
		oev, err := s.encode.Audit(a)
		if err != nil {
			return fmt.Errorf("encode audit record: %w", err)
		}
		out = append(out, oev)
	}
	if len(out) == 0 {
		return nil
	}
	if _, err := outbox.WriteBatch(ctx, tx, s.db.Dialect(), out); err != nil {
		return fmt.Errorf("write outbox events: %w", err)
	}
	return nil
}

func (s *Store) insertOrder(ctx context.Context, tx *sql.Tx, o *order.Order) error {
	shipTo, err := json.Marshal(o.ShipTo)
	if err != nil {
		return err
	}
	rej := o.Rejection
	if rej == nil {
		rej = &order.Rejection{}
	}
	_, err = tx.ExecContext(ctx, s.q(`
		INSERT INTO orders (order_id, customer_id, channel, currency, ship_to, subtotal_minor, tax_minor, total_minor,
			state, rejection_reason, rejection_message, rejection_erp_code, erp_order_ref, create_request_id, customer_po,
			reservation_id, notes, erp_attempts, erp_last_attempt_us, erp_next_attempt_us, erp_last_error,
			created_us, updated_us, confirmed_us, version, promotion_codes, applied_promotions)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		o.ID, o.CustomerID, o.Channel, o.Currency, string(shipTo), o.SubtotalMinor, o.TaxMinor, o.TotalMinor,
		int(o.State), int(rej.Reason), rej.Message, rej.ERPCode, o.ERPOrderRef, o.CreateRequestID, o.CustomerPONumber,
		o.ReservationID, o.Notes, o.ERP.Attempts, us(o.ERP.LastAttemptAt), us(o.ERP.NextAttemptAt), o.ERP.LastError,
		us(o.CreatedAt), us(o.UpdatedAt), us(o.ConfirmedAt), o.Version, jsonList(o.PromotionCodes), jsonList(o.AppliedPromotions))
	if err != nil {
		if sqldb.IsUniqueViolation(err) {
			return fmt.Errorf("order %s exists: %w", o.ID, err)
		}
		return fmt.Errorf("insert order: %w", err)
	}
	var lines, allocs [][]any
	for i, l := range o.Lines {
		lines = append(lines, []any{o.ID, i, l.ID, l.SKU, l.Quantity, l.Unit, l.UnitPriceMinor, l.ExtendedMinor,
			l.PriceRuleID, l.PriceQuoteID, l.Shipped, l.Delivered, l.Returned})
		for j, a := range l.Allocations {
			allocs = append(allocs, []any{o.ID, l.ID, j, a.WarehouseID, a.Allocated, a.Shipped, a.Delivered})
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO order_lines (order_id, line_no, line_id, sku, quantity, unit, unit_price_minor,
		extended_minor, price_rule_id, price_quote_id, shipped, delivered, returned)`, lines); err != nil {
		return fmt.Errorf("insert lines: %w", err)
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO order_allocations (order_id, line_id, alloc_no, warehouse_id, allocated,
		shipped, delivered)`, allocs); err != nil {
		return fmt.Errorf("insert allocations: %w", err)
	}
	return s.insertHistory(ctx, tx, o, 0)
}

func (s *Store) insertHistory(ctx context.Context, tx *sql.Tx, o *order.Order, from int) error {
	var rows [][]any
	for i := from; i < len(o.History); i++ {
		h := o.History[i]
		rows = append(rows, []any{o.ID, i + 1, int(h.From), int(h.To), us(h.At), h.Actor.Kind, h.Actor.ID, h.Reason, h.CorrelationID})
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO order_history (order_id, seq, from_state, to_state, at_us, actor_kind,
		actor_id, reason, correlation_id)`, rows); err != nil {
		return fmt.Errorf("insert history: %w", err)
	}
	return nil
}

// insertRowsChunk is the most rows one multi-row INSERT writes, so the
// statement texts (cached per connection by their text) stay few.
const insertRowsChunk = 16

// insertRows runs insert (an INSERT ... (columns) without VALUES) for rows,
// all of one width, with up to insertRowsChunk rows per statement instead
// of a statement per row (issue #12: an order's lines, allocations and
// history entries were a statement each).
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, insert string, rows [][]any) error {
	for len(rows) > 0 {
		part := rows[:min(len(rows), insertRowsChunk)]
		rows = rows[len(part):]
		one := "(?" + strings.Repeat(", ?", len(part[0])-1) + ")"
		args := make([]any, 0, len(part)*len(part[0]))
		for _, r := range part {
			args = append(args, r...)
		}
		query := insert + " VALUES " + one + strings.Repeat(", "+one, len(part)-1)
		if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
			return err
		}
	}
	return nil
}

// querier reads inside or outside a transaction.
type querier interface {
	sqldb.Querier
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

const orderColumns = `order_id, customer_id, channel, currency, ship_to, subtotal_minor, tax_minor, total_minor,
	state, rejection_reason, rejection_message, rejection_erp_code, erp_order_ref, create_request_id, customer_po,
	reservation_id, notes, erp_attempts, erp_last_attempt_us, erp_next_attempt_us, erp_last_error,
	created_us, updated_us, confirmed_us, version, promotion_codes, applied_promotions`

// jsonList encodes a list of strings for a TEXT column: a JSON array, ""
// for none.
func jsonList(v []string) string {
	if len(v) == 0 {
		return ""
	}
	b, _ := json.Marshal(v) // a []string always encodes
	return string(b)
}

// listFromJSON decodes a jsonList column.
func listFromJSON(s, column string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", column, err)
	}
	return v, nil
}

func scanOrder(sc sqldb.Scanner) (*order.Order, error) {
	var (
		o                                                     order.Order
		shipTo, codes, promotions                             string
		state, rejReason                                      int
		rejMsg, rejCode                                       string
		lastAttempt, nextAttempt, created, updated, confirmed int64
	)
	if err := sc.Scan(&o.ID, &o.CustomerID, &o.Channel, &o.Currency, &shipTo, &o.SubtotalMinor, &o.TaxMinor, &o.TotalMinor,
		&state, &rejReason, &rejMsg, &rejCode, &o.ERPOrderRef, &o.CreateRequestID, &o.CustomerPONumber,
		&o.ReservationID, &o.Notes, &o.ERP.Attempts, &lastAttempt, &nextAttempt, &o.ERP.LastError,
		&created, &updated, &confirmed, &o.Version, &codes, &promotions); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(shipTo), &o.ShipTo); err != nil {
		return nil, fmt.Errorf("decode ship_to: %w", err)
	}
	var err error
	if o.PromotionCodes, err = listFromJSON(codes, "promotion_codes"); err != nil {
		return nil, err
	}
	if o.AppliedPromotions, err = listFromJSON(promotions, "applied_promotions"); err != nil {
		return nil, err
	}
	o.State = order.State(state)
	if order.State(state) == order.StateRejected || rejReason != 0 {
		o.Rejection = &order.Rejection{Reason: order.RejectionReason(rejReason), Message: rejMsg, ERPCode: rejCode}
	}
	o.ERP.LastAttemptAt, o.ERP.NextAttemptAt = fromUS(lastAttempt), fromUS(nextAttempt)
	o.CreatedAt, o.UpdatedAt, o.ConfirmedAt = fromUS(created), fromUS(updated), fromUS(confirmed)
	return &o, nil
}

// loadParts fills lines, allocations, shipments and history of o.
func (s *Store) loadParts(ctx context.Context, q querier, o *order.Order) error {
	var err error
	o.Lines, err = sqldb.QueryAll(ctx, q, s.q(`
		SELECT line_id, sku, quantity, unit, unit_price_minor, extended_minor, price_rule_id, price_quote_id,
			shipped, delivered, returned
		FROM order_lines WHERE order_id = ? ORDER BY line_no`), []any{o.ID}, scanLine)
	if err != nil {
		return fmt.Errorf("read lines: %w", err)
	}
	rows, err := q.QueryContext(ctx, s.q(`
		SELECT line_id, warehouse_id, allocated, shipped, delivered
		FROM order_allocations WHERE order_id = ? ORDER BY line_id, alloc_no`), o.ID)
	if err != nil {
		return fmt.Errorf("read allocations: %w", err)
	}
	if err := sqldb.Each(rows, func(sc sqldb.Scanner) error {
		var lineID string
		var a order.Allocation
		if err := sc.Scan(&lineID, &a.WarehouseID, &a.Allocated, &a.Shipped, &a.Delivered); err != nil {
			return err
		}
		for i := range o.Lines {
			if o.Lines[i].ID == lineID {
				o.Lines[i].Allocations = append(o.Lines[i].Allocations, a)
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("read allocations: %w", err)
	}
	o.Shipments, err = sqldb.QueryAll(ctx, q, s.q(`
		SELECT shipment_id, fulfillment_request_id, warehouse_id, tracking_number, delivered, lines, updated_us
		FROM order_shipments WHERE order_id = ? ORDER BY ship_no`), []any{o.ID}, scanShipment)
	if err != nil {
		return fmt.Errorf("read shipments: %w", err)
	}
	o.History, err = sqldb.QueryAll(ctx, q, s.q(`
		SELECT from_state, to_state, at_us, actor_kind, actor_id, reason, correlation_id
		FROM order_history WHERE order_id = ? ORDER BY seq`), []any{o.ID}, scanHistory)
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	return nil
}

func scanLine(sc sqldb.Scanner) (order.Line, error) {
	var l order.Line
	err := sc.Scan(&l.ID, &l.SKU, &l.Quantity, &l.Unit, &l.UnitPriceMinor, &l.ExtendedMinor, &l.PriceRuleID,
		&l.PriceQuoteID, &l.Shipped, &l.Delivered, &l.Returned)
	return l, err
}

func scanShipment(sc sqldb.Scanner) (order.Shipment, error) {
	var sh order.Shipment
	var delivered int
	var lines string
	var updated int64
	if err := sc.Scan(&sh.ID, &sh.FulfillmentRequestID, &sh.WarehouseID, &sh.TrackingNumber, &delivered, &lines, &updated); err != nil {
		return sh, err
	}
	sh.Delivered = delivered != 0
	sh.UpdatedAt = fromUS(updated)
	if err := json.Unmarshal([]byte(lines), &sh.Lines); err != nil {
		return sh, fmt.Errorf("decode shipment lines: %w", err)
	}
	return sh, nil
}

func scanHistory(sc sqldb.Scanner) (order.StateChange, error) {
	var h order.StateChange
	var from, to int
	var at int64
	err := sc.Scan(&from, &to, &at, &h.Actor.Kind, &h.Actor.ID, &h.Reason, &h.CorrelationID)
	h.From, h.To, h.At = order.State(from), order.State(to), fromUS(at)
	return h, err
}

// GetOrder implements order.Store.
func (s *Store) GetOrder(ctx context.Context, id string) (*order.Order, error) {
	var o *order.Order
	err := s.db.InReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		o, err = s.getOrder(ctx, tx, id, false)
		return err
	})
	return o, err
}

func (s *Store) getOrder(ctx context.Context, q querier, id string, lock bool) (*order.Order, error) {
	query := `SELECT ` + orderColumns + ` FROM orders WHERE order_id = ?`
	if lock {
		query += s.forUpdate()
	}
	o, err := scanOrder(q.QueryRowContext(ctx, s.q(query), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, order.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", id, err)
	}
	if err := s.fillParts(ctx, q, o); err != nil {
		return nil, err
	}
	return o, nil
}

// fillParts fills the lines, allocations, shipments and history of o, whose
// row was just read: from the parts cache when it holds them at o's
// version, else from the tables (loadParts).
func (s *Store) fillParts(ctx context.Context, q querier, o *order.Order) error {
	if s.parts.fill(o) {
		return nil
	}
	return s.loadParts(ctx, q, o)
}

// ListOrders implements order.Store.
func (s *Store) ListOrders(ctx context.Context, lq order.ListQuery) ([]*order.Order, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if lq.CustomerID != "" {
		add("customer_id = ?", lq.CustomerID)
	}
	if lq.Channel != "" {
		add("channel = ?", lq.Channel)
	}
	if lq.State != order.StateUnspecified {
		add("state = ?", int(lq.State))
	}
	if lq.NotState != order.StateUnspecified {
		add("state <> ?", int(lq.NotState))
	}
	if lq.PurchaseOrderNumber != "" {
		add("customer_po = ?", lq.PurchaseOrderNumber)
	}
	timeBounds := func(col string, b order.TimeBounds) {
		for _, c := range []struct {
			op string
			t  time.Time
		}{{">=", b.From}, {">", b.After}, {"<", b.Before}, {"<=", b.Through}} {
			if !c.t.IsZero() {
				add(col+" "+c.op+" ?", us(c.t))
			}
		}
	}
	timeBounds("created_us", lq.Created)
	timeBounds("updated_us", lq.Updated)
	sortCol := "created_us"
	if lq.ByUpdateTime {
		sortCol = "updated_us"
	}
	dir := "DESC"
	if lq.Ascending {
		dir = "ASC"
	}
	if lq.AfterID != "" {
		op := "<"
		if lq.Ascending {
			op = ">"
		}
		c := us(lq.AfterTime)
		add("("+sortCol+" "+op+" ? OR ("+sortCol+" = ? AND order_id "+op+" ?))", c, c, lq.AfterID)
	}
	query := `SELECT ` + orderColumns + ` FROM orders`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + sortCol + " " + dir + ", order_id " + dir + " LIMIT ?"
	args = append(args, lq.Limit)
	var out []*order.Order
	err := s.db.InReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = sqldb.QueryAll(ctx, tx, s.q(query), args, scanOrder)
		if err != nil {
			return fmt.Errorf("list orders: %w", err)
		}
		for _, o := range out {
			if err := s.fillParts(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// UpdateOrder implements order.Store.
func (s *Store) UpdateOrder(ctx context.Context, id string, key *order.IdempotencyKey, fn func(o *order.Order) (order.Effects, error)) (*order.Order, error) {
	return s.updateOrder(ctx, id, key, nil, fn)
}

// UpdateOrderFrom implements order.Store.
func (s *Store) UpdateOrderFrom(ctx context.Context, o *order.Order, fn func(o *order.Order) (order.Effects, error)) (*order.Order, error) {
	return s.updateOrder(ctx, o.ID, nil, o, fn)
}

// updateOrder is UpdateOrder, starting from held when that is non-nil and
// still the stored version.
func (s *Store) updateOrder(ctx context.Context, id string, key *order.IdempotencyKey, held *order.Order, fn func(o *order.Order) (order.Effects, error)) (*order.Order, error) {
	var out *order.Order
	err := s.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.updateOrderTx(ctx, tx, id, key, held, fn)
		return err
	})
	if err == nil {
		s.parts.put(out)
	}
	return out, err
}

// UpdateOrdersFrom implements order.Store: each update runs as
// UpdateOrderFrom's would, all in one transaction; an update whose fn (or
// order lookup) fails leaves nothing behind and gets its error in errs.
func (s *Store) UpdateOrdersFrom(ups []order.HeldUpdate) (errs []error, err error) {
	if len(ups) == 0 {
		return nil, nil
	}
	var saved []*order.Order
	err = s.db.InTx(ups[0].Ctx, func(tx *sql.Tx) error {
		errs, saved = make([]error, len(ups)), nil // InTx may run this again
		for i, u := range ups {
			var refused error
			o, uerr := s.updateOrderTx(u.Ctx, tx, u.Order.ID, nil, u.Order, func(o *order.Order) (order.Effects, error) {
				eff, err := u.Fn(o)
				refused = err
				return eff, err
			})
			if uerr != nil && uerr != refused && !errors.Is(uerr, order.ErrNotFound) { //nolint:errorlint // identity: fn's own error
				return uerr // a statement failed: nothing of the batch is stored
			}
			errs[i] = uerr
			if uerr == nil {
				saved = append(saved, o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, o := range saved {
		s.parts.put(o)
	}
	return errs, nil
}

// updateOrderTx is updateOrder's work in tx.
func (s *Store) updateOrderTx(ctx context.Context, tx *sql.Tx, id string, key *order.IdempotencyKey, held *order.Order, fn func(o *order.Order) (order.Effects, error)) (*order.Order, error) {
	// Lock the order first: concurrent calls with the same key then
	// check the key one after the other.
	o, err := s.heldOrder(ctx, tx, held)
	if o == nil && err == nil {
		o, err = s.getOrder(ctx, tx, id, true)
	}
	if err != nil {
		return nil, err
	}
	if key != nil {
		r, ok, err := s.readClaim(ctx, tx, key.Kind, key.Key, true)
		if err != nil {
			return nil, err
		}
		if ok {
			if r.hash != key.PayloadHash || r.orderID != id {
				return nil, &order.EventIDReusedError{EventID: key.Key}
			}
			return nil, order.ErrDuplicateEvent
		}
	}
	before := o.Clone()
	eff, err := fn(o)
	if err != nil {
		return nil, err
	}
	o.Version++
	if err := s.saveOrder(ctx, tx, before, o); err != nil {
		return nil, err
	}
	if err := s.applyQueueOp(ctx, tx, o, eff.ERPQueue); err != nil {
		return nil, err
	}
	if eff.ReleaseReservation != "" && o.ReservationID != "" {
		if _, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO reservation_releases (order_id, reservation_id, reason, created_us) VALUES (?, ?, ?, ?)
			ON CONFLICT (order_id) DO NOTHING`), o.ID, o.ReservationID, eff.ReleaseReservation, us(time.Now())); err != nil {
			return nil, fmt.Errorf("queue release: %w", err)
		}
	}
	if err := s.writeEffects(ctx, tx, o, eff); err != nil {
		return nil, err
	}
	if key != nil {
		if err := s.recordKey(ctx, tx, *key, id); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// recordKey stores key as applied (completed, naming resultID) in tx, so
// the change it belongs to is applied at most once.
func (s *Store) recordKey(ctx context.Context, tx *sql.Tx, key order.IdempotencyKey, resultID string) error {
	now := us(time.Now())
	if _, err := tx.ExecContext(ctx, s.q(`
		INSERT INTO idempotency_keys (kind, request_id, payload_hash, status, order_id, created_us, updated_us)
		VALUES (?, ?, ?, ?, ?, ?, ?)`),
		key.Kind, key.Key, key.PayloadHash, string(order.ClaimCompleted), resultID, now, now); err != nil {
		return fmt.Errorf("record key: %w", err)
	}
	return nil
}

// heldOrder locks the order held was read from and returns a copy of held
// when the stored version is still held's; nil (and no error) when held is
// nil or outdated.
func (s *Store) heldOrder(ctx context.Context, tx *sql.Tx, held *order.Order) (*order.Order, error) {
	if held == nil {
		return nil, nil
	}
	var version int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT version FROM orders WHERE order_id = ?`+s.forUpdate()), held.ID).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, order.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock order %s: %w", held.ID, err)
	}
	if version != held.Version {
		return nil, nil
	}
	return held.Clone(), nil
}

// saveOrder writes what a change made of before into o: the order row,
// and only the lines, allocations and shipments whose stored columns
// changed (a shipment report touches one shipment and the lines it
// carries, not the whole order), plus the new history entries. Lines and
// allocations are fixed at placement; a change of them is refused.
func (s *Store) saveOrder(ctx context.Context, tx *sql.Tx, before, o *order.Order) error {
	rej := o.Rejection
	if rej == nil {
		rej = &order.Rejection{}
	}
	if _, err := tx.ExecContext(ctx, s.q(`
		UPDATE orders SET state = ?, rejection_reason = ?, rejection_message = ?, rejection_erp_code = ?, erp_order_ref = ?,
			erp_attempts = ?, erp_last_attempt_us = ?, erp_next_attempt_us = ?, erp_last_error = ?,
			updated_us = ?, confirmed_us = ?, version = ?
		WHERE order_id = ?`),
		int(o.State), int(rej.Reason), rej.Message, rej.ERPCode, o.ERPOrderRef,
		o.ERP.Attempts, us(o.ERP.LastAttemptAt), us(o.ERP.NextAttemptAt), o.ERP.LastError,
		us(o.UpdatedAt), us(o.ConfirmedAt), o.Version, o.ID); err != nil {
		return fmt.Errorf("update order: %w", err)
	}
	if err := s.saveLines(ctx, tx, before, o); err != nil {
		return err
	}
	if err := s.saveShipments(ctx, tx, before, o); err != nil {
		return err
	}
	return s.insertHistory(ctx, tx, o, len(before.History))
}

// saveLines updates the lines and allocations of o whose quantities differ
// from before.
func (s *Store) saveLines(ctx context.Context, tx *sql.Tx, before, o *order.Order) error {
	if len(o.Lines) != len(before.Lines) {
		return fmt.Errorf("order %s: lines are fixed at placement (%d, now %d)", o.ID, len(before.Lines), len(o.Lines))
	}
	for i, l := range o.Lines {
		prev := before.Lines[i]
		if l.ID != prev.ID || len(l.Allocations) != len(prev.Allocations) {
			return fmt.Errorf("order %s: line %s and its allocations are fixed at placement", o.ID, prev.ID)
		}
		if l.Shipped != prev.Shipped || l.Delivered != prev.Delivered || l.Returned != prev.Returned {
			if _, err := tx.ExecContext(ctx, s.q(`
				UPDATE order_lines SET shipped = ?, delivered = ?, returned = ? WHERE order_id = ? AND line_id = ?`),
				l.Shipped, l.Delivered, l.Returned, o.ID, l.ID); err != nil {
				return fmt.Errorf("update line: %w", err)
			}
		}
		for j, a := range l.Allocations {
			pa := prev.Allocations[j]
			if a.WarehouseID != pa.WarehouseID || a.Allocated != pa.Allocated {
				return fmt.Errorf("order %s: allocations of line %s are fixed at placement", o.ID, l.ID)
			}
			if a.Shipped == pa.Shipped && a.Delivered == pa.Delivered {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`
				UPDATE order_allocations SET shipped = ?, delivered = ? WHERE order_id = ? AND line_id = ? AND warehouse_id = ?`),
				a.Shipped, a.Delivered, o.ID, l.ID, a.WarehouseID); err != nil {
				return fmt.Errorf("update allocation: %w", err)
			}
		}
	}
	return nil
}

// saveShipments inserts the shipments o has and before had not, updates
// those that changed and deletes those o no longer has.
func (s *Store) saveShipments(ctx context.Context, tx *sql.Tx, before, o *order.Order) error {
	prev := make(map[string]int, len(before.Shipments))
	for i, sh := range before.Shipments {
		prev[sh.ID] = i
	}
	for i, sh := range o.Shipments {
		j, existed := prev[sh.ID]
		delete(prev, sh.ID)
		if existed && j == i && sameShipment(before.Shipments[j], sh) {
			continue
		}
		lines, err := json.Marshal(sh.Lines)
		if err != nil {
			return err
		}
		delivered := 0
		if sh.Delivered {
			delivered = 1
		}
		query := `INSERT INTO order_shipments (ship_no, fulfillment_request_id, warehouse_id, tracking_number,
				delivered, lines, updated_us, order_id, shipment_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if existed {
			query = `UPDATE order_shipments SET ship_no = ?, fulfillment_request_id = ?, warehouse_id = ?, tracking_number = ?,
				delivered = ?, lines = ?, updated_us = ?
			WHERE order_id = ? AND shipment_id = ?`
		}
		if _, err := tx.ExecContext(ctx, s.q(query),
			i, sh.FulfillmentRequestID, sh.WarehouseID, sh.TrackingNumber, delivered, string(lines), us(sh.UpdatedAt), o.ID, sh.ID); err != nil {
			return fmt.Errorf("save shipment: %w", err)
		}
	}
	for id := range prev {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM order_shipments WHERE order_id = ? AND shipment_id = ?`), o.ID, id); err != nil {
			return fmt.Errorf("delete shipment: %w", err)
		}
	}
	return nil
}

// sameShipment reports whether a and b store the same row.
func sameShipment(a, b order.Shipment) bool {
	return a.ID == b.ID && a.FulfillmentRequestID == b.FulfillmentRequestID && a.WarehouseID == b.WarehouseID &&
		a.TrackingNumber == b.TrackingNumber && a.Delivered == b.Delivered && slices.Equal(a.Lines, b.Lines) &&
		us(a.UpdatedAt) == us(b.UpdatedAt)
}

func (s *Store) applyQueueOp(ctx context.Context, tx *sql.Tx, o *order.Order, op order.QueueOp) error {
	switch op {
	case order.QueueNone:
	case order.QueueRemove:
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM erp_queue WHERE order_id = ? AND action = ?`), o.ID, string(order.ActionSubmit))
		return err
	case order.QueueCancel:
		var seq int64
		var attempts int
		err := tx.QueryRowContext(ctx, s.q(`SELECT seq, attempts FROM erp_queue WHERE order_id = ? AND action = ?`),
			o.ID, string(order.ActionSubmit)).Scan(&seq, &attempts)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if o.ERPOrderRef == "" && o.ERP.Attempts == 0 {
				return nil // the ERP never heard of the order
			}
			_, err = tx.ExecContext(ctx, s.q(`
				INSERT INTO erp_queue (order_id, customer_id, action, next_attempt_us, created_us, traceparent) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (order_id, action) DO NOTHING`),
				o.ID, o.CustomerID, string(order.ActionCancel), us(time.Now()), us(time.Now()), tracing.Traceparent(ctx))
			return err
		case err != nil:
			return err
		case attempts == 0:
			_, err = tx.ExecContext(ctx, s.q(`DELETE FROM erp_queue WHERE seq = ?`), seq)
			return err
		default:
			// The ERP may have the order: cancel it in the submission's
			// place in the queue (a parked submission's strikes and
			// parking end: the cancellation is a new request).
			_, err = tx.ExecContext(ctx, s.q(`UPDATE erp_queue SET action = ?, next_attempt_us = 0, strikes = 0, parked_us = 0 WHERE seq = ?`),
				string(order.ActionCancel), seq)
			return err
		}
	}
	return nil
}

// --- ERP queue ---

// queueColumns are the erp_queue columns scanQueueEntry reads.
const queueColumns = `seq, order_id, customer_id, action, attempts, next_attempt_us, last_error, created_us, traceparent, lease_until_us, strikes, parked_us`

func scanQueueEntry(sc sqldb.Scanner) (order.QueueEntry, error) { return scanQueueEntryAnd(sc) }

// scanQueueEntryAnd scans queueColumns and then extra, the columns a
// query selects after them.
func scanQueueEntryAnd(sc sqldb.Scanner, extra ...any) (order.QueueEntry, error) {
	var e order.QueueEntry
	var action string
	var next, created, lease, parked int64
	dst := append([]any{&e.Seq, &e.OrderID, &e.CustomerID, &action, &e.Attempts, &next, &e.LastError, &created, &e.Traceparent, &lease,
		&e.Strikes, &parked}, extra...)
	err := sc.Scan(dst...)
	e.Action = order.QueueAction(action)
	e.NextAttemptAt, e.CreatedAt, e.LeaseUntil, e.ParkedAt = fromUS(next), fromUS(created), fromUS(lease), fromUS(parked)
	return e, err
}

// NextQueueEntries implements order.Store.
func (s *Store) NextQueueEntries(ctx context.Context, limit int) ([]order.QueueEntry, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT `+queueColumns+` FROM erp_queue WHERE parked_us = 0 ORDER BY seq LIMIT ?`), []any{limit}, scanQueueEntry)
	if err != nil {
		return nil, fmt.Errorf("read erp queue: %w", err)
	}
	return out, nil
}

// ListQueueEntries implements order.Store.
func (s *Store) ListQueueEntries(ctx context.Context, q order.QueueQuery) ([]order.QueueEntry, error) {
	var (
		where = []string{"seq > ?"}
		args  = []any{q.AfterSeq}
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if q.CustomerID != "" {
		add("customer_id = ?", q.CustomerID)
	}
	if !q.EnqueuedFrom.IsZero() {
		add("created_us >= ?", us(q.EnqueuedFrom))
	}
	if !q.EnqueuedBefore.IsZero() {
		add("created_us < ?", us(q.EnqueuedBefore))
	}
	// The states of order.QueueEntry.State, as of q.Now.
	now := us(q.Now)
	switch q.State {
	case order.QueueEntryParked:
		add("parked_us > 0")
	case order.QueueEntryInFlight:
		add("parked_us = 0 AND lease_until_us > ?", now)
	case order.QueueEntryBackingOff:
		add("parked_us = 0 AND lease_until_us <= ? AND attempts > 0 AND next_attempt_us > ?", now, now)
	case order.QueueEntryPending:
		add("parked_us = 0 AND lease_until_us <= ? AND (attempts = 0 OR next_attempt_us <= ?)", now, now)
	}
	query := `SELECT ` + queueColumns + ` FROM erp_queue WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq LIMIT ?`
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(query), append(args, q.Limit), scanQueueEntry)
	if err != nil {
		return nil, fmt.Errorf("list erp queue: %w", err)
	}
	return out, nil
}

// getQueueEntry reads the order's first queue entry in q, locked for
// update when lock is set.
func (s *Store) getQueueEntry(ctx context.Context, q querier, orderID string, lock bool) (order.QueueEntry, error) {
	query := `SELECT ` + queueColumns + ` FROM erp_queue WHERE order_id = ? ORDER BY seq LIMIT 1`
	if lock {
		query += s.forUpdate()
	}
	e, err := scanQueueEntry(q.QueryRowContext(ctx, s.q(query), orderID))
	if errors.Is(err, sql.ErrNoRows) {
		return order.QueueEntry{}, order.ErrQueueEntryNotFound
	}
	if err != nil {
		return order.QueueEntry{}, fmt.Errorf("read erp queue entry of %s: %w", orderID, err)
	}
	return e, nil
}

// GetQueueEntry implements order.Store.
func (s *Store) GetQueueEntry(ctx context.Context, orderID string) (order.QueueEntry, error) {
	return s.getQueueEntry(ctx, s.db.SQL(), orderID, false)
}

// RetryQueueEntry implements order.Store.
func (s *Store) RetryQueueEntry(ctx context.Context, orderID string, at time.Time, audit func(before, after order.QueueEntry) order.Audit) (order.QueueEntry, error) {
	var after order.QueueEntry
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The order first, then its queue rows: the lock order of
		// UpdateOrder and lockQueueEntry.
		var id string
		err := tx.QueryRowContext(ctx, s.q(`SELECT order_id FROM orders WHERE order_id = ?`+s.forUpdate()), orderID).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lock order %s: %w", orderID, err)
		}
		before, err := s.getQueueEntry(ctx, tx, orderID, true)
		if err != nil {
			return err
		}
		after = before
		after.NextAttemptAt, after.Strikes, after.ParkedAt = at, 0, time.Time{}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE erp_queue SET next_attempt_us = ?, strikes = 0, parked_us = 0 WHERE seq = ?`),
			us(at), before.Seq); err != nil {
			return fmt.Errorf("retry erp queue entry: %w", err)
		}
		if before.Action == order.ActionSubmit {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE orders SET erp_next_attempt_us = ? WHERE order_id = ?`), us(at), orderID); err != nil {
				return fmt.Errorf("retry erp submission: %w", err)
			}
		}
		return s.writeOutbox(ctx, tx, nil, nil, []order.Audit{audit(before, after)})
	})
	return after, err
}

// lockQueueEntry locks the order of queue entry seq and then the entry,
// the same order UpdateOrder locks in (order row, then queue rows), so the
// worker and a concurrent cancellation never deadlock on PostgreSQL.
func (s *Store) lockQueueEntry(ctx context.Context, tx *sql.Tx, seq int64) (orderID, action string, err error) {
	err = tx.QueryRowContext(ctx, s.q(`SELECT order_id FROM erp_queue WHERE seq = ?`), seq).Scan(&orderID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", order.ErrNotFound
	}
	if err != nil {
		return "", "", err
	}
	var id string
	err = tx.QueryRowContext(ctx, s.q(`SELECT order_id FROM orders WHERE order_id = ?`+s.forUpdate()), orderID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", err
	}
	err = tx.QueryRowContext(ctx, s.q(`SELECT action FROM erp_queue WHERE seq = ?`+s.forUpdate()), seq).Scan(&action)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", order.ErrNotFound
	}
	return orderID, action, err
}

// StartQueueAttempt implements order.Store.
func (s *Store) StartQueueAttempt(ctx context.Context, seq int64, at, leaseUntil time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		orderID, action, err := s.lockQueueEntry(ctx, tx, seq)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE erp_queue SET attempts = attempts + 1, lease_until_us = ? WHERE seq = ?`),
			us(leaseUntil), seq); err != nil {
			return err
		}
		if action == string(order.ActionSubmit) {
			_, err = tx.ExecContext(ctx, s.q(`
				UPDATE orders SET erp_attempts = erp_attempts + 1, erp_last_attempt_us = ? WHERE order_id = ?`), us(at), orderID)
		}
		return err
	})
}

// StartSubmission implements order.Store.
func (s *Store) StartSubmission(ctx context.Context, seq int64, at, leaseUntil time.Time) (*order.Order, error) {
	var out *order.Order
	err := s.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.startSubmission(ctx, tx, seq, at, leaseUntil)
		return err
	})
	return out, err
}

// StartSubmissions implements order.Store.
func (s *Store) StartSubmissions(ctx context.Context, seqs []int64, at, leaseUntil time.Time) ([]order.StartedSubmission, error) {
	var out []order.StartedSubmission
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = make([]order.StartedSubmission, len(seqs)) // InTx may run this again
		for i, seq := range seqs {
			o, err := s.startSubmission(ctx, tx, seq, at, leaseUntil)
			if err != nil && !errors.Is(err, order.ErrNotFound) {
				return err
			}
			out[i] = order.StartedSubmission{Order: o, Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// startSubmission is StartSubmission's work in tx.
func (s *Store) startSubmission(ctx context.Context, tx *sql.Tx, seq int64, at, leaseUntil time.Time) (*order.Order, error) {
	orderID, action, err := s.lockQueueEntry(ctx, tx, seq)
	if err != nil {
		return nil, err
	}
	if action != string(order.ActionSubmit) {
		return nil, nil // became a cancellation meanwhile: the next pass sends it
	}
	o, err := s.getOrder(ctx, tx, orderID, false) // locked by lockQueueEntry
	if err != nil && !errors.Is(err, order.ErrNotFound) {
		return nil, err
	}
	if o == nil || o.State != order.StateAcceptedPendingERP {
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM erp_queue WHERE seq = ?`), seq)
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE erp_queue SET attempts = attempts + 1, lease_until_us = ? WHERE seq = ?`),
		us(leaseUntil), seq); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`
		UPDATE orders SET erp_attempts = erp_attempts + 1, erp_last_attempt_us = ? WHERE order_id = ?`), us(at), orderID); err != nil {
		return nil, err
	}
	o.ERP.Attempts++
	o.ERP.LastAttemptAt = fromUS(us(at))
	return o, nil
}

// RecordQueueFailure implements order.Store.
func (s *Store) RecordQueueFailure(ctx context.Context, seq int64, next time.Time, errText string, raise func(order.QueueEntry) []order.Exception) error {
	return s.recordQueueFailure(ctx, seq, next, errText, nil, raise)
}

// strike is a RecordQueueStrike's strike: parks the entry as of at when
// its strikes reach max (> 0).
type strike struct {
	at  time.Time
	max int
}

// RecordQueueStrike implements order.Store.
func (s *Store) RecordQueueStrike(ctx context.Context, seq int64, at, next time.Time, errText string, maxStrikes int, raise func(order.QueueEntry) []order.Exception) error {
	return s.recordQueueFailure(ctx, seq, next, errText, &strike{at: at, max: maxStrikes}, raise)
}

// recordQueueFailure is RecordQueueFailure, and RecordQueueStrike when st
// is set.
func (s *Store) recordQueueFailure(ctx context.Context, seq int64, next time.Time, errText string, st *strike, raise func(order.QueueEntry) []order.Exception) error {
	errText = truncate(errText, 1000)
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		orderID, action, err := s.lockQueueEntry(ctx, tx, seq)
		if errors.Is(err, order.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE erp_queue SET next_attempt_us = ?, last_error = ?, lease_until_us = 0 WHERE seq = ?`),
			us(next), errText, seq); err != nil {
			return err
		}
		if st != nil {
			limit := st.max
			if limit <= 0 {
				limit = 1 << 30 // never parks
			}
			if _, err := tx.ExecContext(ctx, s.q(`
				UPDATE erp_queue SET strikes = strikes + 1,
					parked_us = CASE WHEN strikes + 1 >= CAST(? AS INTEGER) THEN CAST(? AS BIGINT) ELSE 0 END
				WHERE seq = ?`),
				limit, us(st.at), seq); err != nil {
				return err
			}
		}
		if action == string(order.ActionSubmit) {
			if _, err := tx.ExecContext(ctx, s.q(`
				UPDATE orders SET erp_next_attempt_us = ?, erp_last_error = ? WHERE order_id = ?`), us(next), errText, orderID); err != nil {
				return err
			}
		}
		if raise == nil {
			return nil
		}
		e, err := scanQueueEntry(tx.QueryRowContext(ctx, s.q(`SELECT `+queueColumns+` FROM erp_queue WHERE seq = ?`), seq))
		if err != nil {
			return fmt.Errorf("read erp queue entry %d: %w", seq, err)
		}
		return s.writeOutbox(ctx, tx, nil, raise(e), nil)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// DeleteQueueEntry implements order.Store.
func (s *Store) DeleteQueueEntry(ctx context.Context, seq int64) error {
	_, err := s.db.SQL().ExecContext(ctx, s.q(`DELETE FROM erp_queue WHERE seq = ?`), seq)
	return err
}

// QueueStats implements order.Store.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (order.QueueStats, error) {
	var n, inFlight, parked int
	var oldest sql.NullInt64
	if err := s.db.SQL().QueryRowContext(ctx, s.q(`
		SELECT COUNT(*), COALESCE(SUM(CASE WHEN lease_until_us > ? THEN 1 ELSE 0 END), 0), MIN(created_us),
			COALESCE(SUM(CASE WHEN parked_us > 0 THEN 1 ELSE 0 END), 0) FROM erp_queue`),
		us(now)).Scan(&n, &inFlight, &oldest, &parked); err != nil {
		return order.QueueStats{}, fmt.Errorf("erp queue stats: %w", err)
	}
	return order.QueueStats{Depth: n, InFlight: inFlight, OldestCreateAt: fromUS(oldest.Int64), Parked: parked}, nil
}

// QueueBlockers implements order.Store.
func (s *Store) QueueBlockers(ctx context.Context, limit int) ([]order.QueueBlocker, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`
		SELECT `+qualified("h", queueColumns)+`,
			(SELECT COUNT(*) FROM erp_queue w WHERE w.customer_id = h.customer_id AND w.seq > h.seq AND w.parked_us = 0)
		FROM erp_queue h
		WHERE h.attempts > 0 AND h.last_error <> '' AND h.parked_us = 0
			AND h.seq = (SELECT MIN(f.seq) FROM erp_queue f WHERE f.customer_id = h.customer_id AND f.parked_us = 0)
		ORDER BY h.seq LIMIT ?`), []any{limit},
		func(sc sqldb.Scanner) (order.QueueBlocker, error) {
			var b order.QueueBlocker
			var err error
			b.Entry, err = scanQueueEntryAnd(sc, &b.Waiting)
			return b, err
		})
	if err != nil {
		return nil, fmt.Errorf("erp queue blockers: %w", err)
	}
	return out, nil
}

// qualified prefixes each column of a comma-separated list with alias.
func qualified(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// --- reservation releases ---

// NextReleaseTasks implements order.Store.
func (s *Store) NextReleaseTasks(ctx context.Context, now time.Time, limit int) ([]order.ReleaseTask, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`
		SELECT order_id, reservation_id, reason, attempts, next_attempt_us FROM reservation_releases
		WHERE next_attempt_us <= ? ORDER BY created_us LIMIT ?`), []any{us(now), limit},
		func(sc sqldb.Scanner) (order.ReleaseTask, error) {
			var t order.ReleaseTask
			var next int64
			err := sc.Scan(&t.OrderID, &t.ReservationID, &t.Reason, &t.Attempts, &next)
			t.NextAttemptAt = fromUS(next)
			return t, err
		})
	if err != nil {
		return nil, fmt.Errorf("read releases: %w", err)
	}
	return out, nil
}

// CompleteReleaseTask implements order.Store.
func (s *Store) CompleteReleaseTask(ctx context.Context, orderID string) error {
	_, err := s.db.SQL().ExecContext(ctx, s.q(`DELETE FROM reservation_releases WHERE order_id = ?`), orderID)
	return err
}

// RetryReleaseTask implements order.Store.
func (s *Store) RetryReleaseTask(ctx context.Context, orderID string, next time.Time, errText string) error {
	_, err := s.db.SQL().ExecContext(ctx, s.q(`
		UPDATE reservation_releases SET attempts = attempts + 1, next_attempt_us = ?, last_error = ? WHERE order_id = ?`),
		us(next), truncate(errText, 1000), orderID)
	return err
}

// --- customer snapshots ---

// SaveCustomer implements order.Store.
func (s *Store) SaveCustomer(ctx context.Context, c order.Customer) error {
	hasLimit := 0
	if c.HasCreditLimit {
		hasLimit = 1
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO customers (customer_id, display_name, account_state, currency, allowed_channels, has_credit_limit,
				credit_currency, credit_limit_minor, available_credit_minor, fetched_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (customer_id) DO UPDATE SET display_name = excluded.display_name,
				account_state = excluded.account_state, currency = excluded.currency,
				allowed_channels = excluded.allowed_channels, has_credit_limit = excluded.has_credit_limit,
				credit_currency = excluded.credit_currency, credit_limit_minor = excluded.credit_limit_minor,
				available_credit_minor = excluded.available_credit_minor, fetched_us = excluded.fetched_us
			WHERE customers.fetched_us <= excluded.fetched_us`),
			c.ID, c.DisplayName, int(c.Account), c.Currency, strings.Join(c.AllowedChannels, ","), hasLimit,
			c.CreditCurrency, c.CreditLimitMinor, c.AvailableCreditMinor, us(c.FetchedAt))
		return err
	})
}

// GetCustomer implements order.Store.
func (s *Store) GetCustomer(ctx context.Context, id string) (order.Customer, error) {
	var (
		c        order.Customer
		account  int
		channels string
		hasLimit int
		fetched  int64
	)
	err := s.db.SQL().QueryRowContext(ctx, s.q(`
		SELECT customer_id, display_name, account_state, currency, allowed_channels, has_credit_limit, credit_currency,
			credit_limit_minor, available_credit_minor, fetched_us
		FROM customers WHERE customer_id = ?`), id).Scan(&c.ID, &c.DisplayName, &account, &c.Currency, &channels, &hasLimit,
		&c.CreditCurrency, &c.CreditLimitMinor, &c.AvailableCreditMinor, &fetched)
	if errors.Is(err, sql.ErrNoRows) {
		return order.Customer{}, order.ErrCustomerNotFound
	}
	if err != nil {
		return order.Customer{}, fmt.Errorf("read customer %s: %w", id, err)
	}
	c.Account = order.AccountState(account)
	if channels != "" {
		c.AllowedChannels = strings.Split(channels, ",")
	}
	c.HasCreditLimit = hasLimit != 0
	c.FetchedAt = fromUS(fetched)
	return c, nil
}

// --- singleton leases and retention ---

// AcquireLease implements order.Store.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var got string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO worker_leases (name, holder, until_us) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_us = excluded.until_us
			WHERE worker_leases.holder = excluded.holder OR worker_leases.until_us < ?`),
			name, holder, us(until), us(now)); err != nil {
			return fmt.Errorf("acquire lease %s: %w", name, err)
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT holder FROM worker_leases WHERE name = ?`), name).Scan(&got)
	})
	return got == holder, err
}

// PurgeIdempotencyKeys implements order.Store.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.SQL().ExecContext(ctx, s.q(`DELETE FROM idempotency_keys WHERE status <> 'pending' AND updated_us < ?`), us(before))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return res.RowsAffected()
}
