// Package sqlstore is the inventory Store over database/sql, shared by
// SQLite and PostgreSQL: the SQL is identical for both engines except for
// the row locks PostgreSQL takes (SELECT ... FOR UPDATE, always in SKU then
// warehouse order so concurrent writers cannot deadlock); on SQLite the
// IMMEDIATE write transaction of sqldb.InTx serialises writers. Times are
// stored as unix microseconds and booleans as 0/1 on both engines.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/inventory/internal/events"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// MigrationSet is the sqldb migration set of the inventory tables.
const MigrationSet = "inventory"

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the inventory and outbox tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return outbox.Migrate(ctx, db)
}

// Store implements inventory.Store.
type Store struct {
	db *sqldb.DB
}

var _ inventory.Store = (*Store)(nil)

// New returns a Store over db (migrated with Migrate).
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// querier is what *sql.DB and *sql.Tx have in common: the reads of
// sqldb.Querier and single-row reads.
type querier interface {
	sqldb.Querier
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) q(query string) string { return s.db.Rebind(query) }

// forUpdate is the row-lock clause: PostgreSQL locks the selected rows;
// SQLite has no row locks and already holds the database write lock.
func (s *Store) forUpdate() string {
	if s.db.Dialect() == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// where collects the conditions of a WHERE clause and their arguments.
type where struct {
	conds []string
	args  []any
}

// add adds cond with its arguments.
func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// addIf adds cond, with its arguments, when ok.
func (w *where) addIf(ok bool, cond string, args ...any) {
	if ok {
		w.add(cond, args...)
	}
}

// in adds `col IN (vals)` unless vals is empty.
func (w *where) in(col string, vals []string) {
	w.addIf(len(vals) > 0, col+` IN (`+placeholders(len(vals))+`)`, anys(vals)...)
}

// newestBefore adds the keyset condition of a list ordered by create time,
// then id, newest first, resuming after the row (at, id); nothing for the
// first page (id "").
func (w *where) newestBefore(at time.Time, id string) {
	us := micros(at)
	w.addIf(id != "", "(create_us < ? OR (create_us = ? AND id < ?))", us, us, id)
}

// pairAfter adds the keyset condition of a list ordered by SKU, then
// warehouse code, resuming after sku@warehouse; nothing for the first page
// (sku "").
func (w *where) pairAfter(sku, warehouse string) {
	w.addIf(sku != "", "(sku > ? OR (sku = ? AND warehouse_code > ?))", sku, sku, warehouse)
}

// sql returns " WHERE c1 AND c2 ...", or "" without conditions.
func (w where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---- warehouses ----

// HasWarehouses implements inventory.Store.
func (s *Store) HasWarehouses(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM warehouses`).Scan(&n); err != nil {
		return false, fmt.Errorf("count warehouses: %w", err)
	}
	return n > 0, nil
}

const warehouseCols = `code, display_name, region, address, priority, channels, active, create_us, update_us`

func scanWarehouse(sc sqldb.Scanner) (inventory.Warehouse, error) {
	var (
		w                  inventory.Warehouse
		addr, chans        string
		active             int
		createUS, updateUS int64
	)
	if err := sc.Scan(&w.Code, &w.DisplayName, &w.Region, &addr, &w.Priority, &chans, &active, &createUS, &updateUS); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(addr), &w.Address); err != nil {
		return w, fmt.Errorf("decode address of %s: %w", w.Code, err)
	}
	if err := json.Unmarshal([]byte(chans), &w.Channels); err != nil {
		return w, fmt.Errorf("decode channels of %s: %w", w.Code, err)
	}
	w.Active = active == 1
	w.CreateTime, w.UpdateTime = fromMicros(createUS), fromMicros(updateUS)
	return w, nil
}

func (s *Store) listWarehouses(ctx context.Context, q sqldb.Querier) ([]inventory.Warehouse, error) {
	out, err := sqldb.QueryAll(ctx, q, `SELECT `+warehouseCols+` FROM warehouses ORDER BY priority, code`, nil, scanWarehouse)
	if err != nil {
		return nil, fmt.Errorf("list warehouses: %w", err)
	}
	return out, nil
}

// ListWarehouses implements inventory.Store.
func (s *Store) ListWarehouses(ctx context.Context) ([]inventory.Warehouse, error) {
	return s.listWarehouses(ctx, s.db.SQL())
}

// GetWarehouse implements inventory.Store.
func (s *Store) GetWarehouse(ctx context.Context, code string) (inventory.Warehouse, error) {
	w, err := scanWarehouse(s.db.SQL().QueryRowContext(ctx,
		s.q(`SELECT `+warehouseCols+` FROM warehouses WHERE code = ?`), code))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("%s: %w", code, inventory.ErrWarehouseNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("get warehouse %s: %w", code, err)
	}
	return w, nil
}

// warehouseJSON encodes the address and channels columns of w.
func warehouseJSON(w inventory.Warehouse) (addr, channels string, err error) {
	a, err := json.Marshal(w.Address)
	if err != nil {
		return "", "", fmt.Errorf("encode address of %s: %w", w.Code, err)
	}
	return string(a), jsonList(w.Channels), nil
}

func (s *Store) insertWarehouse(ctx context.Context, tx *sql.Tx, w inventory.Warehouse, now time.Time) error {
	addr, chans, err := warehouseJSON(w)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO warehouses (`+warehouseCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		w.Code, w.DisplayName, w.Region, addr, w.Priority, chans, boolInt(w.Active), micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("insert warehouse %s: %w", w.Code, err)
	}
	return nil
}

// LoadInitial implements inventory.Store.
func (s *Store) LoadInitial(ctx context.Context, ws []inventory.Warehouse, snap inventory.Snapshot, now time.Time) (bool, error) {
	loaded := false
	load := func(tx *sql.Tx) error {
		loaded = false
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM warehouses`).Scan(&n); err != nil {
			return fmt.Errorf("count warehouses: %w", err)
		}
		if n > 0 {
			return nil
		}
		for _, w := range ws {
			if err := s.insertWarehouse(ctx, tx, w, now); err != nil {
				return err
			}
		}
		ref := "erp-snapshot/" + snap.ID
		for _, r := range snap.Rows {
			var inboundTotal int64
			for _, in := range r.Inbound {
				inboundTotal += in.Quantity
			}
			inbound := r.Inbound
			if inbound == nil {
				inbound = []inventory.InboundSupply{}
			}
			in, err := json.Marshal(inbound)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO stock_levels (sku, warehouse_code, on_hand, reserved, inbound,
				inbound_total, source_system, source_sequence, revision, update_us) VALUES (?, ?, ?, 0, ?, ?, 'erp', ?, 1, ?)`),
				r.SKU, r.WarehouseCode, r.OnHand, string(in), inboundTotal, r.SourceSequence, micros(now))
			if err != nil {
				return fmt.Errorf("insert stock level %s@%s: %w", r.SKU, r.WarehouseCode, err)
			}
			if r.SourceSequence > 0 {
				// ERP stock events continue after the snapshot's sequence.
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO stock_sources (source_system, sku, warehouse_code,
					last_sequence) VALUES ('erp', ?, ?, ?)`), r.SKU, r.WarehouseCode, r.SourceSequence); err != nil {
					return fmt.Errorf("record source sequence of %s@%s: %w", r.SKU, r.WarehouseCode, err)
				}
			}
			// Revision 1 and the level's first StockChangedEvent.
			if err := s.writeEvents(ctx, tx, events.StockChanged(inventory.StockChange{
				SKU: r.SKU, WarehouseCode: r.WarehouseCode,
				New:          inventory.Quantities{OnHand: r.OnHand, InboundTotal: inboundTotal},
				Cause:        inventory.CauseReconciliationCorrection,
				SourceSystem: "erp", SourceSequence: r.SourceSequence, Reference: ref, Time: now,
			})); err != nil {
				return err
			}
		}
		if snap.EventCursor != "" {
			if err := s.saveFeedCursor(ctx, tx, "erp", snap.EventCursor, now); err != nil {
				return err
			}
		}
		loaded = true
		return nil
	}
	err := s.writeWarehouses(func() error { return s.db.InTx(ctx, load) })
	if err != nil {
		return false, fmt.Errorf("initial load: %w", err)
	}
	return loaded, nil
}

// ---- stock levels ----

// stockCols are the stock level columns; `reserved` is the part of the
// reserved quantity backed by on-hand and `oversold` the rest (see
// migration 0003), so the domain's Reserved is their sum.
const stockCols = `sku, warehouse_code, on_hand, reserved, oversold, inbound, inbound_total, source_system, source_sequence, revision, update_us`

func scanStockLevel(sc sqldb.Scanner) (inventory.StockLevel, error) {
	var (
		l        inventory.StockLevel
		oversold int64
		inbound  string
		updateUS int64
	)
	if err := sc.Scan(&l.SKU, &l.WarehouseCode, &l.OnHand, &l.Reserved, &oversold, &inbound, &l.InboundTotal,
		&l.SourceSystem, &l.Sequence, &l.Revision, &updateUS); err != nil {
		return l, err
	}
	l.Reserved += oversold
	if inbound == "[]" {
		// Most levels: no inbound schedule; spare the JSON decoder, which
		// every availability read and stock lock runs per level.
		l.Inbound = []inventory.InboundSupply{}
	} else if err := json.Unmarshal([]byte(inbound), &l.Inbound); err != nil {
		return l, fmt.Errorf("decode inbound of %s@%s: %w", l.SKU, l.WarehouseCode, err)
	}
	l.UpdateTime = fromMicros(updateUS)
	return l, nil
}

// GetStockLevel implements inventory.Store.
func (s *Store) GetStockLevel(ctx context.Context, sku, warehouse string) (inventory.StockLevel, error) {
	l, err := scanStockLevel(s.db.SQL().QueryRowContext(ctx,
		s.q(`SELECT `+stockCols+` FROM stock_levels WHERE sku = ? AND warehouse_code = ?`), sku, warehouse))
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%s@%s: %w", sku, warehouse, inventory.ErrStockLevelNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("get stock level %s@%s: %w", sku, warehouse, err)
	}
	return l, nil
}

// ListStockLevels implements inventory.Store.
func (s *Store) ListStockLevels(ctx context.Context, q inventory.StockLevelQuery) ([]inventory.StockLevel, error) {
	var w where
	w.addIf(q.WarehouseCode != "", "warehouse_code = ?", q.WarehouseCode)
	w.addIf(q.SKU != "", "sku = ?", q.SKU)
	w.addIf(q.AvailableOnly, "on_hand > reserved")
	w.addIf(q.OversoldOnly, "oversold > 0")
	w.pairAfter(q.AfterSKU, q.AfterWarehouse)
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT `+stockCols+` FROM stock_levels`+w.sql()+
		` ORDER BY sku, warehouse_code LIMIT ?`), append(w.args, max(q.Limit, 1)), scanStockLevel)
	if err != nil {
		return nil, fmt.Errorf("list stock levels: %w", err)
	}
	return out, nil
}

