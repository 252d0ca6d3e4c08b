package sqldb

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// PostgreSQL SQLSTATE codes this package classifies.
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgLockNotAvailable     = "55P03"
)

// sqliteCode returns the extended SQLite result code in err's chain and
// whether there was one.
func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

// pgCode returns the SQLSTATE in err's chain, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// IsUniqueViolation reports whether err (or an error it wraps) is a unique
// or primary-key constraint violation on either engine. Stores use it to
// turn a duplicate insert, such as a replayed idempotency key, into a
// domain error.
func IsUniqueViolation(err error) bool {
	if code, ok := sqliteCode(err); ok {
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return pgCode(err) == pgUniqueViolation
}

// IsForeignKeyViolation reports whether err (or an error it wraps) is a
// foreign-key constraint violation on either engine.
func IsForeignKeyViolation(err error) bool {
	if code, ok := sqliteCode(err); ok {
		return code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return pgCode(err) == pgForeignKeyViolation
}

// IsBusy reports whether err (or an error it wraps) means the database was
// locked by another connection: SQLite SQLITE_BUSY or SQLITE_LOCKED (any
// extended code), PostgreSQL lock_not_available (55P03, NOWAIT or
// lock_timeout).
func IsBusy(err error) bool {
	if code, ok := sqliteCode(err); ok {
		primary := code & 0xff
		return primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED
	}
	return pgCode(err) == pgLockNotAvailable
}

// IsRetryable reports whether a transaction that failed with err may
// succeed when run again from the start: SQLite busy/locked, PostgreSQL
// serialization_failure (40001), deadlock_detected (40P01) or
// lock_not_available (55P03). [DB.InTx] retries exactly these.
func IsRetryable(err error) bool {
	if IsBusy(err) {
		return true
	}
	switch pgCode(err) {
	case pgSerializationFailure, pgDeadlockDetected:
		return true
	}
	return false
}
