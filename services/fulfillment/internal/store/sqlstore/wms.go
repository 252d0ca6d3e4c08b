package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/sqldb"
)

// WMS event outcomes recorded by RecordWMSEvent.
const (
	OutcomeApplied  = "APPLIED"
	OutcomeRejected = "REJECTED"
)

// WMSEvent is a WMS event as recorded.
type WMSEvent struct {
	Source      string
	EventID     string
	Fingerprint string
	RequestID   string
	Outcome     string
	Reason      string
	Detail      string
	Payload     []byte
	RecordTime  time.Time
}

// LookupWMSEvent returns the recorded event (source, eventID) and whether
// it exists.
func (t *Tx) LookupWMSEvent(ctx context.Context, source, eventID string) (WMSEvent, bool, error) {
	ev := WMSEvent{Source: source, EventID: eventID}
	var rec int64
	err := t.tx.QueryRowContext(ctx, t.d.Rebind(`
		SELECT fingerprint, request_id, outcome, reason, detail, record_us FROM wms_events
		WHERE source = ? AND event_id = ?`), source, eventID).
		Scan(&ev.Fingerprint, &ev.RequestID, &ev.Outcome, &ev.Reason, &ev.Detail, &rec)
	if errors.Is(err, sql.ErrNoRows) {
		return WMSEvent{}, false, nil
	}
	if err != nil {
		return WMSEvent{}, false, fmt.Errorf("lookup wms event %s/%s: %w", source, eventID, err)
	}
	ev.RecordTime = fromUS(rec)
	return ev, true, nil
}

// RecordWMSEvent records an event with its outcome.
func (t *Tx) RecordWMSEvent(ctx context.Context, ev WMSEvent) error {
	_, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		INSERT INTO wms_events (source, event_id, fingerprint, request_id, outcome, reason, detail, payload, record_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ev.Source, ev.EventID, ev.Fingerprint, ev.RequestID, ev.Outcome, ev.Reason, ev.Detail, ev.Payload, us(ev.RecordTime))
	if err != nil {
		return fmt.Errorf("record wms event %s/%s: %w", ev.Source, ev.EventID, err)
	}
	return nil
}

// RejectedWMSEvents lists the rejected WMS events (the exception desk's
// view), oldest first, at most limit.
func (s *Store) RejectedWMSEvents(ctx context.Context, limit int) ([]WMSEvent, error) {
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(`
		SELECT source, event_id, fingerprint, request_id, outcome, reason, detail, record_us FROM wms_events
		WHERE outcome = ? ORDER BY record_us, source, event_id LIMIT ?`), OutcomeRejected, limit)
	if err != nil {
		return nil, fmt.Errorf("rejected wms events: %w", err)
	}
	defer rows.Close()
	var out []WMSEvent
	for rows.Next() {
		var ev WMSEvent
		var rec int64
		if err := rows.Scan(&ev.Source, &ev.EventID, &ev.Fingerprint, &ev.RequestID, &ev.Outcome, &ev.Reason, &ev.Detail, &rec); err != nil {
			return nil, err
		}
		ev.RecordTime = fromUS(rec)
		out = append(out, ev)
	}
	return out, rows.Err()
}

// Cursor returns the stored feed cursor of source ("" when none).
func (t *Tx) Cursor(ctx context.Context, source string) (string, error) {
	return cursor(ctx, t.tx, t.d, source)
}

// Cursor returns the stored feed cursor of source ("" when none).
func (s *Store) Cursor(ctx context.Context, source string) (string, error) {
	return cursor(ctx, s.db.SQL(), s.db.Dialect(), source)
}

func cursor(ctx context.Context, q querier, d sqldb.Dialect, source string) (string, error) {
	var c string
	err := q.QueryRowContext(ctx, d.Rebind(`SELECT cursor FROM wms_cursors WHERE source = ?`), source).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor of %s: %w", source, err)
	}
	return c, nil
}

// SetCursor stores the feed cursor of source.
func (t *Tx) SetCursor(ctx context.Context, source, cur string, now time.Time) error {
	_, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		INSERT INTO wms_cursors (source, cursor, update_us) VALUES (?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, update_us = excluded.update_us`),
		source, cur, us(now))
	if err != nil {
		return fmt.Errorf("store cursor of %s: %w", source, err)
	}
	return nil
}
