package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// allocateBackorders gives stock that became available in the locked
// levels of skus to open reservations with backordered quantity of those
// SKUs, oldest reservation first (BackorderAllocatedEvent). The stock rows
// are already locked; reservation rows are taken with SKIP LOCKED on
// PostgreSQL, because this runs after stock locks (the reverse of the usual
// order): a reservation busy in another transaction is skipped rather than
// waited for, so no deadlock can arise, and it gets stock at the next
// increase.
//
// exclude names a reservation that must not take the stock (the one whose
// release freed it, so a release is not undone within the same call). Each
// allocation is audited ("reservation.allocate_backorder") as by actor, who
// made the change that freed the stock. before, when not nil, runs once
// before the first allocation writes anything (a caller holding unwritten
// events of these levels writes them there, keeping revision order).
func (s *Store) allocateBackorders(ctx context.Context, tx *sql.Tx, locked lockedLevels, skus []string, exclude string,
	actor inventory.Actor, now time.Time, before func(context.Context) error,
) error {
	var withStock []string
	for _, sku := range skus {
		for k, l := range locked {
			if k.sku == sku && l.Available() > 0 {
				withStock = append(withStock, sku)
				break
			}
		}
	}
	if len(withStock) == 0 {
		return nil
	}
	slices.Sort(withStock)
	withStock = slices.Compact(withStock)
	// Most changes find no backorder to serve: one probe over all the SKUs
	// (the partial index of backordered open reservations) spares the
	// warehouse read and a candidate query per SKU then. It reads like the
	// candidate queries below, after the stock locks, so it sees every
	// backorder of these SKUs that a committed transaction recorded.
	var w where
	w.add("backordered > 0 AND state IN (1, 2)")
	has := make([]string, len(withStock))
	for i, sku := range withStock {
		has[i] = s.linesHaveSKU()
		w.args = append(w.args, lineSKUNeedle(sku))
	}
	w.add("(" + strings.Join(has, " OR ") + ")")
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (SELECT 1 FROM reservations`+w.sql()+` LIMIT 1) b`),
		w.args...).Scan(&n); err != nil {
		return fmt.Errorf("probe backorders: %w", err)
	}
	if n == 0 {
		return nil
	}
	ws, err := s.txWarehouseList(ctx, tx)
	if err != nil {
		return err
	}
	lock := ""
	if s.db.Dialect() == sqldb.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	for _, sku := range withStock {
		// Candidates: open reservations with a backorder (partial index)
		// and a line for the SKU. The backorder may be on another line;
		// AllocateBackorder checks the SKU's line itself.
		cands, err := sqldb.QueryAll(ctx, tx, s.q(`SELECT `+reservationCols+` FROM reservations
			WHERE backordered > 0 AND state IN (1, 2) AND `+s.linesHaveSKU()+`
			ORDER BY create_us, id`+lock), []any{lineSKUNeedle(sku)}, scanReservation)
		if err != nil {
			return fmt.Errorf("backordered reservations of %s: %w", sku, err)
		}
		for _, c := range cands {
			if c.ID == exclude {
				continue
			}
			avail := map[string]int64{}
			for k, l := range locked {
				if k.sku == sku {
					avail[k.wh] = l.Available()
				}
			}
			r := cloneReservation(c.Reservation)
			out, ok := inventory.AllocateBackorder(&r, sku, ws, avail)
			if !ok {
				continue
			}
			change := reservationChange{before: c.Reservation, after: r, out: out, verb: "allocate_backorder", actor: actor}
			if before != nil {
				if err := before(ctx); err != nil {
					return err
				}
				before = nil
			}
			if err := s.finishUpdate(ctx, tx, locked, change, now, changeMeta{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// linesHaveSKU is the condition "the reservation has a line for the SKU
// bound to its one parameter (lineSKUNeedle)": a plain substring search.
// Not LIKE with a bound pattern: SQLite re-compiles such a statement on
// every run (the LIKE optimisation depends on the pattern), which cost
// about 100 µs per release in BenchmarkReserveRelease.
func (s *Store) linesHaveSKU() string {
	if s.db.Dialect() == sqldb.Postgres {
		return "strpos(lines, ?) > 0"
	}
	return "instr(lines, ?) > 0"
}

// lineSKUNeedle is the text of a line for sku in the lines column, which
// encoding/json writes as "sku":"<sku>" (SKUs need no escaping).
func lineSKUNeedle(sku string) string { return `"sku":"` + sku + `"` }
