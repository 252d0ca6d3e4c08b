package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"

	// The SQLite driver is registered by platform/sqldb's import of it;
	// the check reads through plain database/sql so it can open the stores
	// read-only (sqldb.Open always opens read-write).
	_ "github.com/transload/transload/platform/sqldb"
)

// Kinds of oversell violation found by checkOversoldStores.
const (
	// A SKU×warehouse whose open allocations exceed its on-hand stock by
	// more than the stock recorded as lost under reservations.
	violationOverAllocated = "over-allocated"
	// A SKU×warehouse whose stock level counts a different reserved
	// quantity than its reservations hold open (the counter the next
	// reservation is checked against is wrong).
	violationCounterDrift = "counter drift"
	// An allocation committed or released beyond its quantity.
	violationBadAllocation = "bad allocation"
	// An accepted order line allocated more than once: a second live
	// reservation for the order, a reservation shared by two orders, or
	// inventory allocating more than the order records.
	violationDoubleAllocated = "double allocation"
	// An accepted order line without (all of) its allocation.
	violationUnallocated = "unallocated line"
)

// Reservation and order states as the stores write them: inventory's
// reservations.state (inventory.ReservationState) and order's orders.state
// (order.State).
const (
	resHeld      = 1
	resConfirmed = 2
	resCommitted = 4

	orderRejected  = 3
	orderCancelled = 7
)

// Oversold is the result of checkOversoldStores: Count violations, each
// described in Details ("kind: what, where"), by kind in ByKind. Levels
// and Orders say how much was checked, so a check that read nothing is
// visible. LossShortfalls lists SKU×warehouses whose reservations exceed
// on-hand only by stock recorded as lost under them (damage, count
// corrections: inventory's stock_levels.oversold); physical loss is not an
// oversell by Transload, so they are reported but not counted.
type Oversold struct {
	Count          int
	Details        []string
	ByKind         map[string]int
	Levels         int
	Orders         int
	LossShortfalls []string
}

// String is a one-paragraph summary naming at most ten violations.
func (o Oversold) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d oversell violations (%d SKU×warehouse levels, %d accepted orders checked)", o.Count, o.Levels, o.Orders)
	if o.Count > 0 {
		kinds := slices.Sorted(maps.Keys(o.ByKind))
		parts := make([]string, 0, len(kinds))
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s %d", k, o.ByKind[k]))
		}
		fmt.Fprintf(&b, ": %s", strings.Join(parts, ", "))
		for i, d := range o.Details {
			if i == 10 {
				fmt.Fprintf(&b, "\n- … %d more", len(o.Details)-10)
				break
			}
			fmt.Fprintf(&b, "\n- %s", d)
		}
	}
	if len(o.LossShortfalls) > 0 {
		fmt.Fprintf(&b, "\n%d SKU×warehouse levels short only by stock recorded as lost under reservations (not counted)", len(o.LossShortfalls))
	}
	return b.String()
}

func (o *Oversold) add(kind, format string, args ...any) {
	if o.ByKind == nil {
		o.ByKind = map[string]int{}
	}
	o.Count++
	o.ByKind[kind]++
	o.Details = append(o.Details, kind+": "+fmt.Sprintf(format, args...))
}

// stockKey is one SKU in one warehouse.
type stockKey struct{ sku, wh string }

func (k stockKey) String() string { return k.sku + "@" + k.wh }

// stockRow is a row of inventory's stock_levels.
type stockRow struct {
	onHand, reserved, oversold int64
}

// storedReservation is the part of an inventory reservation the check
// needs; lines is the store's JSON (inventory.ReservationLine).
type storedReservation struct {
	id, reference string
	state         int
	lines         []struct {
		SKU         string `json:"sku"`
		Allocations []struct {
			WarehouseCode string `json:"wh"`
			Quantity      int64  `json:"q"`
			Committed     int64  `json:"c"`
			Released      int64  `json:"r"`
		} `json:"alloc"`
	}
}

// live reports whether the reservation holds or has shipped stock (HELD,
// CONFIRMED or COMMITTED), i.e. counts as an allocation of its reference.
func (r storedReservation) live() bool {
	return r.state == resHeld || r.state == resConfirmed || r.state == resCommitted
}

// kept is what the reservation allocates per SKU×warehouse and has not
// given back: quantity − released (open plus shipped).
func (r storedReservation) kept() map[stockKey]int64 {
	out := map[stockKey]int64{}
	for _, l := range r.lines {
		for _, a := range l.Allocations {
			out[stockKey{l.SKU, a.WarehouseCode}] += a.Quantity - a.Released
		}
	}
	return out
}

