package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"

	"github.com/transload/transload/services/order/internal/order"
)

// --- financial documents and posting batches ---

// writeDocuments stores docs (invoices, credit memos) with their lines in
// tx, each line pending and in no batch, so the poster collects it. A
// document is validated first (order.Document.Validate); an invalid one
// fails the transaction.
//
// Inserting a document id that is already stored is a no-op: the stored
// document and its lines stay exactly as they were (first write wins) and
// no error is returned, so a change that is replayed or re-derives the same
// document cannot double it. Callers that must detect a different content
// under the same id compare with GetDocument.
func (s *Store) writeDocuments(ctx context.Context, tx *sql.Tx, docs []order.Document) error {
	for _, d := range docs {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("write document: %w", err)
		}
		res, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO documents (document_id, kind, order_id, customer_id, source_id, currency, created_us)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (document_id) DO NOTHING`),
			d.ID, string(d.Kind), d.OrderID, d.CustomerID, d.SourceID, d.Currency, us(d.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert document %s: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("insert document %s: %w", d.ID, err)
		} else if n == 0 {
			continue // stored before: left as it was
		}
		for i, l := range d.Lines {
			if _, err := tx.ExecContext(ctx, s.q(`
				INSERT INTO document_lines (document_id, source_line_id, line_no, kind, currency, order_line_id, sku,
					quantity, unit_price_minor, tax_minor, amount_minor, created_us)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				d.ID, l.SourceLineID, i, string(d.Kind), d.Currency, l.OrderLineID, l.SKU,
				l.Quantity, l.UnitPriceMinor, l.TaxMinor, l.AmountMinor, us(d.CreatedAt)); err != nil {
				return fmt.Errorf("insert document %s line %s: %w", d.ID, l.SourceLineID, err)
			}
		}
	}
	return nil
}

