package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// InsertExpectedReturn implements fulfillment.Tx.
func (t *Tx) InsertExpectedReturn(ctx context.Context, er fulfillment.ExpectedReturn) (bool, error) {
	lines, err := encodeJSON(er.Lines)
	if err != nil {
		return false, err
	}
	res, err := t.exec(ctx, `
		INSERT INTO expected_returns (id, return_authorization_id, order_id, warehouse_id, lines, create_us)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		er.ID, er.ReturnAuthorizationID, er.OrderID, er.WarehouseID, lines, us(er.CreateTime))
	if err != nil {
		return false, fmt.Errorf("insert expected return %s: %w", er.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ExpectedReturn implements fulfillment.Tx.
func (t *Tx) ExpectedReturn(ctx context.Context, id string) (fulfillment.ExpectedReturn, bool, error) {
	er := fulfillment.ExpectedReturn{ID: id}
	var (
		lines    string
		createUS int64
	)
	err := t.queryRow(ctx, `
		SELECT return_authorization_id, order_id, warehouse_id, lines, create_us FROM expected_returns WHERE id = ?`, id).
		Scan(&er.ReturnAuthorizationID, &er.OrderID, &er.WarehouseID, &lines, &createUS)
	if errors.Is(err, sql.ErrNoRows) {
		return fulfillment.ExpectedReturn{}, false, nil
	}
	if err != nil {
		return fulfillment.ExpectedReturn{}, false, fmt.Errorf("read expected return %s: %w", id, err)
	}
	er.CreateTime = fromUS(createUS)
	if err := decodeJSON("expected return "+id, jsonColumn{"lines", lines, &er.Lines}); err != nil {
		return fulfillment.ExpectedReturn{}, false, err
	}
	return er, true, nil
}
