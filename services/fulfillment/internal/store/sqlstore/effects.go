package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// EnqueueEffect implements fulfillment.Tx. The call is stored as the
// neighbour's request message (fulfillmentpb.EncodeEffect).
func (t *Tx) EnqueueEffect(ctx context.Context, e fulfillment.Effect) (created bool, err error) {
	payload, err := fulfillmentpb.EncodeEffect(e)
	if err != nil {
		return false, err
	}
	res, err := t.exec(ctx, `
		INSERT INTO pending_effects (kind, effect_key, order_id, payload, state, attempts, last_error, next_attempt_us, create_us)
		VALUES (?, ?, ?, ?, ?, 0, '', ?, ?)
		ON CONFLICT (kind, effect_key) DO NOTHING`,
		string(e.Kind), e.Key, e.OrderID, payload, string(fulfillment.EffectPending), us(e.NextAttemptAt), us(e.CreateTime))
	if err != nil {
		return false, fmt.Errorf("enqueue effect %s %s: %w", e.Kind, e.Key, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DropPendingEffect implements fulfillment.Tx.
func (t *Tx) DropPendingEffect(ctx context.Context, kind fulfillment.EffectKind, key string) (bool, error) {
	res, err := t.exec(ctx, `DELETE FROM pending_effects WHERE kind = ? AND effect_key = ? AND state = ?`,
		string(kind), key, string(fulfillment.EffectPending))
	if err != nil {
		return false, fmt.Errorf("drop effect %s %s: %w", kind, key, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func scanEffect(row sqldb.Scanner) (fulfillment.Effect, error) {
	var (
		e              fulfillment.Effect
		kind           string
		payload        []byte
		attempts       int64
		next, createUS int64
	)
	if err := row.Scan(&e.ID, &kind, &e.Key, &e.OrderID, &payload, &attempts, &e.LastError, &next, &createUS); err != nil {
		return fulfillment.Effect{}, err
	}
	e.Kind, e.Attempts = fulfillment.EffectKind(kind), int(attempts)
	e.NextAttemptAt, e.CreateTime = fromUS(next), fromUS(createUS)
	// An unreadable call is the runner's to park, not a failed read:
	// failing here would stop every other effect behind it.
	e.Unreadable = fulfillmentpb.DecodeEffect(&e, payload)
	return e, nil
}

// PendingEffects implements fulfillment.Store.
func (s *Store) PendingEffects(ctx context.Context, limit int) ([]fulfillment.Effect, error) {
	effs, err := sqldb.QueryAll(ctx, s.q, s.d.Rebind(`
		SELECT id, kind, effect_key, order_id, payload, attempts, last_error, next_attempt_us, create_us
		FROM pending_effects WHERE state = ? ORDER BY id LIMIT ?`), []any{string(fulfillment.EffectPending), limit}, scanEffect)
	if err != nil {
		return nil, fmt.Errorf("pending effects: %w", err)
	}
	return effs, nil
}

// CountEffects implements fulfillment.Store.
func (s *Store) CountEffects(ctx context.Context, state fulfillment.EffectState) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM pending_effects WHERE state = ?`, string(state)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s effects: %w", state, err)
	}
	return n, nil
}

// FinishEffects implements fulfillment.Store.
func (s *Store) FinishEffects(ctx context.Context, results []fulfillment.EffectResult, now time.Time) error {
	if len(results) == 0 {
		return nil
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, r := range results {
			state := fulfillment.EffectDone
			if r.Failure != "" {
				state = fulfillment.EffectFailed
			}
			if _, err := tx.ExecContext(ctx, s.d.Rebind(`
				UPDATE pending_effects SET state = ?, attempts = attempts + 1, last_error = ?, done_us = ? WHERE id = ?`),
				string(state), r.Failure, us(now), r.ID); err != nil {
				return fmt.Errorf("effect %d: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish effects: %w", err)
	}
	return nil
}

// RetryEffect implements fulfillment.Store.
func (s *Store) RetryEffect(ctx context.Context, id int64, failure string, next time.Time) error {
	err := s.inTx(ctx, `
		UPDATE pending_effects SET attempts = attempts + 1, last_error = ?, next_attempt_us = ? WHERE id = ?`,
		failure, us(next), id)
	if err != nil {
		return fmt.Errorf("retry effect %d: %w", id, err)
	}
	return nil
}