// acceptedOrder is an order that was accepted and not rejected or
// cancelled, with what the order store says it allocated.
type acceptedOrder struct {
	id, reservation string
	lines           []orderLine
	// allocated is the order store's allocation per SKU×warehouse.
	allocated map[stockKey]int64
}

type orderLine struct {
	id, sku   string
	quantity  int64
	allocated int64
}

// checkOversoldStores reads the inventory and order stores (SQLite; a DSN
// "sqlite://path" or a plain path) read-only and checks that nothing was
// oversold:
//
//   - for every SKU×warehouse, the open allocations of HELD and CONFIRMED
//     reservations do not exceed on-hand stock. Inventory's on_hand is
//     what was received minus what shipped (committed allocations) minus
//     losses, so this is "committed + open ≤ received" with losses
//     accounted: a shortfall covered by stock recorded as lost under
//     reservations (stock_levels.oversold) is listed in LossShortfalls,
//     not counted. The stock level's reserved + oversold must also equal
//     the open allocations (the counter later reservations are checked
//     against), and no allocation may be committed or released beyond its
//     quantity;
//   - every accepted order (not rejected or cancelled) is allocated exactly
//     once: it names a HELD, CONFIRMED or COMMITTED reservation with its
//     id as reference, no other live reservation references it, no other
//     order names the same reservation, every line is allocated in full in
//     the order store, and per SKU×warehouse inventory keeps exactly what
//     the order records.
//
// The order store is read first: an order is accepted only after its
// reservation committed, so the later inventory snapshot holds the
// reservation of every order seen. Orders flagged are read again at the
// end and dropped if they left the accepted states meanwhile (a cancel
// racing the check); still, run it once the load has stopped.
func checkOversoldStores(ctx context.Context, inventoryDSN, orderDSN string) (Oversold, error) {
	var res Oversold
	odb, err := openReadOnly(orderDSN)
	if err != nil {
		return res, fmt.Errorf("order store: %w", err)
	}
	defer odb.Close()
	orders, err := readAcceptedOrders(ctx, odb)
	if err != nil {
		return res, fmt.Errorf("order store: %w", err)
	}
	idb, err := openReadOnly(inventoryDSN)
	if err != nil {
		return res, fmt.Errorf("inventory store: %w", err)
	}
	defer idb.Close()
	levels, reservations, err := readInventory(ctx, idb)
	if err != nil {
		return res, fmt.Errorf("inventory store: %w", err)
	}
	res.Levels, res.Orders = len(levels), len(orders)

	checkLevels(&res, levels, reservations)

	flagged := checkOrders(orders, reservations)
	if len(flagged) > 0 {
		still, err := stillAccepted(ctx, odb, slices.Sorted(maps.Keys(flagged)))
		if err != nil {
			return res, fmt.Errorf("order store: %w", err)
		}
		for _, id := range slices.Sorted(maps.Keys(flagged)) {
			if !still[id] {
				continue
			}
			for _, v := range flagged[id] {
				res.add(v.kind, "%s", v.detail)
			}
		}
	}
	return res, nil
}

