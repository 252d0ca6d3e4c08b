package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/inventory/internal/events"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

const reservationCols = `id, request_id, request_hash, reference_id, channel, state, strategy, allow_split,
	backorder_policy, destination_region, lines, expire_us, create_us, update_us, version`

// storedReservation is a reservation row with its request fingerprint.
type storedReservation struct {
	inventory.Reservation
	hash string
}

func scanReservation(sc sqldb.Scanner) (storedReservation, error) {
	var (
		r                            storedReservation
		split                        int
		lines                        string
		expireUS, createUS, updateUS int64
	)
	err := sc.Scan(&r.ID, &r.RequestID, &r.hash, &r.ReferenceID, &r.Channel, &r.State, &r.Strategy, &split,
		&r.BackorderPolicy, &r.DestinationRegion, &lines, &expireUS, &createUS, &updateUS, &r.Version)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(lines), &r.Lines); err != nil {
		return r, fmt.Errorf("decode lines of reservation %s: %w", r.ID, err)
	}
	r.AllowSplit = split == 1
	r.ExpireTime, r.CreateTime, r.UpdateTime = fromMicros(expireUS), fromMicros(createUS), fromMicros(updateUS)
	return r, nil
}

func (s *Store) reservationWhere(ctx context.Context, q querier, where string, lock bool, args ...any) (storedReservation, error) {
	query := `SELECT ` + reservationCols + ` FROM reservations WHERE ` + where
	if lock {
		query += s.forUpdate()
	}
	r, err := scanReservation(q.QueryRowContext(ctx, s.q(query), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, inventory.ErrReservationNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read reservation: %w", err)
	}
	return r, nil
}

// GetReservation implements inventory.Store.
func (s *Store) GetReservation(ctx context.Context, id string) (inventory.Reservation, error) {
	r, err := s.reservationWhere(ctx, s.db.SQL(), `id = ?`, false, id)
	if err != nil {
		return inventory.Reservation{}, fmt.Errorf("reservation %s: %w", id, err)
	}
	return r.Reservation, nil
}

// DueHolds implements inventory.Store.
func (s *Store) DueHolds(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT id FROM reservations WHERE state = ? AND expire_us <= ?
		ORDER BY expire_us, id LIMIT ?`), []any{int(inventory.StateHeld), micros(now), limit}, sqldb.ScanValue[string])
	if err != nil {
		return nil, fmt.Errorf("due holds: %w", err)
	}
	return ids, nil
}

func (s *Store) insertReservation(ctx context.Context, tx *sql.Tx, r inventory.Reservation, hash string) error {
	lines, err := json.Marshal(r.Lines)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO reservations (`+reservationCols+`, backordered)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.RequestID, hash, r.ReferenceID, r.Channel, int(r.State), int(r.Strategy), boolInt(r.AllowSplit),
		int(r.BackorderPolicy), r.DestinationRegion, string(lines), micros(r.ExpireTime), micros(r.CreateTime),
		micros(r.UpdateTime), r.Version, backordered(r))
	if err != nil {
		return fmt.Errorf("insert reservation %s: %w", r.ID, err)
	}
	return nil
}

func (s *Store) saveReservation(ctx context.Context, tx *sql.Tx, r inventory.Reservation) error {
	lines, err := json.Marshal(r.Lines)
	if err != nil {
		return err
	}
	expire := r.ExpireTime
	if r.State != inventory.StateHeld && r.State != inventory.StateExpired {
		expire = time.Time{}
	}
	_, err = tx.ExecContext(ctx, s.q(`UPDATE reservations SET reference_id = ?, state = ?, lines = ?, expire_us = ?,
		update_us = ?, version = ?, backordered = ? WHERE id = ?`),
		r.ReferenceID, int(r.State), string(lines), micros(expire), micros(r.UpdateTime), r.Version, backordered(r), r.ID)
	if err != nil {
		if sqldb.IsUniqueViolation(err) {
			return &inventory.ReservationExistsForReferenceError{ReferenceID: r.ReferenceID}
		}
		return fmt.Errorf("update reservation %s: %w", r.ID, err)
	}
	return nil
}

func skusOf(r inventory.Reservation) []string {
	out := make([]string, 0, len(r.Lines))
	for _, l := range r.Lines {
		out = append(out, l.SKU)
	}
	return out
}

func movementSKUs(ms []inventory.Movement) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.SKU)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// maxUniqueRetries bounds how often a transaction that lost a race on a
// unique key (same request id submitted concurrently) is run again; the
// next run sees the winner's row.
const maxUniqueRetries = 3

// Reserve implements inventory.Store.
func (s *Store) Reserve(ctx context.Context, p inventory.ReserveParams, now time.Time, build inventory.BuildFunc) (inventory.Reservation, bool, error) {
	hash := p.Fingerprint()
	for attempt := 1; ; attempt++ {
		var (
			res     inventory.Reservation
			created bool
		)
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			created = false
			existing, open, err := s.reservationsFor(ctx, tx, p.RequestID, p.ReferenceID)
			if err != nil {
				return err
			}
			if existing != nil {
				// Stored before, or by a concurrent call with this request
				// id that committed first (a concurrent insert this call
				// cannot see yet makes its own insert fail on a unique key
				// and the retry below finds it here).
				if existing.hash != hash {
					return inventory.ErrIdempotencyKeyReused
				}
				res = existing.Reservation
				return nil
			}

			skus := p.SKUs()
			var expiring *inventory.Reservation
			if open != nil {
				if !inventory.HoldDue(&open.Reservation, now) {
					return &inventory.ReservationExistsForReferenceError{ReferenceID: p.ReferenceID, Reservation: open.Name()}
				}
				expiring = &open.Reservation
				skus = union(skus, skusOf(open.Reservation))
			}

			locked, err := s.lockLevels(ctx, tx, skus)
			if err != nil {
				return err
			}
			if expiring != nil {
				before := cloneReservation(*expiring)
				out := inventory.Expire(expiring)
				c := reservationChange{before: before, after: *expiring, out: out, verb: "expire", actor: inventory.ServiceActor}
				if err := s.finishUpdate(ctx, tx, locked, c, now, changeMeta{}); err != nil {
					return err
				}
			}
			ws, err := s.txWarehouseList(ctx, tx)
			if err != nil {
				return err
			}
			r, moves, err := build(ws, locked.of(p.SKUs()))
			if err != nil {
				return err
			}
			if err := s.insertReservation(ctx, tx, r, hash); err != nil {
				return err
			}
			evs, err := s.applyMovements(ctx, tx, locked, moves, r.Name(), now, changeMeta{})
			if err != nil {
				return err
			}
			audit, err := events.ReservationAudit("create", p.Actor, nil, r)
			if err != nil {
				return err
			}
			if err := s.writeEvents(ctx, tx, append(evs, events.ReservationCreated(r), audit)...); err != nil {
				return err
			}
			res, created = r, true
			return nil
		})
		if err != nil && sqldb.IsUniqueViolation(err) && attempt < maxUniqueRetries {
			continue
		}
		if err != nil && sqldb.IsUniqueViolation(err) {
			return inventory.Reservation{}, false, &inventory.ReservationExistsForReferenceError{ReferenceID: p.ReferenceID}
		}
		if err != nil {
			return inventory.Reservation{}, false, err
		}
		return res, created, nil
	}
}

// reservationsFor reads, in one statement, the reservation stored under
// requestID and the open (HELD/CONFIRMED) reservation of referenceID,
// locking them on PostgreSQL; either is nil when there is none (they may
// be the same row, then only existing is set). The two lookups were two
// statements; one is a statement less per reservation (SQLite uses both
// indexes: request_id's unique one and the partial open-reference one).
func (s *Store) reservationsFor(ctx context.Context, tx *sql.Tx, requestID, referenceID string) (existing, open *storedReservation, err error) {
	rows, err := sqldb.QueryAll(ctx, tx, s.q(`SELECT `+reservationCols+` FROM reservations
		WHERE request_id = ? OR (reference_id = ? AND state IN (1, 2))`+s.forUpdate()),
		[]any{requestID, referenceID}, scanReservation)
	if err != nil {
		return nil, nil, fmt.Errorf("read reservations of request %s / reference %s: %w", requestID, referenceID, err)
	}
	for i := range rows {
		if rows[i].RequestID == requestID {
			existing = &rows[i]
		} else {
			open = &rows[i]
		}
	}
	return existing, open, nil
}

// reservationChange is a change of a locked reservation: the reservation
// before and after it (after's version and update time not bumped yet),
// what the change did, and who did it (audited as "reservation.<verb>").
type reservationChange struct {
	before, after inventory.Reservation
	out           inventory.Outcome
	verb          string
	actor         inventory.Actor
}

// finishUpdate saves a changed reservation (version and update time
// bumped), applies the outcome's movements to the locked levels and writes
// their StockChangedEvents, the reservation event and the change's audit
// record in one outbox batch.
func (s *Store) finishUpdate(ctx context.Context, tx *sql.Tx, locked lockedLevels, c reservationChange, now time.Time, meta changeMeta) error {
	r := c.after
	r.UpdateTime = now
	r.Version++
	if err := s.saveReservation(ctx, tx, r); err != nil {
		return err
	}
	evs, err := s.applyMovements(ctx, tx, locked, c.out.Movements, r.Name(), now, meta)
	if err != nil {
		return err
	}
	audit, err := events.ReservationAudit(c.verb, c.actor, &c.before, r)
	if err != nil {
		return err
	}
	if ev, ok := events.ReservationUpdated(r, c.out); ok {
		evs = append(evs, ev)
	}
	return s.writeEvents(ctx, tx, append(evs, audit)...)
}

// priorRequest is the stored record of an update's request id.
type priorRequest struct{ hash, reservationID string }

// extraScanner scans a row's leading columns into the destinations its
// caller passes and its trailing columns into extra.
type extraScanner struct {
	sc    sqldb.Scanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.sc.Scan(append(dest, e.extra...)...) }

// lockReservation reads and locks reservation id for op and returns what
// op's request id (when set) was recorded as, nil when it is new, and
// whether op's shipment (when set) was already committed against it.
//
// On SQLite this is one statement: the transaction holds the database's
// write lock, so the request and shipment lookups can ride along as
// subqueries (two statements less per update). On PostgreSQL they stay
// statements of their own after the row lock: a subquery would read the
// snapshot taken before waiting for the lock and miss what a concurrent
// duplicate committed meanwhile.
func (s *Store) lockReservation(ctx context.Context, tx *sql.Tx, id string, op inventory.Operation) (storedReservation, *priorRequest, bool, error) {
	if s.db.Dialect() == sqldb.SQLite {
		var (
			hash, rid sql.NullString
			shipped   bool
		)
		r, err := scanReservation(extraScanner{sc: tx.QueryRowContext(ctx, `SELECT `+reservationCols+`,
			(SELECT request_hash FROM reservation_requests WHERE operation = ? AND request_id = ?),
			(SELECT reservation_id FROM reservation_requests WHERE operation = ? AND request_id = ?),
			EXISTS (SELECT 1 FROM reservation_shipments WHERE reservation_id = ? AND shipment_id = ?)
			FROM reservations WHERE id = ?`, op.Kind, op.RequestID, op.Kind, op.RequestID, id, op.ShipmentID, id),
			extra: []any{&hash, &rid, &shipped}})
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return r, nil, false, inventory.ErrReservationNotFound
		case err != nil:
			return r, nil, false, fmt.Errorf("read reservation: %w", err)
		case op.RequestID != "" && hash.Valid:
			return r, &priorRequest{hash: hash.String, reservationID: rid.String}, false, nil
		}
		return r, nil, op.ShipmentID != "" && shipped, nil
	}
	r, err := s.reservationWhere(ctx, tx, `id = ?`, true, id)
	if err != nil {
		return r, nil, false, err
	}
	if op.RequestID != "" {
		var p priorRequest
		err := tx.QueryRowContext(ctx, s.q(`SELECT request_hash, reservation_id FROM reservation_requests
			WHERE operation = ? AND request_id = ?`), op.Kind, op.RequestID).Scan(&p.hash, &p.reservationID)
		switch {
		case err == nil:
			return r, &p, false, nil
		case !errors.Is(err, sql.ErrNoRows):
			return r, nil, false, fmt.Errorf("read request %s: %w", op.RequestID, err)
		}
	}
	shipped := false
	if op.ShipmentID != "" {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM reservation_shipments
			WHERE reservation_id = ? AND shipment_id = ?`), id, op.ShipmentID).Scan(&n); err != nil {
			return r, nil, false, fmt.Errorf("read shipment %s: %w", op.ShipmentID, err)
		}
		shipped = n > 0
	}
	return r, nil, shipped, nil
}

