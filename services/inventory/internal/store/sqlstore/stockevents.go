package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/inventory/internal/events"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// eventBatch is the state of one ApplyStockEvents transaction.
type eventBatch struct {
	s      *Store
	tx     *sql.Tx
	source string
	now    time.Time
	locked lockedLevels
	// warehouses holds the known warehouse codes.
	warehouses map[string]bool
	// last is the last applied sequence per pair (-1: none yet), loaded
	// lazily.
	last map[levelKey]int64
	// reservations are the reservations named by SHIPMENT events, locked.
	reservations map[string]*storedReservation
	// actor reports the events; before holds the locked levels as they
	// were before the batch (for its audit records).
	actor  inventory.Actor
	before map[levelKey]inventory.StockLevel
	// pending are the batch's StockChangedEvents and variance events not
	// written yet: written with the audit records in one outbox batch, or
	// earlier (flush) when a reservation change of a locked level is about
	// to write its own, so each level's events stay in revision order.
	pending []outbox.Event
}

// flush writes the pending events.
func (b *eventBatch) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	err := b.s.writeEvents(ctx, b.tx, b.pending...)
	b.pending = nil
	return err
}

// ApplyStockEvents implements inventory.Store.
func (s *Store) ApplyStockEvents(ctx context.Context, p inventory.ApplyStockEventsParams, now time.Time) ([]inventory.StockEventResult, error) {
	hash := fingerprint.Of(p)
	for attempt := 1; ; attempt++ {
		var results []inventory.StockEventResult
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if p.Cursor != nil {
				// The feed position moves in the batch's transaction: one
				// commit (and fsync) per feed page instead of two.
				if err := s.moveFeedCursor(ctx, tx, *p.Cursor, now); err != nil {
					return err
				}
			}
			var (
				stored, storedHash string
			)
			err := tx.QueryRowContext(ctx, s.q(`SELECT request_hash, results FROM stock_event_batches WHERE request_id = ?`),
				p.RequestID).Scan(&storedHash, &stored)
			switch {
			case err == nil:
				if storedHash != hash {
					return inventory.ErrIdempotencyKeyReused
				}
				return json.Unmarshal([]byte(stored), &results)
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("read stock event batch %s: %w", p.RequestID, err)
			}
			b, err := s.newEventBatch(ctx, tx, p, now)
			if err != nil {
				return err
			}
			results = make([]inventory.StockEventResult, len(p.Events))
			for i, e := range p.Events {
				results[i], err = b.handle(ctx, i, e, p.Invalid)
				if err != nil {
					return fmt.Errorf("stock event %s: %w", e.EventID, err)
				}
			}
			var touched []string
			for i, e := range p.Events {
				if results[i].Outcome == inventory.OutcomeApplied {
					touched = append(touched, e.SKU)
				}
			}
			if err := s.allocateBackorders(ctx, tx, b.locked, touched, "", p.Actor, now, b.flush); err != nil {
				return err
			}
			if err := b.auditLevels(ctx); err != nil {
				return err
			}
			for i, e := range p.Events {
				if last := b.last[levelKey{e.SKU, e.WarehouseCode}]; last > 0 {
					results[i].AppliedSequence = last
				}
			}
			enc, err := json.Marshal(results)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO stock_event_batches (request_id, request_hash, results) VALUES (?, ?, ?)`),
				p.RequestID, hash, string(enc)); err != nil {
				return fmt.Errorf("record stock event batch %s: %w", p.RequestID, err)
			}
			return nil
		})
		if err != nil && sqldb.IsUniqueViolation(err) && attempt < maxUniqueRetries {
			// A concurrent batch created the same new stock level or used
			// the same request id; the next run sees its rows.
			continue
		}
		if err != nil {
			return nil, err
		}
		return results, nil
	}
}

// newEventBatch locks, in the global lock order, the reservations named by
// shipment events and then the stock levels of every SKU of the batch.
func (s *Store) newEventBatch(ctx context.Context, tx *sql.Tx, p inventory.ApplyStockEventsParams, now time.Time) (*eventBatch, error) {
	b := &eventBatch{
		s: s, tx: tx, source: p.SourceSystem, now: now, actor: p.Actor,
		warehouses: map[string]bool{}, last: map[levelKey]int64{}, reservations: map[string]*storedReservation{},
		before: map[levelKey]inventory.StockLevel{},
	}
	// Only the codes: spares decoding every warehouse's address and
	// channels per batch.
	codes, err := sqldb.QueryAll(ctx, tx, `SELECT code FROM warehouses`, nil, sqldb.ScanValue[string])
	if err != nil {
		return nil, fmt.Errorf("list warehouse codes: %w", err)
	}
	for _, c := range codes {
		b.warehouses[c] = true
	}
	var resIDs, skus []string
	for i, e := range p.Events {
		if _, bad := p.Invalid[i]; bad {
			continue
		}
		skus = append(skus, e.SKU)
		if e.ReservationID != "" {
			resIDs = append(resIDs, e.ReservationID)
		}
	}
	slices.Sort(resIDs)
	for _, id := range slices.Compact(resIDs) {
		r, err := s.reservationWhere(ctx, tx, `id = ?`, true, id)
		if errors.Is(err, inventory.ErrReservationNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		b.reservations[id] = &r
	}
	slices.Sort(skus)
	b.locked, err = s.lockLevels(ctx, tx, slices.Compact(skus))
	if err != nil {
		return nil, err
	}
	for k, l := range b.locked {
		b.before[k] = *l
	}
	return b, nil
}

// auditLevels writes, in one outbox batch with the pending events, a
// "stock_level.apply" audit record for every stock level the batch changed
// (created it, or moved its revision or source sequence), from before the
// batch to after it: one record per level however many of the batch's
// events touched it.
func (b *eventBatch) auditLevels(ctx context.Context) error {
	changed := map[levelKey]bool{}
	for k, l := range b.locked {
		prev, existed := b.before[k]
		changed[k] = !existed || prev.Revision != l.Revision || prev.Sequence != l.Sequence || prev.SourceSystem != l.SourceSystem
	}
	evs := b.pending
	b.pending = nil
	for _, k := range sortedKeys(changed) {
		if !changed[k] {
			continue
		}
		var before *inventory.StockLevel
		if prev, existed := b.before[k]; existed {
			before = &prev
		}
		ev, err := events.StockLevelAudit("apply", b.actor, before, *b.locked[k])
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	return b.s.writeEvents(ctx, b.tx, evs...)
}

// lastSequence returns the last applied sequence of the pair, or -1.
func (b *eventBatch) lastSequence(ctx context.Context, k levelKey) (int64, error) {
	if v, ok := b.last[k]; ok {
		return v, nil
	}
	var last int64
	err := b.tx.QueryRowContext(ctx, b.s.q(`SELECT last_sequence FROM stock_sources
		WHERE source_system = ? AND sku = ? AND warehouse_code = ?`), b.source, k.sku, k.wh).Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		last = -1
	case err != nil:
		return 0, fmt.Errorf("read source sequence: %w", err)
	}
	b.last[k] = last
	return last, nil
}

func (b *eventBatch) setLast(ctx context.Context, k levelKey, seq int64) error {
	_, err := b.tx.ExecContext(ctx, b.s.q(`INSERT INTO stock_sources (source_system, sku, warehouse_code, last_sequence)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (source_system, sku, warehouse_code) DO UPDATE SET last_sequence = excluded.last_sequence`),
		b.source, k.sku, k.wh, seq)
	if err != nil {
		return fmt.Errorf("record source sequence: %w", err)
	}
	b.last[k] = seq
	return nil
}

func (b *eventBatch) handle(ctx context.Context, i int, e inventory.StockEvent, invalid map[int]string) (inventory.StockEventResult, error) {
	res := inventory.StockEventResult{EventID: e.EventID}
	if msg, bad := invalid[i]; bad {
		res.Outcome, res.Reason, res.Message = inventory.OutcomeRejected, inventory.RejectInvalid, msg
		return res, nil
	}
	var n int
	if err := b.tx.QueryRowContext(ctx, b.s.q(`SELECT COUNT(*) FROM stock_events WHERE source_system = ? AND event_id = ?`),
		b.source, e.EventID).Scan(&n); err != nil {
		return res, fmt.Errorf("look up event: %w", err)
	}
	if n > 0 {
		res.Outcome = inventory.OutcomeDuplicate
		return res, nil
	}
	if !b.warehouses[e.WarehouseCode] {
		res.Outcome, res.Reason, res.Message = inventory.OutcomeRejected, inventory.RejectWarehouseNotFound,
			"warehouse "+e.WarehouseCode+" does not exist"
		return res, nil
	}
	k := levelKey{e.SKU, e.WarehouseCode}
	last, err := b.lastSequence(ctx, k)
	if err != nil {
		return res, err
	}
	switch {
	case last >= 0 && e.Sequence <= last:
		res.Outcome, res.Reason = inventory.OutcomeRejected, inventory.RejectStale
		res.Message = "sequence " + strconv.FormatInt(e.Sequence, 10) + " is not above the last applied " + strconv.FormatInt(last, 10)
		return res, nil
	case last >= 0 && e.Sequence > last+1:
		if err := b.record(ctx, e, false); err != nil {
			return res, err
		}
		res.Outcome = inventory.OutcomeBuffered
		return res, nil
	}
	if err := b.record(ctx, e, true); err != nil {
		return res, err
	}
	if err := b.apply(ctx, e); err != nil {
		return res, err
	}
	// Apply buffered successors now that the gap before them is closed.
	for {
		next, ok, err := b.buffered(ctx, k, b.last[k]+1)
		if err != nil || !ok {
			if err != nil {
				return res, err
			}
			break
		}
		if _, err := b.tx.ExecContext(ctx, b.s.q(`UPDATE stock_events SET applied = 1 WHERE source_system = ? AND event_id = ?`),
			b.source, next.EventID); err != nil {
			return res, fmt.Errorf("mark buffered event applied: %w", err)
		}
		if err := b.apply(ctx, next); err != nil {
			return res, err
		}
	}
	res.Outcome = inventory.OutcomeApplied
	return res, nil
}

func (b *eventBatch) record(ctx context.Context, e inventory.StockEvent, applied bool) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = b.tx.ExecContext(ctx, b.s.q(`INSERT INTO stock_events (source_system, event_id, sku, warehouse_code, sequence,
		applied, payload, received_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		b.source, e.EventID, e.SKU, e.WarehouseCode, e.Sequence, boolInt(applied), string(payload), micros(b.now))
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return nil
}

func (b *eventBatch) buffered(ctx context.Context, k levelKey, seq int64) (inventory.StockEvent, bool, error) {
	var (
		e       inventory.StockEvent
		payload string
	)
	err := b.tx.QueryRowContext(ctx, b.s.q(`SELECT payload FROM stock_events
		WHERE source_system = ? AND sku = ? AND warehouse_code = ? AND sequence = ? AND applied = 0
		ORDER BY received_us LIMIT 1`), b.source, k.sku, k.wh, seq).Scan(&payload)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("read buffered event: %w", err)
	}
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return e, false, fmt.Errorf("decode buffered event: %w", err)
	}
	return e, true, nil
}