// checkLevels compares every SKU×warehouse's open allocations with its
// stock level.
func checkLevels(res *Oversold, levels map[stockKey]stockRow, reservations []storedReservation) {
	open := map[stockKey]int64{}
	for _, r := range reservations {
		for _, l := range r.lines {
			for _, a := range l.Allocations {
				k := stockKey{l.SKU, a.WarehouseCode}
				if a.Quantity < 0 || a.Committed < 0 || a.Released < 0 || a.Committed+a.Released > a.Quantity {
					res.add(violationBadAllocation, "reservation %s allocates %d of %s, committed %d, released %d",
						r.id, a.Quantity, k, a.Committed, a.Released)
				}
				if r.state == resHeld || r.state == resConfirmed {
					open[k] += a.Quantity - a.Committed - a.Released
				}
			}
		}
	}
	keys := slices.Collect(maps.Keys(levels))
	for k := range open {
		if _, ok := levels[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b stockKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		lv, o := levels[k], open[k]
		if o > lv.onHand {
			if short := o - lv.onHand; short <= lv.oversold {
				res.LossShortfalls = append(res.LossShortfalls, fmt.Sprintf("%s: reservations hold %d, on hand %d, %d recorded as lost under them", k, o, lv.onHand, lv.oversold))
			} else {
				res.add(violationOverAllocated, "%s: reservations hold %d open, on hand %d (short %d, of which %d recorded as lost)",
					k, o, lv.onHand, short, lv.oversold)
			}
		}
		if o != lv.reserved+lv.oversold {
			res.add(violationCounterDrift, "%s: reservations hold %d open, the stock level counts %d reserved + %d oversold",
				k, o, lv.reserved, lv.oversold)
		}
	}
}

// orderViolation is a violation of one order, kept until the order is
// confirmed still accepted.
type orderViolation struct{ kind, detail string }

// checkOrders checks that every accepted order is allocated exactly once
// and returns the violations per order id.
func checkOrders(orders []acceptedOrder, reservations []storedReservation) map[string][]orderViolation {
	byID := map[string]storedReservation{}
	liveByRef := map[string][]string{}
	for _, r := range reservations {
		byID[r.id] = r
		if r.live() {
			liveByRef[r.reference] = append(liveByRef[r.reference], r.id)
		}
	}
	claimedBy := map[string][]string{}
	for _, o := range orders {
		if o.reservation != "" {
			claimedBy[o.reservation] = append(claimedBy[o.reservation], o.id)
		}
	}
	out := map[string][]orderViolation{}
	flag := func(o acceptedOrder, kind, format string, args ...any) {
		out[o.id] = append(out[o.id], orderViolation{kind, fmt.Sprintf(format, args...)})
	}
	for _, o := range orders {
		for _, l := range o.lines {
			if l.allocated < l.quantity {
				flag(o, violationUnallocated, "order %s line %s (%s): %d of %d allocated in the order store", o.id, l.id, l.sku, l.allocated, l.quantity)
			}
			if l.allocated > l.quantity {
				flag(o, violationDoubleAllocated, "order %s line %s (%s): %d allocated in the order store for %d ordered", o.id, l.id, l.sku, l.allocated, l.quantity)
			}
		}
		for _, other := range liveByRef[o.id] {
			if other != o.reservation {
				flag(o, violationDoubleAllocated, "order %s (%s): reservation %s also allocates it, besides %s",
					o.id, linesOf(o), other, cmp.Or(o.reservation, "(none)"))
			}
		}
		if others := claimedBy[o.reservation]; len(others) > 1 {
			flag(o, violationDoubleAllocated, "order %s (%s): its reservation %s is also the allocation of %s",
				o.id, linesOf(o), o.reservation, strings.Join(slices.DeleteFunc(slices.Clone(others), func(s string) bool { return s == o.id }), ", "))
		}
		r, ok := byID[o.reservation]
		switch {
		case o.reservation == "":
			flag(o, violationUnallocated, "order %s (%s): no reservation", o.id, linesOf(o))
			continue
		case !ok:
			flag(o, violationUnallocated, "order %s (%s): reservation %s does not exist", o.id, linesOf(o), o.reservation)
			continue
		case !r.live():
			flag(o, violationUnallocated, "order %s (%s): reservation %s is in state %d, not held, confirmed or committed", o.id, linesOf(o), r.id, r.state)
			continue
		case r.reference != o.id:
			flag(o, violationDoubleAllocated, "order %s (%s): reservation %s belongs to %q", o.id, linesOf(o), r.id, r.reference)
		}
		kept := r.kept()
		keys := slices.Collect(maps.Keys(kept))
		for k := range o.allocated {
			if _, ok := kept[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b stockKey) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			inv, ord := kept[k], o.allocated[k]
			switch {
			case inv > ord:
				flag(o, violationDoubleAllocated, "order %s line %s: reservation %s keeps %d of %s, the order allocated %d",
					o.id, lineOf(o, k.sku), r.id, inv, k, ord)
			case inv < ord:
				flag(o, violationUnallocated, "order %s line %s: reservation %s keeps %d of %s, the order allocated %d",
					o.id, lineOf(o, k.sku), r.id, inv, k, ord)
			}
		}
	}
	return out
}

// linesOf names an order's lines, e.g. "lines 1 SKU-00001×2, 2 SKU-00002×1".
func linesOf(o acceptedOrder) string {
	parts := make([]string, 0, len(o.lines))
	for _, l := range o.lines {
		parts = append(parts, fmt.Sprintf("%s %s×%d", l.id, l.sku, l.quantity))
	}
	return "lines " + strings.Join(parts, ", ")
}

// lineOf names the order lines of sku, e.g. "1 (SKU-00001)".
func lineOf(o acceptedOrder, sku string) string {
	var ids []string
	for _, l := range o.lines {
		if l.sku == sku {
			ids = append(ids, l.id)
		}
	}
	if len(ids) == 0 {
		return "(none) (" + sku + ")"
	}
	return strings.Join(ids, ",") + " (" + sku + ")"
}

// openReadOnly opens a SQLite store read-only: writes fail and a missing
// file is an error instead of a new empty database. It works while the
// owning service runs (WAL).
func openReadOnly(dsn string) (*sql.DB, error) {
	path := dsn
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok {
		if scheme != "sqlite" && scheme != "sqlite3" {
			return nil, fmt.Errorf("%q: only SQLite stores can be checked", scheme+"://…")
		}
		path, _, _ = strings.Cut(rest, "?")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&_pragma=busy_timeout(10000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// readSnapshot runs fn in one read transaction, so every query sees one
// snapshot.
func readSnapshot(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	return fn(tx)
}

// eachRow runs query and calls fn for every row.
func eachRow(ctx context.Context, tx *sql.Tx, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// readAcceptedOrders reads every order not rejected or cancelled, with
// its lines and allocations.
func readAcceptedOrders(ctx context.Context, db *sql.DB) ([]acceptedOrder, error) {
	var orders []acceptedOrder
	err := readSnapshot(ctx, db, func(tx *sql.Tx) error {
		orders = nil
		idx := map[string]int{}
		err := eachRow(ctx, tx, `SELECT order_id, reservation_id FROM orders WHERE state NOT IN (?, ?) ORDER BY order_id`, func(rows *sql.Rows) error {
			var o acceptedOrder
			if err := rows.Scan(&o.id, &o.reservation); err != nil {
				return err
			}
			o.allocated = map[stockKey]int64{}
			idx[o.id] = len(orders)
			orders = append(orders, o)
			return nil
		}, orderRejected, orderCancelled)
		if err != nil {
			return fmt.Errorf("read orders: %w", err)
		}
		lineIdx := map[[2]string]int{}
		err = eachRow(ctx, tx, `SELECT order_id, line_id, sku, quantity FROM order_lines ORDER BY order_id, line_no`, func(rows *sql.Rows) error {
			var id string
			var l orderLine
			if err := rows.Scan(&id, &l.id, &l.sku, &l.quantity); err != nil {
				return err
			}
			if i, ok := idx[id]; ok {
				lineIdx[[2]string{id, l.id}] = len(orders[i].lines)
				orders[i].lines = append(orders[i].lines, l)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read order lines: %w", err)
		}
		err = eachRow(ctx, tx, `SELECT order_id, line_id, warehouse_id, allocated FROM order_allocations`, func(rows *sql.Rows) error {
			var id, line, wh string
			var n int64
			if err := rows.Scan(&id, &line, &wh, &n); err != nil {
				return err
			}
			i, ok := idx[id]
			if !ok {
				return nil
			}
			o := &orders[i]
			li, ok := lineIdx[[2]string{id, line}]
			if !ok {
				return fmt.Errorf("order %s: allocation of unknown line %s", id, line)
			}
			o.lines[li].allocated += n
			o.allocated[stockKey{o.lines[li].sku, wh}] += n
			return nil
		})
		if err != nil {
			return fmt.Errorf("read order allocations: %w", err)
		}
		return nil
	})
	return orders, err
}

// stillAccepted reports which of ids are still neither rejected nor
// cancelled.
func stillAccepted(ctx context.Context, db *sql.DB, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		var state int
		err := db.QueryRowContext(ctx, `SELECT state FROM orders WHERE order_id = ?`, id).Scan(&state)
		if err != nil {
			return nil, fmt.Errorf("reread order %s: %w", id, err)
		}
		out[id] = state != orderRejected && state != orderCancelled
	}
	return out, nil
}

// readInventory reads every stock level and every reservation in one
// snapshot.
func readInventory(ctx context.Context, db *sql.DB) (map[stockKey]stockRow, []storedReservation, error) {
	var (
		levels       map[stockKey]stockRow
		reservations []storedReservation
	)
	err := readSnapshot(ctx, db, func(tx *sql.Tx) error {
		levels, reservations = map[stockKey]stockRow{}, nil
		err := eachRow(ctx, tx, `SELECT sku, warehouse_code, on_hand, reserved, oversold FROM stock_levels`, func(rows *sql.Rows) error {
			var k stockKey
			var r stockRow
			if err := rows.Scan(&k.sku, &k.wh, &r.onHand, &r.reserved, &r.oversold); err != nil {
				return err
			}
			levels[k] = r
			return nil
		})
		if err != nil {
			return fmt.Errorf("read stock levels: %w", err)
		}
		err = eachRow(ctx, tx, `SELECT id, reference_id, state, lines FROM reservations ORDER BY id`, func(rows *sql.Rows) error {
			var r storedReservation
			var lines string
			if err := rows.Scan(&r.id, &r.reference, &r.state, &lines); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(lines), &r.lines); err != nil {
				return fmt.Errorf("reservation %s: decode lines: %w", r.id, err)
			}
			reservations = append(reservations, r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("read reservations: %w", err)
		}
		return nil
	})
	if err == nil && len(levels) == 0 {
		err = errors.New("no stock levels: not an inventory store, or not loaded yet")
	}
	return levels, reservations, err
}
