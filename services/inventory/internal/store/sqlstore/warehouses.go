package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transload/transload/services/inventory/internal/inventory"
)

// UpsertWarehouse implements inventory.Store.
func (s *Store) UpsertWarehouse(ctx context.Context, code, requestID, fp string, fn inventory.WarehouseUpdateFunc) (inventory.Warehouse, error) {
	var res inventory.Warehouse
	upsert := func(tx *sql.Tx) error {
		var hash, recorded string
		err := tx.QueryRowContext(ctx, s.q(`SELECT request_hash, warehouse_code FROM warehouse_requests WHERE request_id = ?`),
			requestID).Scan(&hash, &recorded)
		switch {
		case err == nil:
			if hash != fp || recorded != code {
				return inventory.ErrIdempotencyKeyReused
			}
			res, err = scanWarehouse(tx.QueryRowContext(ctx, s.q(`SELECT `+warehouseCols+` FROM warehouses WHERE code = ?`), code))
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read warehouse request %s: %w", requestID, err)
		}
		cur, err := scanWarehouse(tx.QueryRowContext(ctx, s.q(`SELECT `+warehouseCols+` FROM warehouses WHERE code = ?`+s.forUpdate()), code))
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read warehouse %s: %w", code, err)
		}
		w, err := fn(cur, exists)
		if err != nil {
			return err
		}
		w.Code = code
		if exists {
			addr, chans, err := warehouseJSON(w)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE warehouses SET display_name = ?, region = ?, address = ?, priority = ?,
				channels = ?, active = ?, update_us = ? WHERE code = ?`),
				w.DisplayName, w.Region, addr, w.Priority, chans, boolInt(w.Active), micros(w.UpdateTime), code); err != nil {
				return fmt.Errorf("update warehouse %s: %w", code, err)
			}
		} else if err := s.insertWarehouse(ctx, tx, w, w.CreateTime); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO warehouse_requests (request_id, request_hash, warehouse_code) VALUES (?, ?, ?)`),
			requestID, fp, code); err != nil {
			return fmt.Errorf("record warehouse request %s: %w", requestID, err)
		}
		res = w
		return nil
	}
	err := s.writeWarehouses(func() error { return s.db.InTx(ctx, upsert) })
	if err != nil {
		return inventory.Warehouse{}, err
	}
	return res, nil
}