// level returns the locked level of k, creating an empty one (revision 0,
// bumped to 1 by its first change) for a pair seen for the first time.
func (b *eventBatch) level(ctx context.Context, k levelKey) (*inventory.StockLevel, error) {
	if l := b.locked[k]; l != nil {
		return l, nil
	}
	if _, err := b.tx.ExecContext(ctx, b.s.q(`INSERT INTO stock_levels (sku, warehouse_code, on_hand, reserved, inbound,
		inbound_total, source_system, source_sequence, revision, update_us) VALUES (?, ?, 0, 0, '[]', 0, '', 0, 0, ?)`),
		k.sku, k.wh, micros(b.now)); err != nil {
		return nil, fmt.Errorf("create stock level %s@%s: %w", k.sku, k.wh, err)
	}
	l := &inventory.StockLevel{SKU: k.sku, WarehouseCode: k.wh, UpdateTime: b.now}
	b.locked[k] = l
	return l, nil
}

// apply applies one in-sequence event and records its sequence.
func (b *eventBatch) apply(ctx context.Context, e inventory.StockEvent) error {
	k := levelKey{e.SKU, e.WarehouseCode}
	l, err := b.level(ctx, k)
	if err != nil {
		return err
	}
	meta := changeMeta{SourceSystem: b.source, Sequence: e.Sequence, Kind: e.Kind, Reference: e.EventID}
	if err := b.setLast(ctx, k, e.Sequence); err != nil {
		return err
	}
	if e.Kind == inventory.KindShipment && e.ReservationID != "" {
		done, err := b.commitShipment(ctx, e, meta)
		if err != nil || done {
			return err
		}
	}
	prev := l.Quantities
	implied := inventory.ImpliedOnHand(e, prev.OnHand)
	next := prev
	next.OnHand = max(0, implied)
	var inbound []inventory.InboundSupply
	if e.Kind == inventory.KindInboundSet {
		inbound = e.Inbound
		if inbound == nil {
			inbound = []inventory.InboundSupply{}
		}
	}
	if err := b.s.saveLevel(ctx, b.tx, l, next, inbound, meta, b.now); err != nil {
		return err
	}
	b.pending = append(b.pending, stockChanged(*l, prev, inventory.CauseStockEvent, meta))
	if implied < 0 {
		b.pending = append(b.pending, events.NegativeStock(e.SKU, e.WarehouseCode, e.EventID, implied, prev.OnHand, b.now))
	}
	return nil
}