// GetDocument returns a stored document with its lines in their order;
// order.ErrDocumentNotFound for an unknown id.
func (s *Store) GetDocument(ctx context.Context, id string) (order.Document, error) {
	var (
		d       order.Document
		kind    string
		created int64
	)
	err := s.db.SQL().QueryRowContext(ctx, s.q(`
		SELECT document_id, kind, order_id, customer_id, source_id, currency, created_us FROM documents WHERE document_id = ?`), id).
		Scan(&d.ID, &kind, &d.OrderID, &d.CustomerID, &d.SourceID, &d.Currency, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("document %s: %w", id, order.ErrDocumentNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("read document %s: %w", id, err)
	}
	d.Kind, d.CreatedAt = order.DocumentKind(kind), fromUS(created)
	rows, err := s.db.SQL().QueryContext(ctx, s.q(`
		SELECT source_line_id, order_line_id, sku, quantity, unit_price_minor, tax_minor, amount_minor
		FROM document_lines WHERE document_id = ? ORDER BY line_no`), id)
	if err != nil {
		return d, fmt.Errorf("read document %s lines: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l order.DocumentLine
		if err := rows.Scan(&l.SourceLineID, &l.OrderLineID, &l.SKU, &l.Quantity, &l.UnitPriceMinor, &l.TaxMinor, &l.AmountMinor); err != nil {
			return d, err
		}
		d.Lines = append(d.Lines, l)
	}
	return d, rows.Err()
}

// ListDocuments returns the documents of an order, oldest first.
func (s *Store) ListDocuments(ctx context.Context, orderID string) ([]order.Document, error) {
	ids, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT document_id FROM documents WHERE order_id = ? ORDER BY created_us, document_id`),
		[]any{orderID}, func(sc sqldb.Scanner) (string, error) {
			var id string
			err := sc.Scan(&id)
			return id, err
		})
	if err != nil {
		return nil, fmt.Errorf("list documents of %s: %w", orderID, err)
	}
	docs := make([]order.Document, 0, len(ids))
	for _, id := range ids {
		d, err := s.GetDocument(ctx, id)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// PostingEncoder builds the outbox events of posting batch changes;
// orderpb.Encoder implements it. A Store whose encoder does not cannot
// record batch outcomes.
type PostingEncoder interface {
	// PostingBatchPosted is the PostingBatchPostedEvent of b after a
	// submission that started in state prev.
	PostingBatchPosted(b order.PostingBatch, prev order.PostingBatchState) (outbox.Event, error)
	// PostingLineRejected is the PostingLineRejectedEvent of line l of b
	// and the POSTING_LINE_REJECTED exception for the desk.
	PostingLineRejected(b order.PostingBatch, l order.PostingLine, at time.Time) ([]outbox.Event, error)
	// PostingAudit is the AuditRecordedEvent of a batch change.
	PostingAudit(a order.Audit) (outbox.Event, error)
}

var _ order.PostingStore = (*Store)(nil)

const batchColumns = `batch_id, kind, currency, state, create_request_id, cutoff_us, erp_batch_reference, attempt_count,
	last_error, created_us, updated_us, submitted_us, version`

const batchLineColumns = `line_no, document_id, source_line_id, order_id, customer_id, sku, quantity, amount_minor, tax_minor,
	account, line_hash, state, rejection_reason, erp_error_code, erp_document_number, attempt_count, posted_us`

func scanBatch(sc sqldb.Scanner) (order.PostingBatch, error) {
	var (
		b                                   order.PostingBatch
		kind                                string
		state                               int
		cutoff, created, updated, submitted int64
	)
	err := sc.Scan(&b.ID, &kind, &b.Currency, &state, &b.CreateRequestID, &cutoff, &b.ERPBatchReference, &b.Attempts,
		&b.LastError, &created, &updated, &submitted, &b.Version)
	b.Kind, b.State = order.DocumentKind(kind), order.PostingBatchState(state)
	b.Cutoff, b.CreatedAt, b.UpdatedAt, b.SubmittedAt = fromUS(cutoff), fromUS(created), fromUS(updated), fromUS(submitted)
	return b, err
}

func scanBatchLine(sc sqldb.Scanner) (order.PostingLine, error) {
	var (
		l      order.PostingLine
		state  int
		posted int64
	)
	err := sc.Scan(&l.No, &l.DocumentID, &l.SourceLineID, &l.OrderID, &l.CustomerID, &l.SKU, &l.Quantity, &l.AmountMinor, &l.TaxMinor,
		&l.Account, &l.Hash, &state, &l.RejectionReason, &l.ERPErrorCode, &l.ERPDocumentNumber, &l.Attempts, &posted)
	l.State, l.PostedAt = order.PostingLineState(state), fromUS(posted)
	return l, err
}

// getBatch reads a batch with its lines (locked for update when lock).
func (s *Store) getBatch(ctx context.Context, q querier, id string, lock bool) (order.PostingBatch, error) {
	query := `SELECT ` + batchColumns + ` FROM posting_batches WHERE batch_id = ?`
	if lock {
		query += s.forUpdate()
	}
	b, err := scanBatch(q.QueryRowContext(ctx, s.q(query), id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("posting batch %s: %w", id, order.ErrPostingBatchNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("read posting batch %s: %w", id, err)
	}
	b.Lines, err = sqldb.QueryAll(ctx, q, s.q(`SELECT `+batchLineColumns+` FROM posting_batch_lines WHERE batch_id = ? ORDER BY line_no`),
		[]any{id}, scanBatchLine)
	if err != nil {
		return b, fmt.Errorf("read posting batch %s lines: %w", id, err)
	}
	return b, nil
}

// GetPostingBatch implements order.PostingStore.
func (s *Store) GetPostingBatch(ctx context.Context, id string) (order.PostingBatch, error) {
	return s.getBatch(ctx, s.db.SQL(), id, false)
}

// CreatePostingBatch implements order.PostingStore; audits go through the
// outbox in the creating transaction.
func (s *Store) CreatePostingBatch(ctx context.Context, b order.PostingBatch, limit int, account func(order.DocumentKind) string, audits ...order.Audit) (order.PostingBatch, bool, error) {
	if b.CreateRequestID != "" {
		var id string
		err := s.db.SQL().QueryRowContext(ctx, s.q(`SELECT batch_id FROM posting_batches WHERE create_request_id = ?`), b.CreateRequestID).Scan(&id)
		if err == nil {
			got, err := s.GetPostingBatch(ctx, id)
			return got, false, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return b, false, fmt.Errorf("read posting batch request: %w", err)
		}
	}
	created := true
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		type row struct {
			docID, sourceLineID, orderID, customerID, sku string
			quantity, amount, tax                         int64
		}
		rows, err := sqldb.QueryAll(ctx, tx, s.q(`
			SELECT l.document_id, l.source_line_id, d.order_id, d.customer_id, l.sku, l.quantity, l.amount_minor, l.tax_minor
			FROM document_lines l JOIN documents d ON d.document_id = l.document_id
			WHERE l.batch_id = '' AND l.posting_state = 1 AND l.kind = ? AND l.currency = ? AND l.created_us < ?
			ORDER BY l.created_us, l.document_id, l.line_no LIMIT ?`+s.forUpdate()),
			[]any{string(b.Kind), b.Currency, us(b.Cutoff), limit + 1000}, func(sc sqldb.Scanner) (row, error) {
				var r row
				err := sc.Scan(&r.docID, &r.sourceLineID, &r.orderID, &r.customerID, &r.sku, &r.quantity, &r.amount, &r.tax)
				return r, err
			})
		if err != nil {
			return fmt.Errorf("collect document lines: %w", err)
		}
		// Whole documents only: stop before the document that would pass
		// the limit (always keep the first).
		end := 0
		for end < len(rows) {
			next := end
			for next < len(rows) && rows[next].docID == rows[end].docID {
				next++
			}
			if end > 0 && next > limit {
				break
			}
			end = next
		}
		rows = rows[:end]
		if len(rows) == 0 {
			return order.ErrNothingToPost
		}
		if _, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO posting_batches (batch_id, kind, currency, state, create_request_id, cutoff_us, created_us, updated_us, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`),
			b.ID, string(b.Kind), b.Currency, int(order.BatchOpen), b.CreateRequestID, us(b.Cutoff), us(b.CreatedAt), us(b.UpdatedAt)); err != nil {
			if sqldb.IsUniqueViolation(err) && b.CreateRequestID != "" {
				created = false // a concurrent call with the same request id won
				return errRequestRaced
			}
			return fmt.Errorf("insert posting batch: %w", err)
		}
		acct := account(b.Kind)
		for i, r := range rows {
			hash := order.LineHash(b.Kind, r.docID, r.orderID, r.sourceLineID, r.sku, r.quantity, r.amount, r.tax, b.Currency, acct)
			if _, err := tx.ExecContext(ctx, s.q(`
				INSERT INTO posting_batch_lines (batch_id, line_no, document_id, source_line_id, order_id, customer_id, sku, quantity,
					amount_minor, tax_minor, account, line_hash, state)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				b.ID, i+1, r.docID, r.sourceLineID, r.orderID, r.customerID, r.sku, r.quantity, r.amount, r.tax, acct, hash,
				int(order.LinePending)); err != nil {
				return fmt.Errorf("insert posting batch line: %w", err)
			}
			res, err := tx.ExecContext(ctx, s.q(`UPDATE document_lines SET batch_id = ? WHERE document_id = ? AND source_line_id = ? AND batch_id = ''`),
				b.ID, r.docID, r.sourceLineID)
			if err != nil {
				return fmt.Errorf("batch document line: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("document %s line %s joined another batch meanwhile", r.docID, r.sourceLineID)
			}
		}
		return s.writePostingEffects(ctx, tx, b, order.PostingEffects{Audits: audits})
	})
	if errors.Is(err, errRequestRaced) {
		return s.CreatePostingBatch(ctx, b, limit, account, audits...)
	}
	if err != nil {
		return b, false, err
	}
	got, err := s.GetPostingBatch(ctx, b.ID)
	return got, created, err
}

// errRequestRaced: another CreatePostingBatch with the same request id
// committed first; the caller reads its batch.
var errRequestRaced = errors.New("posting batch request raced")

// ListPostingBatches implements order.PostingStore.
func (s *Store) ListPostingBatches(ctx context.Context, q order.PostingQuery) ([]order.PostingBatch, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.Kind != "" {
		add("kind = ?", string(q.Kind))
	}
	if q.State != 0 {
		add("state = ?", int(q.State))
	}
	if q.Currency != "" {
		add("currency = ?", q.Currency)
	}
	if !q.CreatedFrom.IsZero() {
		add("created_us >= ?", us(q.CreatedFrom))
	}
	if !q.CreatedBefore.IsZero() {
		add("created_us < ?", us(q.CreatedBefore))
	}
	dir, cmpOp := "DESC", "<"
	if q.Ascending {
		dir, cmpOp = "ASC", ">"
	}
	if q.AfterID != "" {
		where = append(where, "(created_us "+cmpOp+" ? OR (created_us = ? AND batch_id "+cmpOp+" ?))")
		args = append(args, us(q.AfterTime), us(q.AfterTime), q.AfterID)
	}
	query := `SELECT ` + batchColumns + ` FROM posting_batches`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	query += fmt.Sprintf(" ORDER BY created_us %s, batch_id %s LIMIT %d", dir, dir, limit)
	batches, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(query), args, scanBatch)
	if err != nil {
		return nil, fmt.Errorf("list posting batches: %w", err)
	}
	for i := range batches {
		if batches[i].Lines, err = sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT `+batchLineColumns+` FROM posting_batch_lines WHERE batch_id = ? ORDER BY line_no`),
			[]any{batches[i].ID}, scanBatchLine); err != nil {
			return nil, fmt.Errorf("list posting batch lines: %w", err)
		}
	}
	return batches, nil
}

