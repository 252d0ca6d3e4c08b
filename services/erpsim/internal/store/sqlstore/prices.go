package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

var priceEventCols = []string{"seq", "event_id", "price_list_id", "sku", "uom", "unit_price_minor", "occur_time"}

// priceEventSelect reads events with their price list's currency.
const priceEventSelect = `SELECT e.seq, e.event_id, e.price_list_id, e.sku, e.uom, e.unit_price_minor, e.occur_time, pl.currency
	FROM price_events e JOIN price_lists pl ON pl.id = e.price_list_id`

func scanPriceEvent(sc sqldb.Scanner) (erp.PriceEvent, error) {
	var (
		ev       erp.PriceEvent
		occurred int64
	)
	if err := sc.Scan(&ev.Seq, &ev.EventID, &ev.Price.PriceListID, &ev.Price.SKU, &ev.Price.UoM, &ev.Price.UnitPriceMinor, &occurred, &ev.Currency); err != nil {
		return erp.PriceEvent{}, err
	}
	ev.OccurTime = fromMicros(occurred)
	return ev, nil
}

// PriceEvents returns up to limit price events after position after, and
// the feed head.
func (s *Store) PriceEvents(ctx context.Context, after int64, limit int) ([]erp.PriceEvent, int64, error) {
	var (
		out  []erp.PriceEvent
		head int64
	)
	err := s.db.InReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM price_events`).Scan(&head); err != nil {
			return fmt.Errorf("sqlstore: read price feed head: %w", err)
		}
		var err error
		out, err = sqldb.QueryAll(ctx, tx, s.q(priceEventSelect+" WHERE e.seq > ? ORDER BY e.seq LIMIT ?"), []any{after, limit}, scanPriceEvent)
		if err != nil {
			return fmt.Errorf("sqlstore: read price events: %w", err)
		}
		return nil
	})
	return out, head, err
}

// RecordPriceChanges sets the list prices (creating a row for a known price
// list and SKU) and appends one price event per price, all in one
// transaction: either every change is recorded or none.
func (s *Store) RecordPriceChanges(ctx context.Context, prices []erp.ListPrice, now time.Time) ([]erp.PriceEvent, error) {
	var out []erp.PriceEvent
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		for _, p := range prices {
			var currency string
			err := tx.QueryRowContext(ctx, s.q(`SELECT currency FROM price_lists WHERE id = ?`), p.PriceListID).Scan(&currency)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: unknown price list %s", erp.ErrInvalidPriceChange, p.PriceListID)
			}
			if err != nil {
				return fmt.Errorf("sqlstore: read price list: %w", err)
			}
			var uom string
			err = tx.QueryRowContext(ctx, s.q(`SELECT uom FROM products WHERE sku = ?`), p.SKU).Scan(&uom)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: unknown SKU %s", erp.ErrInvalidPriceChange, p.SKU)
			}
			if err != nil {
				return fmt.Errorf("sqlstore: read product: %w", err)
			}
			if p.UoM == "" {
				p.UoM = uom
			}
			res, err := tx.ExecContext(ctx, s.q(`UPDATE list_prices SET unit_price_minor = ? WHERE price_list_id = ? AND sku = ? AND uom = ?`),
				p.UnitPriceMinor, p.PriceListID, p.SKU, p.UoM)
			if err != nil {
				return fmt.Errorf("sqlstore: update list price: %w", err)
			}
			if k, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("sqlstore: update list price: %w", err)
			} else if k == 0 {
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO list_prices (price_list_id, sku, uom, unit_price_minor) VALUES (?, ?, ?, ?)`),
					p.PriceListID, p.SKU, p.UoM, p.UnitPriceMinor); err != nil {
					return fmt.Errorf("sqlstore: insert list price: %w", err)
				}
			}
			seq, err := s.nextCounter(ctx, tx, "price_event")
			if err != nil {
				return err
			}
			ev := erp.PriceEvent{Seq: seq, EventID: fmt.Sprintf("PRC-%010d", seq), Price: p, Currency: currency, OccurTime: now}
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO price_events ("+strings.Join(priceEventCols, ", ")+") VALUES ("+placeholders(len(priceEventCols))+")"),
				ev.Seq, ev.EventID, p.PriceListID, p.SKU, p.UoM, p.UnitPriceMinor, micros(now)); err != nil {
				return fmt.Errorf("sqlstore: insert price event: %w", err)
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}
