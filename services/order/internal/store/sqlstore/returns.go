package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/order/internal/order"
)

// ReturnEncoder turns return events and the audit records of return
// changes into outbox events; orderpb.Encoder implements it. The Store's
// Encoder must implement it for the return methods to work.
type ReturnEncoder interface {
	ReturnEvent(order.ReturnEvent) (outbox.Event, error)
	ReturnAudit(order.Audit) (outbox.Event, error)
}

var _ order.ReturnStore = (*Store)(nil)

const returnColumns = `return_id, order_id, customer_id, channel, currency, state, comment, rejection_message,
	refund_minor, credit_total_minor, credit_memo_ref, replacement_order_id, create_request_id, lines, history,
	created_us, updated_us, received_us, credited_us, version`

func scanReturn(sc sqldb.Scanner) (*order.Return, error) {
	var (
		r                                             order.Return
		lines, history                                string
		state                                         int
		created, updated, received, credited, version int64
	)
	if err := sc.Scan(&r.ID, &r.OrderID, &r.CustomerID, &r.Channel, &r.Currency, &state, &r.Comment, &r.RejectionMessage,
		&r.RefundMinor, &r.CreditTotalMinor, &r.CreditMemoRef, &r.ReplacementOrderID, &r.CreateRequestID, &lines, &history,
		&created, &updated, &received, &credited, &version); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(lines), &r.Lines); err != nil {
		return nil, fmt.Errorf("return %s lines: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(history), &r.History); err != nil {
		return nil, fmt.Errorf("return %s history: %w", r.ID, err)
	}
	r.State = order.ReturnState(state)
	r.CreatedAt, r.UpdatedAt, r.ReceivedAt, r.CreditedAt = fromUS(created), fromUS(updated), fromUS(received), fromUS(credited)
	r.Version = version
	return &r, nil
}

func (s *Store) returnEncoder() (ReturnEncoder, error) {
	enc, ok := s.encode.(ReturnEncoder)
	if !ok {
		return nil, fmt.Errorf("sqlstore: encoder %T cannot encode return events", s.encode)
	}
	return enc, nil
}

// CreateReturn implements order.ReturnStore.
func (s *Store) CreateReturn(ctx context.Context, orderID string, key order.IdempotencyKey,
	build func(o *order.Order, existing []*order.Return) (*order.Return, order.ReturnEffects, error),
) (*order.Return, bool, error) {
	var (
		out      *order.Return
		replayed bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out, replayed = nil, false
		// The order's row lock serializes returns of one order, so the
		// quantity rule sees every return committed before.
		o, err := s.getOrder(ctx, tx, orderID, true)
		if err != nil {
			return err
		}
		r, ok, err := s.readClaim(ctx, tx, key.Kind, key.Key, true)
		if err != nil {
			return err
		}
		if ok {
			if r.hash != key.PayloadHash {
				return order.ErrIdempotencyKeyReused
			}
			if out, err = s.getReturn(ctx, tx, r.orderID); err != nil {
				return err
			}
			replayed = true
			return s.withCreditMemoRefs(ctx, tx, []*order.Return{out})
		}
		existing, err := s.orderReturns(ctx, tx, orderID)
		if err != nil {
			return err
		}
		ret, eff, err := build(o, existing)
		if err != nil {
			return err
		}
		ret.Version = 1
		if err := s.insertReturn(ctx, tx, ret); err != nil {
			return err
		}
		if err := s.writeReturnEffects(ctx, tx, ret, eff); err != nil {
			return err
		}
		if err := s.recordKey(ctx, tx, key, ret.ID); err != nil {
			return err
		}
		out = ret
		return nil
	})
	return out, replayed, err
}