// UpdatePostingBatch implements order.PostingStore.
func (s *Store) UpdatePostingBatch(ctx context.Context, id string, key *order.IdempotencyKey, fn func(b *order.PostingBatch) (order.PostingEffects, error)) (order.PostingBatch, error) {
	var out order.PostingBatch
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		before, err := s.getBatch(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if key != nil {
			// The batch is locked: calls with the same key check it one
			// after the other.
			r, ok, err := s.readClaim(ctx, tx, key.Kind, key.Key, true)
			if err != nil {
				return err
			}
			if ok {
				if r.hash != key.PayloadHash || r.orderID != id {
					return fmt.Errorf("request %s: %w", key.Key, order.ErrIdempotencyKeyReused)
				}
				return order.ErrDuplicateEvent
			}
		}
		b := before
		b.Lines = slices.Clone(before.Lines)
		eff, err := fn(&b)
		if err != nil {
			return err
		}
		b.Version = before.Version + 1
		if _, err := tx.ExecContext(ctx, s.q(`
			UPDATE posting_batches SET state = ?, erp_batch_reference = ?, attempt_count = ?, last_error = ?,
				updated_us = ?, submitted_us = ?, version = ?
			WHERE batch_id = ?`),
			int(b.State), b.ERPBatchReference, b.Attempts, truncate(b.LastError, 1000), us(b.UpdatedAt), us(b.SubmittedAt),
			b.Version, b.ID); err != nil {
			return fmt.Errorf("update posting batch: %w", err)
		}
		if len(b.Lines) != len(before.Lines) {
			return fmt.Errorf("posting batch %s: lines are fixed at creation", b.ID)
		}
		for i, l := range b.Lines {
			if l == before.Lines[i] {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`
				UPDATE posting_batch_lines SET state = ?, rejection_reason = ?, erp_error_code = ?, erp_document_number = ?,
					attempt_count = ?, posted_us = ?
				WHERE batch_id = ? AND line_no = ?`),
				int(l.State), truncate(l.RejectionReason, 1000), l.ERPErrorCode, l.ERPDocumentNumber, l.Attempts, us(l.PostedAt), b.ID, l.No); err != nil {
				return fmt.Errorf("update posting line: %w", err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`
				UPDATE document_lines SET posting_state = ?, erp_document_number = ? WHERE document_id = ? AND source_line_id = ?`),
				int(l.State), l.ERPDocumentNumber, l.DocumentID, l.SourceLineID); err != nil {
				return fmt.Errorf("update document line: %w", err)
			}
		}
		if err := s.writePostingEffects(ctx, tx, b, eff); err != nil {
			return err
		}
		if key != nil {
			if err := s.recordKey(ctx, tx, *key, id); err != nil {
				return err
			}
		}
		out = b
		return nil
	})
	return out, err
}

