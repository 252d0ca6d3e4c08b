package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// contractsSeeded marks in erp_meta that the seed's contracts were loaded:
// apart from the first seed, since a store seeded before migration 0003
// gets them at its next start.
const contractsSeeded = "contracts_seeded_at"

// seedContracts inserts seed's contracts once (marker contractsSeeded).
func (s *Store) seedContracts(ctx context.Context, tx *sql.Tx, contracts []erp.Contract, now time.Time) error {
	var v string
	err := tx.QueryRowContext(ctx, s.q(`SELECT value FROM erp_meta WHERE key = ?`), contractsSeeded).Scan(&v)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: read contract seed marker: %w", err)
	}
	for _, c := range contracts {
		if err := s.putContract(ctx, tx, c, now); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO erp_meta (key, value) VALUES (?, ?)`), contractsSeeded,
		now.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("sqlstore: write contract seed marker: %w", err)
	}
	return nil
}

// putContract creates or replaces contract c.
func (s *Store) putContract(ctx context.Context, tx *sql.Tx, c erp.Contract, now time.Time) error {
	body := toJSON(c)
	res, err := tx.ExecContext(ctx, s.q(`UPDATE contracts SET customer_id = ?, body = ?, update_time = ? WHERE id = ?`),
		c.CustomerID, body, micros(now), c.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update contract: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: update contract: %w", err)
	} else if k > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO contracts (id, customer_id, body, update_time) VALUES (?, ?, ?, ?)`),
		c.ID, c.CustomerID, body, micros(now)); err != nil {
		return fmt.Errorf("sqlstore: insert contract: %w", err)
	}
	return nil
}

// Contracts returns every customer contract, by id.
func (s *Store) Contracts(ctx context.Context) ([]erp.Contract, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), `SELECT body FROM contracts ORDER BY id`, nil, func(sc sqldb.Scanner) (erp.Contract, error) {
		var (
			body string
			c    erp.Contract
		)
		if err := sc.Scan(&body); err != nil {
			return c, err
		}
		return c, fromJSON(body, &c)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read contracts: %w", err)
	}
	return out, nil
}

// checkContract checks, inside the change's transaction, that the customer
// and every SKU of contract i exist, and fills each price's empty unit
// with the product's base unit.
func (s *Store) checkContract(ctx context.Context, tx *sql.Tx, i int, c *erp.Contract) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM customers WHERE id = ?`), c.CustomerID).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: read customer: %w", err)
	}
	if n == 0 {
		return &erp.InvalidPriceChangeError{Field: fmt.Sprintf("contracts[%d].customerId", i), Message: "unknown customer " + c.CustomerID}
	}
	for j := range c.Prices {
		uom, err := s.productUoM(ctx, tx, c.Prices[j].SKU, fmt.Sprintf("contracts[%d].prices[%d].sku", i, j))
		if err != nil {
			return err
		}
		if c.Prices[j].UoM == "" {
			c.Prices[j].UoM = uom
		}
	}
	return nil
}

// productUoM returns the base unit of sku; *erp.InvalidPriceChangeError on
// field when the SKU is unknown.
func (s *Store) productUoM(ctx context.Context, tx *sql.Tx, sku, field string) (string, error) {
	var uom string
	err := tx.QueryRowContext(ctx, s.q(`SELECT uom FROM products WHERE sku = ?`), sku).Scan(&uom)
	if errors.Is(err, sql.ErrNoRows) {
		return "", &erp.InvalidPriceChangeError{Field: field, Message: "unknown SKU " + sku}
	}
	if err != nil {
		return "", fmt.Errorf("sqlstore: read product: %w", err)
	}
	return uom, nil
}
