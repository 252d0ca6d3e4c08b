package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/transload/transload/platform/sqldb"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// InsertExpectedReturn implements fulfillment.Tx.
func (t *Tx) InsertExpectedReturn(ctx context.Context, er fulfillment.ExpectedReturn) (bool, error) {
	lines, err := encodeJSON(er.Lines)
	if err != nil {
		return false, err
	}
	res, err := t.exec(ctx, `
		INSERT INTO expected_returns (id, return_authorization_id, order_id, warehouse_id, lines, create_us, cancel_us)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		er.ID, er.ReturnAuthorizationID, er.OrderID, er.WarehouseID, lines, us(er.CreateTime), cancelUS(er.CancelTime))
	if err != nil {
		return false, fmt.Errorf("insert expected return %s: %w", er.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ExpectedReturn implements fulfillment.Tx.
func (t *Tx) ExpectedReturn(ctx context.Context, id string) (fulfillment.ExpectedReturn, bool, error) {
	ers, err := t.expectedReturns(ctx, `id = ?`, id)
	if err != nil || len(ers) == 0 {
		return fulfillment.ExpectedReturn{}, false, err
	}
	return ers[0], true, nil
}

// ExpectedReturnsOf implements fulfillment.Tx.
func (t *Tx) ExpectedReturnsOf(ctx context.Context, rmaID string) ([]fulfillment.ExpectedReturn, error) {
	return t.expectedReturns(ctx, `return_authorization_id = ? ORDER BY id`, rmaID)
}

// expectedReturns reads the expected returns matching where (arg).
func (t *Tx) expectedReturns(ctx context.Context, where string, arg any) ([]fulfillment.ExpectedReturn, error) {
	out, err := sqldb.QueryAll(ctx, t.q, t.d.Rebind(`
		SELECT id, return_authorization_id, order_id, warehouse_id, lines, create_us, cancel_us FROM expected_returns WHERE `+where),
		[]any{arg}, func(sc sqldb.Scanner) (fulfillment.ExpectedReturn, error) {
			var (
				er                 fulfillment.ExpectedReturn
				lines              string
				createUS, cancelAt int64
			)
			if err := sc.Scan(&er.ID, &er.ReturnAuthorizationID, &er.OrderID, &er.WarehouseID, &lines, &createUS, &cancelAt); err != nil {
				return er, err
			}
			er.CreateTime = fromUS(createUS)
			if cancelAt != 0 {
				er.CancelTime = fromUS(cancelAt)
			}
			return er, decodeJSON("expected return "+er.ID, jsonColumn{"lines", lines, &er.Lines})
		})
	if err != nil {
		return nil, fmt.Errorf("read expected returns %v: %w", arg, err)
	}
	return out, nil
}

// CancelExpectedReturn implements fulfillment.Tx.
func (t *Tx) CancelExpectedReturn(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE expected_returns SET cancel_us = ? WHERE id = ? AND cancel_us = 0`, cancelUS(at), id)
	if err != nil {
		return false, fmt.Errorf("cancel expected return %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// cancelUS is the stored cancel_us of at: 0 for the zero time, and never 0
// for a set one.
func cancelUS(at time.Time) int64 {
	if at.IsZero() {
		return 0
	}
	return max(us(at), 1)
}
