package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// Effect states.
const (
	EffectPending = "PENDING"
	EffectDone    = "DONE"
	EffectFailed  = "FAILED"
)

// EnqueueEffect records an outbound call to make after commit; an effect
// with the same kind and key is recorded once (created reports whether this
// call recorded it).
func (t *Tx) EnqueueEffect(ctx context.Context, e fulfillment.Effect) (created bool, err error) {
	payload, err := fulfillmentpb.EncodeEffect(e)
	if err != nil {
		return false, err
	}
	res, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		INSERT INTO pending_effects (kind, effect_key, order_id, payload, state, attempts, last_error, next_attempt_us, create_us)
		VALUES (?, ?, ?, ?, ?, 0, '', ?, ?)
		ON CONFLICT (kind, effect_key) DO NOTHING`),
		string(e.Kind), e.Key, e.OrderID, payload, EffectPending, us(e.NextAttemptAt), us(e.CreateTime))
	if err != nil {
		return false, fmt.Errorf("enqueue effect %s %s: %w", e.Kind, e.Key, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const effectColumns = `id, kind, effect_key, order_id, payload, attempts, last_error, next_attempt_us, create_us`

// PendingEffects returns up to limit effects not yet done, in creation
// order. Effects whose next attempt is in the future are included so the
// caller can keep one order's effects in sequence; see DueAt.
func (s *Store) PendingEffects(ctx context.Context, limit int) ([]fulfillment.Effect, error) {
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(`
		SELECT `+effectColumns+` FROM pending_effects WHERE state = ? ORDER BY id LIMIT ?`), EffectPending, limit)
	if err != nil {
		return nil, fmt.Errorf("pending effects: %w", err)
	}
	defer rows.Close()
	var out []fulfillment.Effect
	for rows.Next() {
		var (
			e              fulfillment.Effect
			kind           string
			payload        []byte
			attempts       int64
			next, createUS int64
		)
		if err := rows.Scan(&e.ID, &kind, &e.Key, &e.OrderID, &payload, &attempts, &e.LastError, &next, &createUS); err != nil {
			return nil, err
		}
		e.Kind, e.Attempts = fulfillment.EffectKind(kind), int(attempts)
		e.NextAttemptAt, e.CreateTime = fromUS(next), fromUS(createUS)
		e.Unreadable = fulfillmentpb.DecodeEffect(&e, payload)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountEffects returns how many effects are in state (EffectPending,
// EffectDone or EffectFailed).
func (s *Store) CountEffects(ctx context.Context, state string) (int, error) {
	var n int
	err := s.db.SQL().QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM pending_effects WHERE state = ?`), state).Scan(&n)
	return n, err
}

// FinishEffect marks an effect done (err == "") or permanently failed.
func (s *Store) FinishEffect(ctx context.Context, id int64, failure string, now time.Time) error {
	state := EffectDone
	if failure != "" {
		state = EffectFailed
	}
	err := s.exec(ctx, `
		UPDATE pending_effects SET state = ?, attempts = attempts + 1, last_error = ?, done_us = ? WHERE id = ?`,
		state, failure, us(now), id)
	if err != nil {
		return fmt.Errorf("finish effect %d: %w", id, err)
	}
	return nil
}

// RetryEffect records a failed attempt and when to try again.
func (s *Store) RetryEffect(ctx context.Context, id int64, failure string, next time.Time) error {
	err := s.exec(ctx, `
		UPDATE pending_effects SET attempts = attempts + 1, last_error = ?, next_attempt_us = ? WHERE id = ?`,
		failure, us(next), id)
	if err != nil {
		return fmt.Errorf("retry effect %d: %w", id, err)
	}
	return nil
}

// exec runs one statement in its own transaction, so SQLite writers queue
// on the in-process writer lock.
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(query), args...)
		return err
	})
}
