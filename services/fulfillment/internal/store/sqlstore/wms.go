package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

// wmsEventKey names a recorded WMS event.
type wmsEventKey struct{ source, eventID string }

// PrefetchWMSEvents reads, in one statement, which of the events ids of
// source were recorded, so that LookupWMSEvent answers for them without a
// statement of its own for the rest of the transaction (a WMS feed page
// looked each of its events up one by one). The transaction's own
// RecordWMSEvent calls keep the answers current; ids not prefetched are
// looked up in the database as before.
func (t *Tx) PrefetchWMSEvents(ctx context.Context, source string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, source)
	for _, id := range ids {
		args = append(args, id)
	}
	evs, err := sqldb.QueryAll(ctx, t.q, t.d.Rebind(`SELECT `+wmsEventColumns+` FROM wms_events WHERE source = ? AND event_id IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`)`), args, scanWMSEvent)
	if err != nil {
		return fmt.Errorf("prefetch %d wms events of %s: %w", len(ids), source, err)
	}
	if t.wmsEvents == nil {
		t.wmsEvents = map[wmsEventKey]*fulfillment.WMSEventRecord{}
	}
	for _, id := range ids {
		t.wmsEvents[wmsEventKey{source, id}] = nil // not recorded, unless found below
	}
	for i := range evs {
		t.wmsEvents[wmsEventKey{source, evs[i].EventID}] = &evs[i]
	}
	return nil
}

// LookupWMSEvent implements fulfillment.Tx.
func (t *Tx) LookupWMSEvent(ctx context.Context, source, eventID string) (fulfillment.WMSEventRecord, bool, error) {
	if ev, ok := t.wmsEvents[wmsEventKey{source, eventID}]; ok {
		if ev == nil {
			return fulfillment.WMSEventRecord{}, false, nil
		}
		return *ev, true, nil
	}
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
		delete(t.wmsEvents, wmsEventKey{ev.Source, ev.EventID})
		return fmt.Errorf("record wms event %s/%s: %w", ev.Source, ev.EventID, err)
	}
	if _, ok := t.wmsEvents[wmsEventKey{ev.Source, ev.EventID}]; ok {
		// As a read of the row would return it.
		stored := ev
		stored.Payload = nil
		stored.RecordTime = fromUS(us(ev.RecordTime))
		if stored.Outcome != fulfillment.WMSEventRejected {
			stored.Outcome = fulfillment.WMSEventApplied
		}
		t.wmsEvents[wmsEventKey{ev.Source, ev.EventID}] = &stored
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