// UpdateReservation implements inventory.Store.
func (s *Store) UpdateReservation(ctx context.Context, id string, op inventory.Operation, now time.Time, fn inventory.UpdateFunc) (inventory.Reservation, error) {
	for attempt := 1; ; attempt++ {
		var res inventory.Reservation
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			cur, prior, done, err := s.lockReservation(ctx, tx, id, op)
			if err != nil {
				return err
			}
			res = cur.Reservation
			if prior != nil {
				if prior.hash != op.Fingerprint || prior.reservationID != id {
					return inventory.ErrIdempotencyKeyReused
				}
				return nil
			}
			if !done {
				work := cloneReservation(cur.Reservation)
				out, err := fn(&work)
				if err != nil {
					return err
				}
				if out.Changed {
					locked, err := s.lockLevels(ctx, tx, movementSKUs(out.Movements))
					if err != nil {
						return err
					}
					c := reservationChange{before: cur.Reservation, after: work, out: out, verb: op.Kind, actor: op.Actor}
					if err := s.finishUpdate(ctx, tx, locked, c, now, changeMeta{}); err != nil {
						return err
					}
					if out.Event == inventory.EventReleased || out.Event == inventory.EventExpired {
						if err := s.allocateBackorders(ctx, tx, locked, movementSKUs(out.Movements), id, op.Actor, now, nil); err != nil {
							return err
						}
					}
					work.UpdateTime = now
					work.Version++
					res = work
					if op.ShipmentID != "" {
						if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO reservation_shipments (reservation_id, shipment_id,
							warehouse_code) VALUES (?, ?, ?)`), id, op.ShipmentID, out.WarehouseCode); err != nil {
							return fmt.Errorf("record shipment %s: %w", op.ShipmentID, err)
						}
					}
				}
			}
			if op.RequestID != "" {
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO reservation_requests (operation, request_id, request_hash,
					reservation_id) VALUES (?, ?, ?, ?)`), op.Kind, op.RequestID, op.Fingerprint, id); err != nil {
					return fmt.Errorf("record request %s: %w", op.RequestID, err)
				}
			}
			return nil
		})
		if err != nil && sqldb.IsUniqueViolation(err) && attempt < maxUniqueRetries {
			// Lost a race on a request id; the next run sees the winner.
			continue
		}
		if err != nil {
			if errors.Is(err, inventory.ErrReservationNotFound) {
				return inventory.Reservation{}, fmt.Errorf("reservation %s: %w", id, err)
			}
			return inventory.Reservation{}, err
		}
		return res, nil
	}
}

