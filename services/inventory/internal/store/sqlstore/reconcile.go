package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/inventory/internal/events"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

const reconCols = `id, request_id, request_hash, state, snapshot_source, snapshot_us, apply_corrections, warehouse_codes, skus,
	compared_count, matched_count, variance_count, corrected_count, skipped_count, absolute_variance_total,
	error_message, create_us, end_us`

func scanRecon(sc sqldb.Scanner) (inventory.Reconciliation, string, error) {
	var (
		r                       inventory.Reconciliation
		hash, whs, skus         string
		apply                   int
		snapUS, createUS, endUS int64
	)
	err := sc.Scan(&r.ID, &r.RequestID, &hash, &r.State, &r.SnapshotSource, &snapUS, &apply, &whs, &skus,
		&r.Compared, &r.Matched, &r.Variances, &r.Corrected, &r.Skipped, &r.AbsoluteVarianceTotal,
		&r.ErrorMessage, &createUS, &endUS)
	if err != nil {
		return r, "", err
	}
	if err := json.Unmarshal([]byte(whs), &r.WarehouseCodes); err != nil {
		return r, "", err
	}
	if err := json.Unmarshal([]byte(skus), &r.SKUs); err != nil {
		return r, "", err
	}
	r.ApplyCorrections = apply == 1
	r.SnapshotTime, r.CreateTime, r.EndTime = fromMicros(snapUS), fromMicros(createUS), fromMicros(endUS)
	return r, hash, nil
}

func (s *Store) reconWhere(ctx context.Context, q querier, where string, args ...any) (inventory.Reconciliation, string, error) {
	r, hash, err := scanRecon(q.QueryRowContext(ctx, s.q(`SELECT `+reconCols+` FROM reconciliations WHERE `+where), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, "", inventory.ErrReconciliationNotFound
	}
	if err != nil {
		return r, "", fmt.Errorf("read reconciliation: %w", err)
	}
	return r, hash, nil
}

func jsonList(ss []string) string {
	if ss == nil {
		ss = []string{}
	}
	b, _ := json.Marshal(ss) // strings only: cannot fail
	return string(b)
}

// CreateReconciliation implements inventory.Store.
func (s *Store) CreateReconciliation(ctx context.Context, run inventory.Reconciliation, fp string, actor inventory.Actor) (inventory.Reconciliation, bool, error) {
	var (
		res     inventory.Reconciliation
		created bool
	)
	for attempt := 1; ; attempt++ {
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			created = false
			existing, hash, err := s.reconWhere(ctx, tx, `request_id = ?`, run.RequestID)
			if err == nil {
				if hash != fp {
					return inventory.ErrIdempotencyKeyReused
				}
				res = existing
				return nil
			}
			if !errors.Is(err, inventory.ErrReconciliationNotFound) {
				return err
			}
			// Serialise run creation: on PostgreSQL two concurrent starts
			// would otherwise both see no RUNNING run.
			if s.db.Dialect() == sqldb.Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7411)`); err != nil {
					return fmt.Errorf("lock reconciliations: %w", err)
				}
			}
			running, err := sqldb.QueryAll(ctx, tx, s.q(`SELECT `+reconCols+` FROM reconciliations WHERE state = ?`),
				[]any{int(inventory.ReconRunning)}, scanReconOnly)
			if err != nil {
				return fmt.Errorf("running reconciliations: %w", err)
			}
			for _, r := range running {
				if r.Overlaps(run) {
					return &inventory.ReconciliationInProgressError{Reconciliation: r.Name()}
				}
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO reconciliations (id, request_id, request_hash, state, snapshot_source,
				snapshot_us, apply_corrections, warehouse_codes, skus, create_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				run.ID, run.RequestID, fp, int(run.State), run.SnapshotSource, micros(run.SnapshotTime), boolInt(run.ApplyCorrections),
				jsonList(run.WarehouseCodes), jsonList(run.SKUs), micros(run.CreateTime))
			if err != nil {
				return fmt.Errorf("insert reconciliation: %w", err)
			}
			audit, err := events.ReconciliationStarted(actor, run)
			if err != nil {
				return err
			}
			if err := s.writeEvents(ctx, tx, audit); err != nil {
				return err
			}
			res, created = run, true
			return nil
		})
		if err != nil && sqldb.IsUniqueViolation(err) && attempt < maxUniqueRetries {
			continue
		}
		return res, created, err
	}
}

// SKUsInScope implements inventory.Store.
func (s *Store) SKUsInScope(ctx context.Context, warehouses, skus []string) ([]string, error) {
	var w where
	w.in("warehouse_code", warehouses)
	w.in("sku", skus)
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT DISTINCT sku FROM stock_levels`+w.sql()+` ORDER BY sku`),
		w.args, sqldb.ScanValue[string])
	if err != nil {
		return nil, fmt.Errorf("SKUs in scope: %w", err)
	}
	return out, nil
}