// StockLevelsForSKUs implements inventory.Store.
func (s *Store) StockLevelsForSKUs(ctx context.Context, skus []string) ([]inventory.StockLevel, error) {
	return s.levelsOf(ctx, s.db.SQL(), skus, "")
}

// levelsOf reads every stock level of skus in SKU, then warehouse order,
// the row-lock clause lock appended.
func (s *Store) levelsOf(ctx context.Context, q sqldb.Querier, skus []string, lock string) ([]inventory.StockLevel, error) {
	if len(skus) == 0 {
		return nil, nil
	}
	out, err := sqldb.QueryAll(ctx, q, s.q(`SELECT `+stockCols+` FROM stock_levels WHERE sku IN (`+
		placeholders(len(skus))+`) ORDER BY sku, warehouse_code`+lock), anys(skus), scanStockLevel)
	if err != nil {
		return nil, fmt.Errorf("stock levels of %d SKUs: %w", len(skus), err)
	}
	return out, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

type levelKey struct{ sku, wh string }

// lockedLevels are the stock rows a transaction locked, kept current as
// movements are applied.
type lockedLevels map[levelKey]*inventory.StockLevel

// lockLevels reads and locks every stock level of skus, in SKU then
// warehouse order on every engine and in every transaction, so two
// writers always take row locks in the same order.
func (s *Store) lockLevels(ctx context.Context, tx *sql.Tx, skus []string) (lockedLevels, error) {
	levels, err := s.levelsOf(ctx, tx, skus, s.forUpdate())
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	locked := lockedLevels{}
	for i := range levels {
		l := levels[i]
		locked[levelKey{l.SKU, l.WarehouseCode}] = &l
	}
	return locked, nil
}

// of returns the locked levels of skus.
func (l lockedLevels) of(skus []string) []inventory.StockLevel {
	want := map[string]bool{}
	for _, s := range skus {
		want[s] = true
	}
	var out []inventory.StockLevel
	for k, v := range l {
		if want[k.sku] {
			out = append(out, *v)
		}
	}
	return out
}

// errInvariant marks a movement that would break on_hand >= 0,
// reserved >= 0 or, for a reservation, reserved <= on_hand. The domain
// never asks for one; if it did, the transaction is rolled back instead of
// overselling.
var errInvariant = errors.New("stock invariant violated")

// changeMeta describes the source of a stock change for its event and, when
// SourceSystem is set, the level's last applied source sequence.
type changeMeta struct {
	SourceSystem string
	Sequence     int64
	Kind         inventory.StockEventKind
	Reference    string
}

// applyMovements applies ms (sorted by SKU, then warehouse) to locked
// levels, bumping each level's revision, and returns the StockChangedEvent
// of each revision, in order, for the caller to write in one outbox batch
// with the change's other events before any later change of these levels
// (the batch gives an aggregate's events consecutive sequences in order,
// so each event's sequence stays its level's revision). One batch instead
// of one per level saves the outbox's per-call work on every reservation,
// commit and release.
//
// A reservation is applied as a relative increment of `reserved` on a row
// without oversold quantity, so even a lost lock could not overwrite
// another writer's change, and the CHECK constraints refuse an oversell.
// Every other movement only lowers the reserved total or moves on-hand and
// is written through saveLevel.
func (s *Store) applyMovements(ctx context.Context, tx *sql.Tx, locked lockedLevels, ms []inventory.Movement, ref string, now time.Time, meta changeMeta) ([]outbox.Event, error) {
	if meta.Reference == "" {
		meta.Reference = ref
	}
	evs := make([]outbox.Event, 0, len(ms)+2)
	for _, m := range ms {
		l := locked[levelKey{m.SKU, m.WarehouseCode}]
		if l == nil {
			return nil, fmt.Errorf("%w: no locked stock level %s@%s", errInvariant, m.SKU, m.WarehouseCode)
		}
		prev := l.Quantities
		next := prev
		next.OnHand += m.OnHand
		next.Reserved += m.Reserved
		if next.OnHand < 0 || next.Reserved < 0 {
			return nil, fmt.Errorf("%w: %s@%s on_hand %d reserved %d", errInvariant, m.SKU, m.WarehouseCode, next.OnHand, next.Reserved)
		}
		if m.Cause == inventory.CauseReservation {
			if m.OnHand != 0 || m.Reserved < 0 || next.Reserved > next.OnHand {
				return nil, fmt.Errorf("%w: reservation of %d %s@%s beyond available", errInvariant, m.Reserved, m.SKU, m.WarehouseCode)
			}
			var onHand, reserved, revision int64
			err := tx.QueryRowContext(ctx, s.q(`UPDATE stock_levels
				SET reserved = reserved + ?, revision = revision + 1, update_us = ?
				WHERE sku = ? AND warehouse_code = ? AND oversold = 0
				RETURNING on_hand, reserved, revision`),
				m.Reserved, micros(now), m.SKU, m.WarehouseCode).Scan(&onHand, &reserved, &revision)
			if err != nil {
				return nil, fmt.Errorf("reserve stock level %s@%s: %w", m.SKU, m.WarehouseCode, err)
			}
			if onHand != next.OnHand || reserved != next.Reserved {
				return nil, fmt.Errorf("%w: %s@%s changed under its lock", errInvariant, m.SKU, m.WarehouseCode)
			}
			l.Quantities, l.Revision, l.UpdateTime = next, revision, now
		} else if err := s.saveLevel(ctx, tx, l, next, nil, meta, now); err != nil {
			return nil, err
		}
		evs = append(evs, stockChanged(*l, prev, m.Cause, meta))
	}
	return evs, nil
}

// saveLevel writes next (and inbound, when not nil, and the source
// sequence, when meta names a source system) to the locked level l,
// splitting the reserved total into the part backed by on-hand and the
// oversold rest, and bumps its revision.
func (s *Store) saveLevel(ctx context.Context, tx *sql.Tx, l *inventory.StockLevel, next inventory.Quantities,
	inbound []inventory.InboundSupply, meta changeMeta, now time.Time,
) error {
	backed := min(next.Reserved, next.OnHand)
	oversold := next.Reserved - backed
	if inbound == nil {
		inbound = l.Inbound
	} else {
		next.InboundTotal = 0
		for _, in := range inbound {
			next.InboundTotal += in.Quantity
		}
	}
	if inbound == nil {
		inbound = []inventory.InboundSupply{}
	}
	in, err := json.Marshal(inbound)
	if err != nil {
		return err
	}
	source, seq := l.SourceSystem, l.Sequence
	if meta.SourceSystem != "" {
		source, seq = meta.SourceSystem, meta.Sequence
	}
	var revision int64
	err = tx.QueryRowContext(ctx, s.q(`UPDATE stock_levels
		SET on_hand = ?, reserved = ?, oversold = ?, inbound = ?, inbound_total = ?, source_system = ?,
			source_sequence = ?, revision = revision + 1, update_us = ?
		WHERE sku = ? AND warehouse_code = ?
		RETURNING revision`),
		next.OnHand, backed, oversold, string(in), next.InboundTotal, source, seq, micros(now),
		l.SKU, l.WarehouseCode).Scan(&revision)
	if err != nil {
		return fmt.Errorf("update stock level %s@%s: %w", l.SKU, l.WarehouseCode, err)
	}
	l.Quantities, l.Inbound, l.SourceSystem, l.Sequence = next, inbound, source, seq
	l.Revision, l.UpdateTime = revision, now
	return nil
}

// stockChanged is the StockChangedEvent of l's latest change, for a caller
// that writes it in one batch with other events of the change (and before
// any later change of l).
func stockChanged(l inventory.StockLevel, prev inventory.Quantities, cause inventory.StockChangeCause, meta changeMeta) outbox.Event {
	return events.StockChanged(inventory.StockChange{
		SKU: l.SKU, WarehouseCode: l.WarehouseCode, Previous: prev, New: l.Quantities, Cause: cause,
		SourceSystem: meta.SourceSystem, SourceSequence: meta.Sequence, StockEventKind: meta.Kind,
		Reference: meta.Reference, Time: l.UpdateTime,
	})
}

// writeEvents writes evs to the outbox in tx, which stamps their metadata
// (sequence, correlation id from ctx, producer).
func (s *Store) writeEvents(ctx context.Context, tx *sql.Tx, evs ...outbox.Event) error {
	_, err := outbox.WriteBatch(ctx, tx, s.db.Dialect(), evs)
	return err
}

// FeedCursor implements inventory.Store.
func (s *Store) FeedCursor(ctx context.Context, feed string) (string, bool, error) {
	var cursor string
	err := s.db.SQL().QueryRowContext(ctx, s.q(`SELECT cursor FROM feed_cursors WHERE feed = ?`), feed).Scan(&cursor)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s feed cursor: %w", feed, err)
	}
	return cursor, true, nil
}

