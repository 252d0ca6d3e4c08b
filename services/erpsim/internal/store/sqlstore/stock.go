package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

func scanWarehouse(sc sqldb.Scanner) (erp.Warehouse, error) {
	var (
		w              erp.Warehouse
		addr, channels string
		active         int
	)
	if err := sc.Scan(&w.Code, &w.DisplayName, &w.Region, &addr, &w.Priority, &channels, &active); err != nil {
		return erp.Warehouse{}, err
	}
	w.Active = active == 1
	if err := fromJSON(addr, &w.Address); err != nil {
		return erp.Warehouse{}, err
	}
	var err error
	w.Channels, err = channelsFromJSON(channels)
	return w, err
}

// Warehouses lists warehouses by priority, then code.
func (s *Store) Warehouses(ctx context.Context) ([]erp.Warehouse, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), `SELECT code, display_name, region, address, priority, channels, active FROM warehouses ORDER BY priority, code`, nil, scanWarehouse)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list warehouses: %w", err)
	}
	return out, nil
}

// feedHead returns the Seq of the newest stock event (0 for none), read in
// tx so that it agrees with what tx reads next.
func feedHead(ctx context.Context, tx *sql.Tx) (int64, error) {
	var head int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM stock_events`).Scan(&head); err != nil {
		return 0, fmt.Errorf("sqlstore: read feed head: %w", err)
	}
	return head, nil
}

// StockSnapshot reads the filtered stock rows and the feed position in one
// read-only transaction, so rows and position agree.
func (s *Store) StockSnapshot(ctx context.Context, f erp.StockFilter) (erp.Snapshot, error) {
	var snap erp.Snapshot
	err := s.db.InReadTx(ctx, func(tx *sql.Tx) error {
		head, err := feedHead(ctx, tx)
		if err != nil {
			return err
		}
		snap = erp.Snapshot{FeedSeq: head}
		query := `SELECT sku, warehouse_code, on_hand, uom, source_sequence FROM stock`
		var (
			where []string
			args  []any
		)
		if len(f.Warehouses) > 0 {
			where = append(where, "warehouse_code IN ("+placeholders(len(f.Warehouses))+")")
			args = append(args, anySlice(f.Warehouses)...)
		}
		if len(f.SKUs) > 0 {
			where = append(where, "sku IN ("+placeholders(len(f.SKUs))+")")
			args = append(args, anySlice(f.SKUs)...)
		}
		if len(where) > 0 {
			query += " WHERE " + strings.Join(where, " AND ")
		}
		query += " ORDER BY sku, warehouse_code"
		rows, err := sqldb.QueryAll(ctx, tx, s.q(query), args, func(sc sqldb.Scanner) (erp.StockRow, error) {
			var r erp.StockRow
			err := sc.Scan(&r.SKU, &r.WarehouseCode, &r.OnHand, &r.UoM, &r.SourceSequence)
			return r, err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: read stock: %w", err)
		}
		snap.Rows = rows
		return nil
	})
	return snap, err
}

var eventCols = []string{"seq", "event_id", "sku", "warehouse_code", "kind", "quantity", "uom", "source_sequence",
	"occur_time", "reference", "reason_code", "counterpart"}

func scanStockEvent(sc sqldb.Scanner) (erp.StockEvent, error) {
	var (
		ev       erp.StockEvent
		kind     int
		occurred int64
	)
	if err := sc.Scan(&ev.Seq, &ev.EventID, &ev.SKU, &ev.WarehouseCode, &kind, &ev.Quantity, &ev.UoM,
		&ev.SourceSequence, &occurred, &ev.Reference, &ev.ReasonCode, &ev.Counterpart); err != nil {
		return erp.StockEvent{}, err
	}
	ev.Kind, ev.OccurTime = erp.StockEventKind(kind), fromMicros(occurred)
	return ev, nil
}

// StockEvents returns up to limit events after position after, and the
// feed head.
func (s *Store) StockEvents(ctx context.Context, after int64, limit int) ([]erp.StockEvent, int64, error) {
	var (
		out  []erp.StockEvent
		head int64
	)
	err := s.db.InReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if head, err = feedHead(ctx, tx); err != nil {
			return err
		}
		out, err = sqldb.QueryAll(ctx, tx, s.q("SELECT "+strings.Join(eventCols, ", ")+" FROM stock_events WHERE seq > ? ORDER BY seq LIMIT ?"), []any{after, limit}, scanStockEvent)
		if err != nil {
			return fmt.Errorf("sqlstore: read stock events: %w", err)
		}
		return nil
	})
	return out, head, err
}

// RecordStockEvent applies ev to its stock row (creating it at 0 for a
// known SKU and warehouse) and appends it to the feed.
func (s *Store) RecordStockEvent(ctx context.Context, ev erp.StockEvent) (erp.StockEvent, error) {
	var out erp.StockEvent
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = erp.StockEvent{}
		var (
			onHand, seq int64
			uom         string
		)
		err := tx.QueryRowContext(ctx, s.q(`SELECT on_hand, uom, source_sequence FROM stock WHERE sku = ? AND warehouse_code = ?`+s.forUpdate()),
			ev.SKU, ev.WarehouseCode).Scan(&onHand, &uom, &seq)
		if errors.Is(err, sql.ErrNoRows) {
			products, perr := s.productsBySKU(ctx, tx, []string{ev.SKU})
			if perr != nil {
				return perr
			}
			p, ok := products[ev.SKU]
			if !ok {
				return fmt.Errorf("%w: unknown SKU %s", erp.ErrInvalidStockEvent, ev.SKU)
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM warehouses WHERE code = ?`), ev.WarehouseCode).Scan(&n); err != nil {
				return fmt.Errorf("sqlstore: read warehouse: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("%w: unknown warehouse %s", erp.ErrInvalidStockEvent, ev.WarehouseCode)
			}
			uom = p.UoM
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO stock (sku, warehouse_code, on_hand, uom, source_sequence) VALUES (?, ?, 0, ?, 0)`),
				ev.SKU, ev.WarehouseCode, uom); err != nil {
				return fmt.Errorf("sqlstore: create stock row: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("sqlstore: read stock row: %w", err)
		}
		next := onHand + ev.Quantity
		if ev.Kind == erp.StockSetOnHand {
			next = ev.Quantity
		}
		if next < 0 {
			return fmt.Errorf("%w: on-hand of %s in %s would become %d", erp.ErrInvalidStockEvent, ev.SKU, ev.WarehouseCode, next)
		}
		feedSeq, err := s.nextCounter(ctx, tx, "stock_event")
		if err != nil {
			return err
		}
		rec := ev
		rec.Seq, rec.SourceSequence, rec.UoM = feedSeq, seq+1, uom
		rec.EventID = fmt.Sprintf("4900%08d-0001", feedSeq)
		if rec.Reference == "" {
			rec.Reference = fmt.Sprintf("4900%08d", feedSeq)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE stock SET on_hand = ?, source_sequence = ? WHERE sku = ? AND warehouse_code = ?`),
			next, rec.SourceSequence, rec.SKU, rec.WarehouseCode); err != nil {
			return fmt.Errorf("sqlstore: update stock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO stock_events ("+strings.Join(eventCols, ", ")+") VALUES ("+placeholders(len(eventCols))+")"),
			rec.Seq, rec.EventID, rec.SKU, rec.WarehouseCode, int(rec.Kind), rec.Quantity, rec.UoM, rec.SourceSequence,
			micros(rec.OccurTime), rec.Reference, rec.ReasonCode, rec.Counterpart); err != nil {
			return fmt.Errorf("sqlstore: insert stock event: %w", err)
		}
		out = rec
		return nil
	})
	return out, err
}