// ReconcileChunk implements inventory.Store.
func (s *Store) ReconcileChunk(ctx context.Context, p inventory.ReconcileChunkParams, now time.Time) error {
	run, skus := p.Run, p.SKUs
	for attempt := 1; ; attempt++ {
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			locked, err := s.lockLevels(ctx, tx, skus)
			if err != nil {
				return err
			}
			ws, err := s.txWarehouseList(ctx, tx)
			if err != nil {
				return err
			}
			known := map[string]bool{}
			for _, w := range ws {
				known[w.Code] = true
			}
			snap := map[levelKey]inventory.SnapshotEntry{}
			for _, e := range p.Entries {
				snap[levelKey{e.SKU, e.WarehouseCode}] = e
			}
			pairs := map[levelKey]bool{}
			for k := range locked {
				if run.InScope(k.sku, k.wh) {
					pairs[k] = true
				}
			}
			for k := range snap {
				pairs[k] = true
			}
			batch := &eventBatch{s: s, tx: tx, source: run.SnapshotSource, now: now, locked: locked, last: map[levelKey]int64{}}
			var counts inventory.ReconciliationCounts
			for _, k := range sortedKeys(pairs) {
				l := locked[k]
				e, hasEntry := snap[k]
				last, err := batch.lastSequence(ctx, k)
				if err != nil {
					return err
				}
				var onHand int64
				if l != nil {
					onHand = l.OnHand
				}
				v, differs := inventory.Compare(k.sku, k.wh, l != nil, onHand, max(last, 0), hasEntry, e)
				counts.Compared++
				if !differs {
					counts.Matched++
					continue
				}
				v.ReconciliationID, v.CreateTime = run.ID, now
				counts.Variances++
				if v.Kind == inventory.KindSkippedSnapshotBehind {
					counts.Skipped++
				} else {
					counts.AbsoluteVarianceTotal += abs(v.Delta())
				}
				// The pair's events go out in one outbox batch: the
				// correction and its audit record, the variance, and the
				// exception when it is out of tolerance.
				var evs []outbox.Event
				if run.ApplyCorrections && v.Kind != inventory.KindSkippedSnapshotBehind && known[k.wh] {
					evs, err = s.correct(ctx, batch, run, p.Actor, k, v)
					if err != nil {
						return err
					}
					v.Corrected = true
					counts.Corrected++
				}
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO reconciliation_variances (reconciliation_id, sku, warehouse_code,
					kind, expected_on_hand, transload_on_hand, snapshot_sequence, transload_sequence, corrected, create_us)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
					run.ID, v.SKU, v.WarehouseCode, int(v.Kind), v.ExpectedOnHand, v.TransloadOnHand, v.SnapshotSequence,
					v.TransloadSequence, boolInt(v.Corrected), micros(now)); err != nil {
					return fmt.Errorf("record variance %s@%s: %w", v.SKU, v.WarehouseCode, err)
				}
				evs = append(evs, events.ReconciliationVariance(v, run.Name()))
				if out, severe := v.OutOfTolerance(p.ExceptionThreshold); out {
					ev, err := events.VarianceException(v, run.Name(), severe)
					if err != nil {
						return err
					}
					evs = append(evs, ev)
				}
				if err := s.writeEvents(ctx, tx, evs...); err != nil {
					return err
				}
			}
			if counts.Corrected > 0 {
				if err := s.allocateBackorders(ctx, tx, locked, skus, "", p.Actor, now, nil); err != nil {
					return err
				}
			}
			_, err = tx.ExecContext(ctx, s.q(`UPDATE reconciliations SET compared_count = compared_count + ?,
				matched_count = matched_count + ?, variance_count = variance_count + ?, corrected_count = corrected_count + ?,
				skipped_count = skipped_count + ?, absolute_variance_total = absolute_variance_total + ? WHERE id = ?`),
				counts.Compared, counts.Matched, counts.Variances, counts.Corrected, counts.Skipped, counts.AbsoluteVarianceTotal, run.ID)
			if err != nil {
				return fmt.Errorf("update reconciliation counts: %w", err)
			}
			return nil
		})
		if err != nil && sqldb.IsUniqueViolation(err) && attempt < maxUniqueRetries {
			// A stock event created a level of the chunk meanwhile.
			continue
		}
		return err
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func sortedKeys(m map[levelKey]bool) []levelKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b levelKey) int {
		return cmp.Or(strings.Compare(a.sku, b.sku), strings.Compare(a.wh, b.wh))
	})
}