func (s *Store) insertReturn(ctx context.Context, tx *sql.Tx, r *order.Return) error {
	lines, history, err := marshalReturnParts(r)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO order_returns (`+returnColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.OrderID, r.CustomerID, r.Channel, r.Currency, int(r.State), r.Comment, r.RejectionMessage,
		r.RefundMinor, r.CreditTotalMinor, r.CreditMemoRef, r.ReplacementOrderID, r.CreateRequestID, lines, history,
		us(r.CreatedAt), us(r.UpdatedAt), us(r.ReceivedAt), us(r.CreditedAt), r.Version); err != nil {
		return fmt.Errorf("insert return: %w", err)
	}
	return nil
}

func marshalReturnParts(r *order.Return) (lines, history string, err error) {
	l, err := json.Marshal(r.Lines)
	if err != nil {
		return "", "", err
	}
	h, err := json.Marshal(r.History)
	if err != nil {
		return "", "", err
	}
	return string(l), string(h), nil
}

// writeReturnEffects writes the events and audit records of a change of r
// to the outbox in tx, the snapshots they carry stamped with r's version.
func (s *Store) writeReturnEffects(ctx context.Context, tx *sql.Tx, r *order.Return, eff order.ReturnEffects) error {
	enc, err := s.returnEncoder()
	if err != nil {
		return err
	}
	out := make([]outbox.Event, 0, len(eff.Events)+len(eff.Audits))
	for _, ev := range eff.Events {
		ev.Return.Version = r.Version
		oev, err := enc.ReturnEvent(ev)
		if err != nil {
			return fmt.Errorf("encode return event: %w", err)
		}
		out = append(out, oev)
	}
	for _, a := range eff.Audits {
		if after, ok := a.After.(*order.Return); ok {
			after.Version = r.Version
		}
		oev, err := enc.ReturnAudit(a)
		if err != nil {
			return fmt.Errorf("encode return audit record: %w", err)
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

// GetReturn implements order.ReturnStore. The return's credit memo
// reference is the ERP document number the poster recorded on its credit
// memo lines (several, comma-separated, when receipts were posted apart).
func (s *Store) GetReturn(ctx context.Context, id string) (*order.Return, error) {
	r, err := s.getReturn(ctx, s.db.SQL(), id)
	if err != nil {
		return nil, err
	}
	return r, s.withCreditMemoRefs(ctx, s.db.SQL(), []*order.Return{r})
}

func (s *Store) getReturn(ctx context.Context, q querier, id string) (*order.Return, error) {
	r, err := scanReturn(q.QueryRowContext(ctx, s.q(`SELECT `+returnColumns+` FROM order_returns WHERE return_id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, order.ErrReturnNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read return %s: %w", id, err)
	}
	return r, nil
}

// withCreditMemoRefs sets the credit memo reference of each return that has
// none stored from the ERP document numbers of its posted credit memo
// lines.
func (s *Store) withCreditMemoRefs(ctx context.Context, q querier, rs []*order.Return) error {
	for _, r := range rs {
		if r.CreditMemoRef != "" || r.CreditTotalMinor == 0 {
			continue
		}
		refs, err := sqldb.QueryAll(ctx, q, s.q(`
			SELECT DISTINCT l.erp_document_number FROM documents d JOIN document_lines l ON l.document_id = d.document_id
			WHERE d.order_id = ? AND d.kind = ? AND d.source_id = ? AND l.erp_document_number <> ''
			ORDER BY l.erp_document_number`),
			[]any{r.OrderID, string(order.DocumentCreditMemo), r.ID}, func(sc sqldb.Scanner) (string, error) {
				var ref string
				err := sc.Scan(&ref)
				return ref, err
			})
		if err != nil {
			return fmt.Errorf("read credit memo numbers of return %s: %w", r.ID, err)
		}
		r.CreditMemoRef = strings.Join(refs, ",")
	}
	return nil
}

// orderReturns reads every return of an order, oldest first.
func (s *Store) orderReturns(ctx context.Context, q querier, orderID string) ([]*order.Return, error) {
	out, err := sqldb.QueryAll(ctx, q, s.q(`SELECT `+returnColumns+` FROM order_returns WHERE order_id = ? ORDER BY created_us, return_id`),
		[]any{orderID}, scanReturn)
	if err != nil {
		return nil, fmt.Errorf("read returns of order %s: %w", orderID, err)
	}
	return out, nil
}