// SaveFeedCursor implements inventory.Store.
func (s *Store) SaveFeedCursor(ctx context.Context, feed, cursor string, now time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return s.saveFeedCursor(ctx, tx, feed, cursor, now) })
}

func (s *Store) saveFeedCursor(ctx context.Context, tx *sql.Tx, feed, cursor string, now time.Time) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO feed_cursors (feed, cursor, update_us) VALUES (?, ?, ?)
		ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor, update_us = excluded.update_us`), feed, cursor, micros(now))
	if err != nil {
		return fmt.Errorf("save %s feed cursor: %w", feed, err)
	}
	return nil
}

// moveFeedCursor moves c.Feed's cursor from c.From to c.Next in one
// statement, compare-and-set (on PostgreSQL the UPDATE waits for a
// concurrent mover and re-checks the row it then sees), or fails with
// inventory.ErrFeedCursorMoved. From "" also matches a feed without a
// saved cursor.
func (s *Store) moveFeedCursor(ctx context.Context, tx *sql.Tx, c inventory.FeedCursorUpdate, now time.Time) error {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE feed_cursors SET cursor = ?, update_us = ? WHERE feed = ? AND cursor = ?`),
		c.Next, micros(now), c.Feed, c.From)
	if err != nil {
		return fmt.Errorf("move %s feed cursor: %w", c.Feed, err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 && c.From == "" {
		res, err = tx.ExecContext(ctx, s.q(`INSERT INTO feed_cursors (feed, cursor, update_us) VALUES (?, ?, ?)
			ON CONFLICT (feed) DO NOTHING`), c.Feed, c.Next, micros(now))
		if err != nil {
			return fmt.Errorf("save %s feed cursor: %w", c.Feed, err)
		}
		n, err = res.RowsAffected()
	}
	if err != nil {
		return fmt.Errorf("move %s feed cursor: %w", c.Feed, err)
	}
	if n != 1 {
		return fmt.Errorf("%s feed at %q: %w", c.Feed, c.From, inventory.ErrFeedCursorMoved)
	}
	return nil
}

// Stats implements inventory.Store.
func (s *Store) Stats(ctx context.Context, gapBefore time.Time) (inventory.Stats, error) {
	var st inventory.Stats
	db := s.db.SQL()
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(oversold), 0) FROM stock_levels`).Scan(&st.OversoldUnits); err != nil {
		return st, fmt.Errorf("stats: oversold: %w", err)
	}
	if err := db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN received_us < ? THEN 1 ELSE 0 END), 0)
		FROM stock_events WHERE applied = 0`), micros(gapBefore)).Scan(&st.BufferedEvents, &st.OverdueBufferedEvents); err != nil {
		return st, fmt.Errorf("stats: buffered events: %w", err)
	}
	if err := db.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0) FROM reservations WHERE state IN (?, ?)`),
		int(inventory.StateHeld), int(inventory.StateConfirmed), int(inventory.StateHeld), int(inventory.StateConfirmed)).
		Scan(&st.HeldReservations, &st.ConfirmedReservations); err != nil {
		return st, fmt.Errorf("stats: reservations: %w", err)
	}
	last, err := s.ListReconciliations(ctx, inventory.ReconciliationQuery{State: inventory.ReconSucceeded, Limit: 1})
	if err != nil {
		return st, err
	}
	if len(last) > 0 {
		st.LastReconciliation = last[0]
	}
	return st, nil
}