// writePostingEffects writes the events and exceptions of a batch change.
func (s *Store) writePostingEffects(ctx context.Context, tx *sql.Tx, b order.PostingBatch, eff order.PostingEffects) error {
	if !eff.Posted && len(eff.Rejected) == 0 && len(eff.Audits) == 0 {
		return nil
	}
	enc, ok := s.encode.(PostingEncoder)
	if !ok {
		return fmt.Errorf("sqlstore: encoder %T cannot encode posting events", s.encode)
	}
	var out []outbox.Event
	if eff.Posted {
		ev, err := enc.PostingBatchPosted(b, eff.Previous)
		if err != nil {
			return fmt.Errorf("encode posting batch event: %w", err)
		}
		out = append(out, ev)
	}
	for _, l := range eff.Rejected {
		evs, err := enc.PostingLineRejected(b, l, eff.At)
		if err != nil {
			return fmt.Errorf("encode posting line rejection: %w", err)
		}
		out = append(out, evs...)
	}
	for _, a := range eff.Audits {
		ev, err := enc.PostingAudit(a)
		if err != nil {
			return fmt.Errorf("encode posting audit record: %w", err)
		}
		out = append(out, ev)
	}
	if _, err := outbox.WriteBatch(ctx, tx, s.db.Dialect(), out); err != nil {
		return fmt.Errorf("write posting events: %w", err)
	}
	return nil
}

// PendingPostings implements order.PostingStore.
func (s *Store) PendingPostings(ctx context.Context) ([]order.KindCurrency, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`
		SELECT DISTINCT kind, currency FROM document_lines WHERE batch_id = '' AND posting_state = 1 ORDER BY kind, currency`),
		nil, func(sc sqldb.Scanner) (order.KindCurrency, error) {
			var kc order.KindCurrency
			var kind string
			err := sc.Scan(&kind, &kc.Currency)
			kc.Kind = order.DocumentKind(kind)
			return kc, err
		})
	if err != nil {
		return nil, fmt.Errorf("pending postings: %w", err)
	}
	return out, nil
}

// UnfinishedPostingBatches implements order.PostingStore.
func (s *Store) UnfinishedPostingBatches(ctx context.Context, limit int) ([]string, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`
		SELECT batch_id FROM posting_batches WHERE state IN (?, ?, ?) ORDER BY created_us, batch_id LIMIT ?`),
		[]any{int(order.BatchOpen), int(order.BatchSubmitting), int(order.BatchSubmitFailed), limit},
		func(sc sqldb.Scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		})
	if err != nil {
		return nil, fmt.Errorf("unfinished posting batches: %w", err)
	}
	return out, nil
}
