package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// recordKind says how one kind of record (T) is stored: in table, with
// id, number, create_time and record (the JSON of T) plus cols, the
// columns queries filter or sort on, which values reads from the record on
// every write. Numbers come from counter.
type recordKind[T any] struct {
	table, counter string
	// notFound is the domain error for an unknown id.
	notFound error
	cols     []string
	values   func(*T) []any
	head     func(*T) recordHead
}

// recordHead points at the fields every record has.
type recordHead struct {
	ID          *string
	Number      *int64
	Submissions *int64
	CreateTime  time.Time
}

// eventKind says how the feed events (E) of a record kind are stored: in
// table at a position from counter, with the record's id in the parent
// column, cols read from the event by values, and record (the JSON of E).
type eventKind[E any] struct {
	table, counter, parent string
	cols                   []string
	values                 func(E) []any
	position               func(*E) *int64
}

// createRecord is the one create-or-replay path. In one transaction it
// loads the record with id, locked: one that exists counts the submission
// and is returned with created = false; otherwise build makes the record
// with the next number, which is inserted with Submissions 1. A lost race
// on the id (another process inserting it) is wms.ErrDuplicateKey.
func createRecord[T any](ctx context.Context, s *Store, k recordKind[T], id string, build func(number int64) (T, error)) (T, bool, error) {
	var (
		out     T
		created bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		created = false
		r, found, err := loadRecord(ctx, s, tx, k, id, true)
		if err != nil {
			return err
		}
		if found {
			*k.head(&r).Submissions++
			out = r
			return writeRecord(ctx, s, tx, k, &r)
		}
		number, err := s.next(ctx, tx, k.counter)
		if err != nil {
			return err
		}
		if r, err = build(number); err != nil {
			return err
		}
		h := k.head(&r)
		*h.ID, *h.Number, *h.Submissions = id, number, 1
		rec, err := encode(r)
		if err != nil {
			return err
		}
		cols := append([]string{"id", "number", "create_time"}, k.cols...)
		args := append(append([]any{id, number, h.CreateTime.UTC()}, k.values(&r)...), rec)
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO `+k.table+` (`+strings.Join(cols, ", ")+`, record) VALUES (`+placeholders(len(args))+`)`), args...)
		if sqldb.IsUniqueViolation(err) {
			return wms.ErrDuplicateKey
		}
		if err != nil {
			return fmt.Errorf("insert %s %s: %w", k.table, id, err)
		}
		out, created = r, true
		return nil
	})
	if err != nil {
		var zero T
		return zero, false, err
	}
	return out, created, nil
}

// getRecord reads the record with id; k.notFound when there is none.
func getRecord[T any](ctx context.Context, s *Store, k recordKind[T], id string) (T, error) {
	r, found, err := loadRecord(ctx, s, s.db.SQL(), k, id, false)
	if err == nil && !found {
		err = k.notFound
	}
	return r, err
}

// updateRecord is the one read-modify-write path for records that emit
// feed events: in a single transaction it locks and decodes the record,
// lets fn change it, writes it back and appends the events fn returned,
// so a record's state and its feed never disagree. An error from fn
// aborts without changes and is returned as is; k.notFound when id is
// unknown.
func updateRecord[T, E any](ctx context.Context, s *Store, k recordKind[T], ek eventKind[E], id string, fn func(*T) ([]E, error)) (T, error) {
	var out T
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		r, _, err := updateRecordTx(ctx, s, tx, k, ek, id, fn)
		out = r
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// updateRecordTx is updateRecord's work inside tx; it also returns the
// events it appended.
func updateRecordTx[T, E any](ctx context.Context, s *Store, tx *sql.Tx, k recordKind[T], ek eventKind[E], id string, fn func(*T) ([]E, error)) (T, []E, error) {
	var zero T
	r, found, err := loadRecord(ctx, s, tx, k, id, true)
	if err != nil {
		return zero, nil, err
	}
	if !found {
		return zero, nil, k.notFound
	}
	evs, err := fn(&r)
	if err != nil {
		return zero, nil, err
	}
	*k.head(&r).ID = id
	if err := writeRecord(ctx, s, tx, k, &r); err != nil {
		return zero, nil, err
	}
	for _, ev := range evs {
		if err := appendEvent(ctx, s, tx, ek, id, ev); err != nil {
			return zero, nil, err
		}
	}
	return r, evs, nil
}

// loadRecord reads the record with id, locked for update on PostgreSQL
// when lock is set; found is false when there is none.
func loadRecord[T any](ctx context.Context, s *Store, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, k recordKind[T], id string, lock bool) (r T, found bool, err error) {
	query := `SELECT record FROM ` + k.table + ` WHERE id = ?`
	if lock {
		query += s.forUpdate
	}
	r, err = scanRecord[T](q.QueryRowContext(ctx, s.db.Rebind(query), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("load %s %s: %w", k.table, id, err)
	}
	return r, true, nil
}

// writeRecord stores r over its row.
func writeRecord[T any](ctx context.Context, s *Store, tx *sql.Tx, k recordKind[T], r *T) error {
	rec, err := encode(*r)
	if err != nil {
		return err
	}
	id := *k.head(r).ID
	args := append(append(k.values(r), rec), id)
	_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE `+k.table+` SET `+strings.Join(k.cols, " = ?, ")+` = ?, record = ? WHERE id = ?`), args...)
	if err != nil {
		return fmt.Errorf("update %s %s: %w", k.table, id, err)
	}
	return nil
}

// appendEvent adds ev of the record parentID at the feed's next position.
func appendEvent[E any](ctx context.Context, s *Store, tx *sql.Tx, k eventKind[E], parentID string, ev E) error {
	pos, err := s.next(ctx, tx, k.counter)
	if err != nil {
		return err
	}
	rec, err := encode(ev)
	if err != nil {
		return err
	}
	cols := append([]string{"position", k.parent}, k.cols...)
	args := append(append([]any{pos, parentID}, k.values(ev)...), rec)
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO `+k.table+` (`+strings.Join(cols, ", ")+`, record) VALUES (`+placeholders(len(args))+`)`), args...)
	if err != nil {
		return fmt.Errorf("insert %s of %s: %w", k.table, parentID, err)
	}
	return nil
}

// readEvents returns up to limit events of k's feed after position after.
func readEvents[E any](ctx context.Context, s *Store, k eventKind[E], after int64, limit int) ([]E, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.db.Rebind(`SELECT record, position FROM `+k.table+` WHERE position > ? ORDER BY position LIMIT ?`),
		[]any{after, limit}, func(sc sqldb.Scanner) (E, error) {
			var (
				raw string
				pos int64
			)
			if err := sc.Scan(&raw, &pos); err != nil {
				var zero E
				return zero, err
			}
			ev, err := decode[E](raw)
			*k.position(&ev) = pos
			return ev, err
		})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", k.table, err)
	}
	return out, nil
}

// scanRecord reads a row holding one record column.
func scanRecord[T any](sc sqldb.Scanner) (T, error) {
	var raw string
	if err := sc.Scan(&raw); err != nil {
		var zero T
		return zero, err
	}
	return decode[T](raw)
}

func decode[T any](raw string) (T, error) {
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("decode record: %w", err)
	}
	return v, nil
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode record: %w", err)
	}
	return string(b), nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
