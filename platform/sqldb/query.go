package sqldb

import (
	"context"
	"database/sql"
	"errors"
)

// Querier runs a query that returns rows. *sql.DB (for example
// [DB.SQL]), *sql.Tx (inside [DB.InTx] and [DB.InReadTx]) and *sql.Conn
// satisfy it, so one read helper serves a store's pool and transaction
// paths alike.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Scanner is what *sql.Row and *sql.Rows share. A store's row scanner
// written against it (func(sqldb.Scanner) (T, error), or the identical
// func(interface{ Scan(...any) error }) (T, error)) reads one row for
// QueryRowContext and every row for [Collect] and [QueryAll].
type Scanner = interface {
	Scan(dest ...any) error
}

// Each calls fn for every row of rows, then closes rows. It stops at the
// first error of fn, which it returns unchanged, so a scanner's domain
// errors keep their identity; otherwise it returns the iteration error
// (rows.Err) or the error of closing rows. rows is closed on every path,
// including a panic in fn.
//
// Each fits rows that fill something other than a slice (a map, the
// lines of an aggregate); [Collect] is the slice case.
func Each(rows *sql.Rows, fn func(Scanner) error) (err error) {
	if rows == nil {
		return errNilRows
	}
	defer func() {
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Collect scans every row of rows with scan and returns the values in row
// order, closing rows (see [Each] for errors). No rows yield a nil slice,
// as a hand-written append loop does.
func Collect[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	err := Each(rows, func(sc Scanner) error {
		v, err := scan(sc)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueryAll runs query with args on q and collects every row with scan
// (see [Collect]). The query is passed to the engine as given: write it
// with "?" placeholders and pass it through [DB.Rebind] (or
// [Dialect.Rebind]) first, as every other query of a store. The error of
// the query itself is returned unchanged too, for the caller to say what
// it was reading.
func QueryAll[T any](ctx context.Context, q Querier, query string, args []any, scan func(Scanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return Collect(rows, scan)
}

// ScanValue scans a single-column row into a T; with [QueryAll] it reads
// a list of ids or counts without a scanner of its own:
//
//	ids, err := sqldb.QueryAll(ctx, db.SQL(), db.Rebind(`SELECT id FROM t WHERE due <= ?`), []any{now}, sqldb.ScanValue[string])
func ScanValue[T any](sc Scanner) (T, error) {
	var v T
	if err := sc.Scan(&v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// errNilRows is Each's answer to a nil *sql.Rows (a caller that ignored
// the query's error), instead of a nil-pointer panic.
var errNilRows = errors.New("sqldb: nil rows")
