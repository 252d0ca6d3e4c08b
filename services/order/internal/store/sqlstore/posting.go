package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	rows, err := s.db.SQL().QueryContext(ctx, s.q(`SELECT document_id FROM documents WHERE order_id = ? ORDER BY created_us, document_id`), orderID)
	if err != nil {
		return nil, fmt.Errorf("list documents of %s: %w", orderID, err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
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