// correct sets the level's on-hand (and, when the snapshot names one, its
// source sequence) to the system of record's and returns the events to
// write next: its StockChangedEvent and its audit record
// ("stock_level.correct" by actor).
func (s *Store) correct(ctx context.Context, b *eventBatch, run inventory.Reconciliation, actor inventory.Actor, k levelKey,
	v inventory.Variance,
) ([]outbox.Event, error) {
	l, err := b.level(ctx, k)
	if err != nil {
		return nil, err
	}
	var before *inventory.StockLevel
	if l.Revision > 0 { // revision 0: b.level created it just now
		prev := *l
		before = &prev
	}
	meta := changeMeta{Reference: run.Name()}
	if v.SnapshotSequence > 0 {
		meta.SourceSystem, meta.Sequence = run.SnapshotSource, v.SnapshotSequence
		if err := b.setLast(ctx, k, v.SnapshotSequence); err != nil {
			return nil, err
		}
	}
	prev := l.Quantities
	next := prev
	next.OnHand = v.ExpectedOnHand
	if err := s.saveLevel(ctx, b.tx, l, next, nil, meta, b.now); err != nil {
		return nil, err
	}
	audit, err := events.StockLevelAudit("correct", actor, before, *l)
	if err != nil {
		return nil, err
	}
	return []outbox.Event{stockChanged(*l, prev, inventory.CauseReconciliationCorrection, meta), audit}, nil
}

