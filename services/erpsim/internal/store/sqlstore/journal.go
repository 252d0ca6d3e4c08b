package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

func (s *Store) journalBatch(ctx context.Context, q querier, batchID string) (erp.JournalBatch, bool, error) {
	var (
		b              erp.JournalBatch
		kind           int
		lines, results string
		created        int64
	)
	err := q.QueryRowContext(ctx, s.q(`SELECT batch_id, kind, lines, payload, fingerprint, results, create_time FROM journal_batches WHERE batch_id = ?`), batchID).
		Scan(&b.BatchID, &kind, &lines, &b.Payload, &b.Fingerprint, &results, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return erp.JournalBatch{}, false, nil
	}
	if err != nil {
		return erp.JournalBatch{}, false, fmt.Errorf("sqlstore: read journal batch %s: %w", batchID, err)
	}
	b.Kind, b.CreateTime = erp.JournalKind(kind), fromMicros(created)
	if err := fromJSON(lines, &b.Lines); err != nil {
		return erp.JournalBatch{}, false, err
	}
	if err := fromJSON(results, &b.Results); err != nil {
		return erp.JournalBatch{}, false, err
	}
	return b, true, nil
}

// JournalBatch returns a posted batch.
func (s *Store) JournalBatch(ctx context.Context, batchID string) (erp.JournalBatch, error) {
	b, found, err := s.journalBatch(ctx, s.db.SQL(), batchID)
	if err != nil {
		return erp.JournalBatch{}, err
	}
	if !found {
		return erp.JournalBatch{}, &erp.NotFoundError{Kind: erp.ErrJournalBatchNotFound, ID: batchID}
	}
	return b, nil
}

// PostJournalBatch posts a new batch or returns the stored one; see
// erp.Store.
func (s *Store) PostJournalBatch(ctx context.Context, batch erp.JournalBatch, now time.Time,
	post func(context.Context, erp.JournalLookup) ([]erp.JournalLineResult, error)) (erp.JournalBatch, bool, error) {
	var (
		out erp.JournalBatch
		dup bool
	)
	// A concurrent posting of the same batch or line hash (no row to lock
	// beforehand) may win the insert; the rerun sees its rows.
	err := s.inTxRetryingUnique(ctx, func(tx *sql.Tx) error {
		out, dup = erp.JournalBatch{}, false
		existing, found, err := s.journalBatch(ctx, tx, batch.BatchID)
		if err != nil {
			return err
		}
		if found {
			if existing.Fingerprint != batch.Fingerprint {
				return fmt.Errorf("journal batch %s: %w", batch.BatchID, erp.ErrIdempotencyKeyReused)
			}
			out, dup = existing, true
			return nil
		}
		results, err := post(ctx, journalLookup{s: s, tx: tx})
		if err != nil {
			return err
		}
		rec := batch
		rec.Results, rec.CreateTime = results, now.UTC()
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO journal_batches (batch_id, kind, lines, payload, fingerprint, results, create_time) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			rec.BatchID, int(rec.Kind), toJSON(rec.Lines), rec.Payload, rec.Fingerprint, toJSON(rec.Results), micros(rec.CreateTime)); err != nil {
			return fmt.Errorf("sqlstore: insert journal batch %s: %w", rec.BatchID, err)
		}
		for i, r := range results {
			if r.Outcome != erp.LinePosted {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO posted_journal_lines (line_hash, erp_document_number, batch_id) VALUES (?, ?, ?)`),
				rec.Lines[i].LineHash, r.ERPDocumentNumber, rec.BatchID); err != nil {
				return fmt.Errorf("sqlstore: record posted line %s: %w", rec.Lines[i].LineID, err)
			}
		}
		out = rec
		return nil
	})
	if err != nil {
		return erp.JournalBatch{}, false, err
	}
	return out, dup, nil
}

type journalLookup struct {
	s  *Store
	tx *sql.Tx
}

func (l journalLookup) CustomerExists(ctx context.Context, id string) (bool, error) {
	var n int
	if err := l.tx.QueryRowContext(ctx, l.s.q(`SELECT COUNT(*) FROM customers WHERE id = ?`), id).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlstore: read customer: %w", err)
	}
	return n > 0, nil
}

func (l journalLookup) AcceptedOrderCurrency(ctx context.Context, orderID string) (string, bool, error) {
	var cur string
	err := l.tx.QueryRowContext(ctx, l.s.q(`SELECT currency FROM sales_orders WHERE order_id = ? AND state <> ?`), orderID, int(erp.OrderRejected)).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sqlstore: read sales order: %w", err)
	}
	return cur, true, nil
}

func (l journalLookup) PostedLine(ctx context.Context, lineHash string) (string, bool, error) {
	var num string
	err := l.tx.QueryRowContext(ctx, l.s.q(`SELECT erp_document_number FROM posted_journal_lines WHERE line_hash = ?`), lineHash).Scan(&num)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sqlstore: read posted line: %w", err)
	}
	return num, true, nil
}

func (l journalLookup) NextDocumentNumber(ctx context.Context) (string, error) {
	n, err := l.s.nextCounter(ctx, l.tx, "fi_document")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("FI%010d", 5100000000+n), nil
}