// commitShipment commits a SHIPMENT event against its reservation. It
// reports done when the event needs nothing more: committed now, or the
// shipment was already committed (by CommitReservation). When the
// reservation cannot take the shipment (unknown, not open, not enough
// open in the warehouse) the caller applies it as a plain SHIPMENT.
func (b *eventBatch) commitShipment(ctx context.Context, e inventory.StockEvent, meta changeMeta) (bool, error) {
	r := b.reservations[e.ReservationID]
	if r == nil {
		return false, nil
	}
	var n int
	if err := b.tx.QueryRowContext(ctx, b.s.q(`SELECT COUNT(*) FROM reservation_shipments WHERE reservation_id = ? AND shipment_id = ?`),
		r.ID, e.ShipmentID).Scan(&n); err != nil {
		return false, fmt.Errorf("read shipment %s: %w", e.ShipmentID, err)
	}
	if n > 0 {
		// Committed by CommitReservation already: the level only records
		// the sequence.
		_, err := b.tx.ExecContext(ctx, b.s.q(`UPDATE stock_levels SET source_system = ?, source_sequence = ?
			WHERE sku = ? AND warehouse_code = ?`), b.source, e.Sequence, e.SKU, e.WarehouseCode)
		if l := b.locked[levelKey{e.SKU, e.WarehouseCode}]; l != nil {
			l.SourceSystem, l.Sequence = b.source, e.Sequence
		}
		return true, err
	}
	work := cloneReservation(r.Reservation)
	out, err := inventory.CommitShipment(&work, e.WarehouseCode, e.ShipmentID, []inventory.CommitLine{{SKU: e.SKU, Quantity: e.Quantity}})
	if err != nil {
		// Not committable (released, expired, not enough open in the
		// warehouse): the goods left anyway, so the caller applies the
		// event as a plain shipment.
		return false, nil
	}
	meta.Reference = ""
	c := reservationChange{before: r.Reservation, after: work, out: out, verb: "commit", actor: b.actor}
	if err := b.flush(ctx); err != nil {
		return false, err
	}
	if err := b.s.finishUpdate(ctx, b.tx, b.locked, c, b.now, meta); err != nil {
		return false, err
	}
	if _, err := b.tx.ExecContext(ctx, b.s.q(`INSERT INTO reservation_shipments (reservation_id, shipment_id, warehouse_code)
		VALUES (?, ?, ?)`), r.ID, e.ShipmentID, e.WarehouseCode); err != nil {
		return false, fmt.Errorf("record shipment %s: %w", e.ShipmentID, err)
	}
	work.UpdateTime = b.now
	work.Version++
	r.Reservation = work
	return true, nil
}

