package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Recorded outcomes of WMS events (wms_events.outcome).
const (
	outcomeApplied  = "APPLIED"
	outcomeRejected = "REJECTED"
)

const wmsEventColumns = `source, event_id, fingerprint, request_id, outcome, reason, detail, record_us`

func scanWMSEvent(row sqldb.Scanner) (fulfillment.WMSEventRecord, error) {
	var (
		ev      fulfillment.WMSEventRecord
		outcome string
		rec     int64
	)
	if err := row.Scan(&ev.Source, &ev.EventID, &ev.Fingerprint, &ev.RequestID, &outcome, &ev.Reason, &ev.Detail, &rec); err != nil {
		return fulfillment.WMSEventRecord{}, err
	}
	ev.Outcome = fulfillment.WMSEventApplied
	if outcome == outcomeRejected {
		ev.Outcome = fulfillment.WMSEventRejected
	}
	ev.RecordTime = fromUS(rec)
	return ev, nil
}

// LookupWMSEvent implements fulfillment.Tx.
func (t *Tx) LookupWMSEvent(ctx context.Context, source, eventID string) (fulfillment.WMSEventRecord, bool, error) {
	ev, err := scanWMSEvent(t.queryRow(ctx, `SELECT `+wmsEventColumns+` FROM wms_events WHERE source = ? AND event_id = ?`, source, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return fulfillment.WMSEventRecord{}, false, nil
	}
	if err != nil {
		return fulfillment.WMSEventRecord{}, false, fmt.Errorf("lookup wms event %s/%s: %w", source, eventID, err)
	}
	return ev, true, nil
}

// RecordWMSEvent implements fulfillment.Tx.
func (t *Tx) RecordWMSEvent(ctx context.Context, ev fulfillment.WMSEventRecord) error {
	outcome := outcomeApplied
	if ev.Outcome == fulfillment.WMSEventRejected {
		outcome = outcomeRejected
	}
	_, err := t.exec(ctx, `
		INSERT INTO wms_events (source, event_id, fingerprint, request_id, outcome, reason, detail, payload, record_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Source, ev.EventID, ev.Fingerprint, ev.RequestID, outcome, ev.Reason, ev.Detail, ev.Payload, us(ev.RecordTime))
	if err != nil {
		return fmt.Errorf("record wms event %s/%s: %w", ev.Source, ev.EventID, err)
	}
	return nil
}

// RejectedWMSEvents implements fulfillment.Store.
func (s *Store) RejectedWMSEvents(ctx context.Context, limit int) ([]fulfillment.WMSEventRecord, error) {
	evs, err := sqldb.QueryAll(ctx, s.q, s.d.Rebind(`SELECT `+wmsEventColumns+` FROM wms_events
		WHERE outcome = ? ORDER BY record_us, source, event_id LIMIT ?`), []any{outcomeRejected, limit}, scanWMSEvent)
	if err != nil {
		return nil, fmt.Errorf("rejected wms events: %w", err)
	}
	return evs, nil
}

// Cursor implements fulfillment.Store and fulfillment.Tx.
func (c conn) Cursor(ctx context.Context, source string) (string, error) {
	var cur string
	err := c.queryRow(ctx, `SELECT cursor FROM wms_cursors WHERE source = ?`, source).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor of %s: %w", source, err)
	}
	return cur, nil
}

// SetCursor implements fulfillment.Tx.
func (t *Tx) SetCursor(ctx context.Context, source, cur string, now time.Time) error {
	_, err := t.exec(ctx, `
		INSERT INTO wms_cursors (source, cursor, update_us) VALUES (?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, update_us = excluded.update_us`,
		source, cur, us(now))
	if err != nil {
		return fmt.Errorf("store cursor of %s: %w", source, err)
	}
	return nil
}
