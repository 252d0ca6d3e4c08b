package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/services/ops/internal/desk"
)

func (c conn) remembered(ctx context.Context, scope, requestID string) (desk.Remembered, bool, error) {
	var r desk.Remembered
	err := c.queryRow(ctx, `SELECT fingerprint, result FROM idempotency_keys WHERE scope = ? AND request_id = ?`,
		scope, requestID).Scan(&r.Fingerprint, &r.Result)
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Remembered{}, false, nil
	}
	if err != nil {
		return desk.Remembered{}, false, fmt.Errorf("sqlstore: read request %q: %w", requestID, err)
	}
	return r, true, nil
}

// Remembered implements desk.Store.
func (s *Store) Remembered(ctx context.Context, scope, requestID string) (desk.Remembered, bool, error) {
	return s.remembered(ctx, scope, requestID)
}

// Remembered implements desk.Tx.
func (t *Tx) Remembered(ctx context.Context, scope, requestID string) (desk.Remembered, bool, error) {
	return t.remembered(ctx, scope, requestID)
}

// Remember implements desk.Tx.
func (t *Tx) Remember(ctx context.Context, scope, requestID string, r desk.Remembered) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency_keys (scope, request_id, fingerprint, result, create_us)
		VALUES (?, ?, ?, ?, ?)`, scope, requestID, r.Fingerprint, r.Result, us(time.Now()))
	if err != nil {
		return fmt.Errorf("sqlstore: remember request %q: %w", requestID, err)
	}
	return nil
}