func cloneReservation(r inventory.Reservation) inventory.Reservation {
	out := r
	out.Lines = make([]inventory.ReservationLine, len(r.Lines))
	for i, l := range r.Lines {
		l.Allocations = slices.Clone(l.Allocations)
		out.Lines[i] = l
	}
	return out
}

// likeEscaper escapes LIKE wildcards; queries use ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListReservations implements inventory.Store.
func (s *Store) ListReservations(ctx context.Context, q inventory.ReservationQuery) ([]inventory.Reservation, error) {
	var w where
	w.addIf(q.ReferenceID != "", "reference_id = ?", q.ReferenceID)
	w.addIf(q.State != 0, "state = ?", int(q.State))
	w.addIf(q.Channel != "", "channel = ?", q.Channel)
	w.addIf(q.SKU != "", `lines LIKE ? ESCAPE '\'`, lineSKUPattern(q.SKU))
	w.newestBefore(q.BeforeCreate, q.BeforeID)
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT `+reservationCols+` FROM reservations`+w.sql()+
		` ORDER BY create_us DESC, id DESC LIMIT ?`), append(w.args, max(q.Limit, 1)), scanReservationOnly)
	if err != nil {
		return nil, fmt.Errorf("list reservations: %w", err)
	}
	return out, nil
}

// lineSKUPattern is the LIKE pattern (ESCAPE '\') of reservations with a
// line for sku. Lines are stored as JSON written by encoding/json, so a
// line's SKU appears exactly as "sku":"<sku>" (SKUs need no escaping).
func lineSKUPattern(sku string) string {
	return `%"sku":"` + likeEscaper.Replace(sku) + `"%`
}

func scanReservationOnly(sc sqldb.Scanner) (inventory.Reservation, error) {
	r, err := scanReservation(sc)
	return r.Reservation, err
}

// backordered is the total backordered quantity of r.
func backordered(r inventory.Reservation) int64 {
	var n int64
	for _, l := range r.Lines {
		n += l.Backordered
	}
	return n
}
