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

var priceEventCols = []string{"seq", "event_id", "price_list_id", "sku", "uom", "unit_price_minor", "occur_time", "contract"}

// priceEventSelect reads events with their price list's currency (none for
// a contract change).
const priceEventSelect = `SELECT e.seq, e.event_id, e.price_list_id, e.sku, e.uom, e.unit_price_minor, e.occur_time,
	COALESCE(pl.currency, ''), e.contract
	FROM price_events e LEFT JOIN price_lists pl ON pl.id = e.price_list_id`

func scanPriceEvent(sc sqldb.Scanner) (erp.PriceEvent, error) {
	var (
		ev       erp.PriceEvent
		occurred int64
		contract sql.NullString
	)
	if err := sc.Scan(&ev.Seq, &ev.EventID, &ev.Price.PriceListID, &ev.Price.SKU, &ev.Price.UoM, &ev.Price.UnitPriceMinor, &occurred,
		&ev.Currency, &contract); err != nil {
		return erp.PriceEvent{}, err
	}
	ev.OccurTime = fromMicros(occurred)
	if contract.Valid {
		ev.Contract = new(erp.Contract)
		if err := fromJSON(contract.String, ev.Contract); err != nil {
			return erp.PriceEvent{}, err
		}
	}
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
// list and SKU), creates or replaces the contracts, and appends one price
// event per list price and per contract, all in one transaction: either
// every change is recorded or none.
func (s *Store) RecordPriceChanges(ctx context.Context, ch erp.PriceChanges, now time.Time) ([]erp.PriceEvent, error) {
	var out []erp.PriceEvent
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		for i, p := range ch.ListPrices {
			ev, err := s.recordListPrice(ctx, tx, i, p, now)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		for i, c := range ch.Contracts {
			c.Prices = append([]erp.ContractPrice(nil), c.Prices...) // checkContract fills units
			if err := s.checkContract(ctx, tx, i, &c); err != nil {
				return err
			}
			if err := s.putContract(ctx, tx, c, now); err != nil {
				return err
			}
			ev, err := s.appendPriceEvent(ctx, tx, erp.PriceEvent{Contract: &c, OccurTime: now})
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// recordListPrice sets list price i of a change and appends its event.
func (s *Store) recordListPrice(ctx context.Context, tx *sql.Tx, i int, p erp.ListPrice, now time.Time) (erp.PriceEvent, error) {
	var currency string
	err := tx.QueryRowContext(ctx, s.q(`SELECT currency FROM price_lists WHERE id = ?`), p.PriceListID).Scan(&currency)
	if errors.Is(err, sql.ErrNoRows) {
		return erp.PriceEvent{}, &erp.InvalidPriceChangeError{Field: fmt.Sprintf("listPrices[%d].priceListId", i), Message: "unknown price list " + p.PriceListID}
	}
	if err != nil {
		return erp.PriceEvent{}, fmt.Errorf("sqlstore: read price list: %w", err)
	}
	uom, err := s.productUoM(ctx, tx, p.SKU, fmt.Sprintf("listPrices[%d].sku", i))
	if err != nil {
		return erp.PriceEvent{}, err
	}
	if p.UoM == "" {
		p.UoM = uom
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE list_prices SET unit_price_minor = ? WHERE price_list_id = ? AND sku = ? AND uom = ?`),
		p.UnitPriceMinor, p.PriceListID, p.SKU, p.UoM)
	if err != nil {
		return erp.PriceEvent{}, fmt.Errorf("sqlstore: update list price: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return erp.PriceEvent{}, fmt.Errorf("sqlstore: update list price: %w", err)
	} else if k == 0 {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO list_prices (price_list_id, sku, uom, unit_price_minor) VALUES (?, ?, ?, ?)`),
			p.PriceListID, p.SKU, p.UoM, p.UnitPriceMinor); err != nil {
			return erp.PriceEvent{}, fmt.Errorf("sqlstore: insert list price: %w", err)
		}
	}
	return s.appendPriceEvent(ctx, tx, erp.PriceEvent{Price: p, Currency: currency, OccurTime: now})
}

// appendPriceEvent numbers ev (the next price_event counter value, so the
// feed has no gaps) and appends it.
func (s *Store) appendPriceEvent(ctx context.Context, tx *sql.Tx, ev erp.PriceEvent) (erp.PriceEvent, error) {
	seq, err := s.nextCounter(ctx, tx, "price_event")
	if err != nil {
		return ev, err
	}
	ev.Seq, ev.EventID = seq, fmt.Sprintf("PRC-%010d", seq)
	var contract any // NULL for a list price
	if ev.Contract != nil {
		contract = toJSON(ev.Contract)
	}
	if _, err := tx.ExecContext(ctx, s.q("INSERT INTO price_events ("+strings.Join(priceEventCols, ", ")+") VALUES ("+placeholders(len(priceEventCols))+")"),
		ev.Seq, ev.EventID, ev.Price.PriceListID, ev.Price.SKU, ev.Price.UoM, ev.Price.UnitPriceMinor, micros(ev.OccurTime), contract); err != nil {
		return ev, fmt.Errorf("sqlstore: insert price event: %w", err)
	}
	return ev, nil
}