// ListReturns implements order.ReturnStore.
func (s *Store) ListReturns(ctx context.Context, rq order.ReturnQuery) ([]*order.Return, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if rq.OrderID != "" {
		add("order_id = ?", rq.OrderID)
	}
	if rq.CustomerID != "" {
		add("customer_id = ?", rq.CustomerID)
	}
	if rq.State != order.ReturnStateUnspecified {
		add("state = ?", int(rq.State))
	}
	for _, c := range []struct {
		op string
		t  time.Time
	}{{">=", rq.Created.From}, {">", rq.Created.After}, {"<", rq.Created.Before}, {"<=", rq.Created.Through}} {
		if !c.t.IsZero() {
			add("created_us "+c.op+" ?", us(c.t))
		}
	}
	dir, op := "DESC", "<"
	if rq.Ascending {
		dir, op = "ASC", ">"
	}
	if rq.AfterID != "" {
		c := us(rq.AfterTime)
		add("(created_us "+op+" ? OR (created_us = ? AND return_id "+op+" ?))", c, c, rq.AfterID)
	}
	query := `SELECT ` + returnColumns + ` FROM order_returns`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_us " + dir + ", return_id " + dir + " LIMIT ?"
	args = append(args, rq.Limit)
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(query), args, scanReturn)
	if err != nil {
		return nil, fmt.Errorf("list returns: %w", err)
	}
	return out, s.withCreditMemoRefs(ctx, s.db.SQL(), out)
}

// UpdateReturn implements order.ReturnStore.
func (s *Store) UpdateReturn(ctx context.Context, id string, key *order.IdempotencyKey,
	fn func(r *order.Return, o *order.Order, others []*order.Return) (order.ReturnEffects, error),
) (*order.Return, error) {
	var out *order.Return
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = nil
		var orderID string
		err := tx.QueryRowContext(ctx, s.q(`SELECT order_id FROM order_returns WHERE return_id = ?`), id).Scan(&orderID)
		if errors.Is(err, sql.ErrNoRows) {
			return order.ErrReturnNotFound
		}
		if err != nil {
			return fmt.Errorf("read return %s: %w", id, err)
		}
		// Lock the order first, as CreateReturn and UpdateOrder do: one
		// lock order, and concurrent calls with one key check it in turn.
		o, err := s.getOrder(ctx, tx, orderID, true)
		if err != nil {
			return err
		}
		if key != nil {
			r, ok, err := s.readClaim(ctx, tx, key.Kind, key.Key, true)
			if err != nil {
				return err
			}
			if ok {
				if r.hash != key.PayloadHash || r.orderID != id {
					return &order.EventIDReusedError{EventID: key.Key}
				}
				return order.ErrDuplicateEvent
			}
		}
		all, err := s.orderReturns(ctx, tx, orderID)
		if err != nil {
			return err
		}
		var (
			ret    *order.Return
			others []*order.Return
		)
		for _, r := range all {
			if r.ID == id {
				ret = r
			} else {
				others = append(others, r)
			}
		}
		if ret == nil {
			return order.ErrReturnNotFound
		}
		if err := s.withCreditMemoRefs(ctx, tx, []*order.Return{ret}); err != nil {
			return err
		}
		orderBefore := o.Clone()
		eff, err := fn(ret, o, others)
		if err != nil {
			return err
		}
		ret.Version++
		if err := s.saveReturn(ctx, tx, ret); err != nil {
			return err
		}
		if eff.Order != nil {
			eff.Order.Version++
			if err := s.saveOrder(ctx, tx, orderBefore, eff.Order); err != nil {
				return err
			}
		}
		if err := s.writeDocuments(ctx, tx, eff.Documents); err != nil {
			return err
		}
		if err := s.writeReturnEffects(ctx, tx, ret, eff); err != nil {
			return err
		}
		if key != nil {
			if err := s.recordKey(ctx, tx, *key, id); err != nil {
				return err
			}
		}
		out = ret
		return nil
	})
	return out, err
}