// RaiseSequenceGaps implements inventory.Store. The gaps are read outside
// a transaction (usually there are none, and on SQLite a write
// transaction would take the database lock every round); each is then
// claimed in stock_sequence_gaps with its exception in one transaction,
// where ON CONFLICT DO NOTHING lets only one caller raise it.
func (s *Store) RaiseSequenceGaps(ctx context.Context, overdueBefore, now time.Time) (int, error) {
	// A gap of a pair: buffered events above the last applied sequence,
	// the oldest received before overdueBefore, not raised yet.
	gaps, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT e.source_system, e.sku, e.warehouse_code,
			s.last_sequence + 1, MIN(e.sequence)
		FROM stock_events e JOIN stock_sources s
			ON s.source_system = e.source_system AND s.sku = e.sku AND s.warehouse_code = e.warehouse_code
		WHERE e.applied = 0 AND e.sequence > s.last_sequence AND NOT EXISTS (SELECT 1 FROM stock_sequence_gaps g
			WHERE g.source_system = e.source_system AND g.sku = e.sku AND g.warehouse_code = e.warehouse_code
				AND g.expected_sequence = s.last_sequence + 1)
		GROUP BY e.source_system, e.sku, e.warehouse_code, s.last_sequence
		HAVING MIN(e.received_us) < ?
		ORDER BY e.source_system, e.sku, e.warehouse_code`), []any{micros(overdueBefore)},
		func(sc sqldb.Scanner) (inventory.SequenceGap, error) {
			var g inventory.SequenceGap
			err := sc.Scan(&g.SourceSystem, &g.SKU, &g.WarehouseCode, &g.ExpectedSequence, &g.ReceivedSequence)
			return g, err
		})
	if err != nil {
		return 0, fmt.Errorf("overdue stock event gaps: %w", err)
	}
	if len(gaps) == 0 {
		return 0, nil
	}
	raised := 0
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		raised = 0
		// Gaps that closed since they were raised are forgotten: sequences
		// only grow, so their expected sequence cannot open again.
		if _, err := tx.ExecContext(ctx, `DELETE FROM stock_sequence_gaps WHERE EXISTS (SELECT 1 FROM stock_sources s
			WHERE s.source_system = stock_sequence_gaps.source_system AND s.sku = stock_sequence_gaps.sku
				AND s.warehouse_code = stock_sequence_gaps.warehouse_code
				AND s.last_sequence >= stock_sequence_gaps.expected_sequence)`); err != nil {
			return fmt.Errorf("forget closed stock event gaps: %w", err)
		}
		var evs []outbox.Event
		for _, g := range gaps {
			var last int64
			if err := tx.QueryRowContext(ctx, s.q(`SELECT last_sequence FROM stock_sources
				WHERE source_system = ? AND sku = ? AND warehouse_code = ?`), g.SourceSystem, g.SKU, g.WarehouseCode).Scan(&last); err != nil {
				return fmt.Errorf("read source sequence of %s@%s: %w", g.SKU, g.WarehouseCode, err)
			}
			if last+1 != g.ExpectedSequence {
				continue // the gap moved or closed since it was read
			}
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO stock_sequence_gaps (source_system, sku, warehouse_code,
				expected_sequence, received_sequence, raised_us) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
				g.SourceSystem, g.SKU, g.WarehouseCode, g.ExpectedSequence, g.ReceivedSequence, micros(now))
			if err != nil {
				return fmt.Errorf("record stock event gap %s@%s: %w", g.SKU, g.WarehouseCode, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				// Raised meanwhile by another caller.
				if err != nil {
					return fmt.Errorf("record stock event gap %s@%s: %w", g.SKU, g.WarehouseCode, err)
				}
				continue
			}
			ev, err := events.SequenceGapException(g, now)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		raised = len(evs)
		return s.writeEvents(ctx, tx, evs...)
	})
	if err != nil {
		return 0, fmt.Errorf("raise stock event gaps: %w", err)
	}
	return raised, nil
}
