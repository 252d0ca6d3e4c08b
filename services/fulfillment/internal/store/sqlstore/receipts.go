package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// receiptColumns are the columns scanReceipt reads: the receipt's and,
// from its order.record_return_receipt effect, the hand-over state.
const receiptColumns = `id, source, wms_event_id, wms_reference, expected_return_id, return_authorization_id, order_id,
	customer_id, warehouse_id, lines, receive_us, create_us,
	COALESCE((SELECT pe.done_us FROM pending_effects pe WHERE pe.kind = 'order.record_return_receipt'
		AND pe.effect_key = return_receipts.id AND pe.state = 'DONE'), 0),
	COALESCE((SELECT pe.last_error FROM pending_effects pe WHERE pe.kind = 'order.record_return_receipt'
		AND pe.effect_key = return_receipts.id AND pe.state <> 'DONE'), '')`

func scanReceipt(row sqldb.Scanner) (*fulfillment.ReturnReceipt, error) {
	var (
		rr                     fulfillment.ReturnReceipt
		lines                  string
		receiveUS, createUS, d int64
	)
	if err := row.Scan(&rr.ID, &rr.Source, &rr.WMSEventID, &rr.WMSReference, &rr.ExpectedReturnID, &rr.ReturnAuthorizationID,
		&rr.OrderID, &rr.CustomerID, &rr.WarehouseID, &lines, &receiveUS, &createUS, &d, &rr.LastError); err != nil {
		return nil, err
	}
	rr.ReceiveTime, rr.CreateTime, rr.OrderRecordTime = fromUS(receiveUS), fromUS(createUS), fromUS(d)
	if err := decodeJSON("return receipt "+rr.ID, jsonColumn{"lines", lines, &rr.Lines}); err != nil {
		return nil, err
	}
	return &rr, nil
}

// InsertReturnReceipt implements fulfillment.Tx.
func (t *Tx) InsertReturnReceipt(ctx context.Context, rr *fulfillment.ReturnReceipt) error {
	lines, err := encodeJSON(rr.Lines)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `
		INSERT INTO return_receipts (id, source, wms_event_id, wms_reference, expected_return_id, return_authorization_id,
			order_id, customer_id, warehouse_id, lines, receive_us, create_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rr.ID, rr.Source, rr.WMSEventID, rr.WMSReference, rr.ExpectedReturnID, rr.ReturnAuthorizationID,
		rr.OrderID, rr.CustomerID, rr.WarehouseID, lines, us(rr.ReceiveTime), us(rr.CreateTime))
	if err != nil {
		return fmt.Errorf("insert return receipt %s: %w", rr.ID, err)
	}
	return nil
}

// ReturnReceiptsOf implements fulfillment.Tx (through the order index).
func (t *Tx) ReturnReceiptsOf(ctx context.Context, orderID, expectedReturnID string) ([]*fulfillment.ReturnReceipt, error) {
	out, err := sqldb.QueryAll(ctx, t.q, t.d.Rebind(`SELECT `+receiptColumns+` FROM return_receipts
		WHERE order_id = ? AND expected_return_id = ? ORDER BY receive_us, id`), []any{orderID, expectedReturnID}, scanReceipt)
	if err != nil {
		return nil, fmt.Errorf("receipts of expected return %s: %w", expectedReturnID, err)
	}
	return out, nil
}

// NextRestockSequence implements fulfillment.Tx: the upsert takes the
// row's lock (PostgreSQL) or runs under SQLite's single writer, so two
// transactions never get the same sequence, and a later one's is higher.
func (t *Tx) NextRestockSequence(ctx context.Context, sku, warehouseID string) (int64, error) {
	var seq int64
	err := t.queryRow(ctx, `
		INSERT INTO restock_sequences (sku, warehouse_id, last_sequence) VALUES (?, ?, 1)
		ON CONFLICT (sku, warehouse_id) DO UPDATE SET last_sequence = restock_sequences.last_sequence + 1
		RETURNING last_sequence`, sku, warehouseID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("next restock sequence %s/%s: %w", sku, warehouseID, err)
	}
	return seq, nil
}

// GetReturnReceipt implements fulfillment.Store.
func (s *Store) GetReturnReceipt(ctx context.Context, id string) (*fulfillment.ReturnReceipt, error) {
	rr, err := scanReceipt(s.queryRow(ctx, `SELECT `+receiptColumns+` FROM return_receipts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fulfillment.ErrReturnReceiptNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read return receipt %s: %w", id, err)
	}
	return rr, nil
}

// ListReturnReceipts implements fulfillment.Store.
func (s *Store) ListReturnReceipts(ctx context.Context, q fulfillment.ReturnReceiptQuery) ([]*fulfillment.ReturnReceipt, error) {
	var w where
	w.add(q.OrderID != "", "order_id = ?", q.OrderID)
	w.add(q.ReturnAuthorizationID != "", "return_authorization_id = ?", q.ReturnAuthorizationID)
	w.add(q.WarehouseID != "", "warehouse_id = ?", q.WarehouseID)
	w.add(q.CustomerID != "", "customer_id = ?", q.CustomerID)
	w.add(!q.ReceivedFrom.IsZero(), "receive_us >= ?", us(q.ReceivedFrom))
	w.add(!q.ReceivedBefore.IsZero(), "receive_us < ?", us(q.ReceivedBefore))
	out, err := sqldb.QueryAll(ctx, s.q, s.d.Rebind(`SELECT `+receiptColumns+` FROM return_receipts`+w.page(q.Page, "receive_us")), w.args, scanReceipt)
	if err != nil {
		return nil, fmt.Errorf("list return receipts: %w", err)
	}
	return out, nil
}