func (s *Store) saveReturn(ctx context.Context, tx *sql.Tx, r *order.Return) error {
	lines, history, err := marshalReturnParts(r)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`
		UPDATE order_returns SET state = ?, rejection_message = ?, refund_minor = ?, credit_total_minor = ?, credit_memo_ref = ?,
			replacement_order_id = ?, lines = ?, history = ?, updated_us = ?, received_us = ?, credited_us = ?, version = ?
		WHERE return_id = ?`),
		int(r.State), r.RejectionMessage, r.RefundMinor, r.CreditTotalMinor, r.CreditMemoRef, r.ReplacementOrderID,
		lines, history, us(r.UpdatedAt), us(r.ReceivedAt), us(r.CreditedAt), r.Version, r.ID); err != nil {
		return fmt.Errorf("update return: %w", err)
	}
	return nil
}

// returnsToCreditQuery selects the RECEIVED refund returns whose credit
// memo lines are all posted, oldest change first. The partial index
// order_returns_to_credit (migration 0009) serves its scan of
// order_returns: the once-a-second credit completion reads only RECEIVED
// returns with a credit, in index order, instead of every return ever
// made; keep the predicate and ORDER BY matching that index.
const returnsToCreditQuery = `
		SELECT r.return_id, r.updated_us FROM order_returns r
		WHERE r.state = ? AND r.credit_total_minor > 0
		AND EXISTS (SELECT 1 FROM documents d WHERE d.order_id = r.order_id AND d.kind = ? AND d.source_id = r.return_id)
		AND NOT EXISTS (SELECT 1 FROM documents d JOIN document_lines l ON l.document_id = d.document_id
			WHERE d.order_id = r.order_id AND d.kind = ? AND d.source_id = r.return_id AND l.posting_state NOT IN (2, 4))
		AND (r.updated_us > ? OR (r.updated_us = ? AND r.return_id > ?))
		ORDER BY r.updated_us, r.return_id LIMIT ?`

// returnsToCreditArgs are returnsToCreditQuery's arguments; the zero
// cursor starts before every return.
func returnsToCreditArgs(after order.ReturnCursor, limit int) []any {
	at := int64(-1)
	if !after.UpdatedAt.IsZero() {
		at = us(after.UpdatedAt)
	}
	return []any{int(order.ReturnReceived), string(order.DocumentCreditMemo), string(order.DocumentCreditMemo),
		at, at, after.ID, limit}
}

// ReturnsToCredit implements order.ReturnStore. A credit memo line is
// posted in state 2 (POSTED) or 4 (DUPLICATE, already posted earlier) of
// order.v1 PostingLine.State, as the poster records them.
func (s *Store) ReturnsToCredit(ctx context.Context, after order.ReturnCursor, limit int) ([]order.ReturnCursor, error) {
	ids, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(returnsToCreditQuery), returnsToCreditArgs(after, limit),
		func(sc sqldb.Scanner) (order.ReturnCursor, error) {
			var c order.ReturnCursor
			var at int64
			err := sc.Scan(&c.ID, &at)
			c.UpdatedAt = fromUS(at)
			return c, err
		})
	if err != nil {
		return nil, fmt.Errorf("returns to credit: %w", err)
	}
	return ids, nil
}

// authorizedBeforeQuery selects AUTHORIZED returns last changed before a
// time, oldest first: the expiry task's scan. The partial index
// order_returns_authorized (migration 0010, WHERE state = 2) serves it in
// index order; the state is a literal (order.ReturnAuthorized) because a
// planner uses a partial index only for a predicate it can prove, and the
// predicate and ORDER BY must keep matching that index.
const authorizedBeforeQuery = `
		SELECT return_id FROM order_returns
		WHERE state = 2 AND updated_us < ?
		ORDER BY updated_us, return_id LIMIT ?`

// AuthorizedBefore implements order.ReturnStore.
func (s *Store) AuthorizedBefore(ctx context.Context, before time.Time, limit int) ([]string, error) {
	ids, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(authorizedBeforeQuery), []any{us(before), limit},
		func(sc sqldb.Scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		})
	if err != nil {
		return nil, fmt.Errorf("authorized returns: %w", err)
	}
	return ids, nil
}