// FinishReconciliation implements inventory.Store.
func (s *Store) FinishReconciliation(ctx context.Context, id string, state inventory.ReconciliationState, msg string, snapshotTime, now time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE reconciliations SET state = ?, error_message = ?, snapshot_us = ?, end_us = ?
			WHERE id = ? AND state = ?`), int(state), msg, micros(snapshotTime), micros(now), id, int(inventory.ReconRunning)); err != nil {
			return fmt.Errorf("finish reconciliation %s: %w", id, err)
		}
		r, _, err := s.reconWhere(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		return s.writeEvents(ctx, tx, events.ReconciliationCompleted(r))
	})
}

// FailRunningReconciliations implements inventory.Store.
func (s *Store) FailRunningReconciliations(ctx context.Context, msg string, now time.Time) (int, error) {
	res, err := s.db.SQL().ExecContext(ctx, s.q(`UPDATE reconciliations SET state = ?, error_message = ?, end_us = ? WHERE state = ?`),
		int(inventory.ReconFailed), msg, micros(now), int(inventory.ReconRunning))
	if err != nil {
		return 0, fmt.Errorf("fail running reconciliations: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// GetReconciliation implements inventory.Store.
func (s *Store) GetReconciliation(ctx context.Context, id string) (inventory.Reconciliation, error) {
	r, _, err := s.reconWhere(ctx, s.db.SQL(), `id = ?`, id)
	if err != nil {
		return r, fmt.Errorf("reconciliation %s: %w", id, err)
	}
	return r, nil
}

// ListReconciliations implements inventory.Store.
func (s *Store) ListReconciliations(ctx context.Context, q inventory.ReconciliationQuery) ([]inventory.Reconciliation, error) {
	var w where
	w.addIf(q.State != 0, "state = ?", int(q.State))
	w.addIf(q.SnapshotSource != "", "snapshot_source = ?", q.SnapshotSource)
	w.newestBefore(q.BeforeCreate, q.BeforeID)
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT `+reconCols+` FROM reconciliations`+w.sql()+
		` ORDER BY create_us DESC, id DESC LIMIT ?`), append(w.args, max(q.Limit, 1)), scanReconOnly)
	if err != nil {
		return nil, fmt.Errorf("list reconciliations: %w", err)
	}
	return out, nil
}

func scanReconOnly(sc sqldb.Scanner) (inventory.Reconciliation, error) {
	r, _, err := scanRecon(sc)
	return r, err
}

const varianceCols = `reconciliation_id, sku, warehouse_code, kind, expected_on_hand, transload_on_hand, snapshot_sequence,
	transload_sequence, corrected, create_us`

func scanVariance(sc sqldb.Scanner) (inventory.Variance, error) {
	var (
		v         inventory.Variance
		corrected int
		createUS  int64
	)
	err := sc.Scan(&v.ReconciliationID, &v.SKU, &v.WarehouseCode, &v.Kind, &v.ExpectedOnHand, &v.TransloadOnHand,
		&v.SnapshotSequence, &v.TransloadSequence, &corrected, &createUS)
	v.Corrected, v.CreateTime = corrected == 1, fromMicros(createUS)
	return v, err
}

// GetVariance implements inventory.Store.
func (s *Store) GetVariance(ctx context.Context, runID, sku, wh string) (inventory.Variance, error) {
	v, err := scanVariance(s.db.SQL().QueryRowContext(ctx, s.q(`SELECT `+varianceCols+` FROM reconciliation_variances
		WHERE reconciliation_id = ? AND sku = ? AND warehouse_code = ?`), runID, sku, wh))
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("%s@%s: %w", sku, wh, inventory.ErrVarianceNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("get variance: %w", err)
	}
	return v, nil
}

// ListVariances implements inventory.Store.
func (s *Store) ListVariances(ctx context.Context, q inventory.VarianceQuery) ([]inventory.Variance, error) {
	var w where
	w.add("reconciliation_id = ?", q.ReconciliationID)
	w.addIf(q.SKU != "", "sku = ?", q.SKU)
	w.addIf(q.WarehouseCode != "", "warehouse_code = ?", q.WarehouseCode)
	w.addIf(q.Kind != 0, "kind = ?", int(q.Kind))
	if q.Corrected != nil {
		w.add("corrected = ?", boolInt(*q.Corrected))
	}
	w.pairAfter(q.AfterSKU, q.AfterWarehouse)
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT `+varianceCols+` FROM reconciliation_variances`+w.sql()+
		` ORDER BY sku, warehouse_code LIMIT ?`), append(w.args, max(q.Limit, 1)), scanVariance)
	if err != nil {
		return nil, fmt.Errorf("list variances: %w", err)
	}
	return out, nil
}
