package sqldb_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

// TestGroupCommitLoneMember covers the first member of a batch, which
// runs without a savepoint: its failure rolls back the whole transaction
// (and nothing else), its success costs one statement beyond its own (the
// BEGIN probe) instead of a SAVEPOINT and a RELEASE, and a transaction it
// lost while reporting success is still detected.
func TestGroupCommitLoneMember(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()

	t.Run("failure leaves no trace", func(t *testing.T) {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := insertAccount(ctx, db, tx, "lone-fail", "lone-fail@example.com"); err != nil {
				return err
			}
			return errBusiness
		})
		if !errors.Is(err, errBusiness) {
			t.Fatalf("err = %v, want errBusiness", err)
		}
		if n := countAccounts(t, db, "lone-fail"); n != 0 {
			t.Fatalf("rows of a failed lone member = %d, want 0", n)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return insertAccount(ctx, db, tx, "lone-next", "lone-next@example.com")
		}); err != nil {
			t.Fatalf("next InTx: %v", err)
		}
		if n := countAccounts(t, db, "lone-next"); n != 1 {
			t.Fatalf("rows of the next member = %d, want 1", n)
		}
	})

	t.Run("one statement of overhead", func(t *testing.T) {
		p0, r0 := db.StatementStats()
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return insertAccount(ctx, db, tx, "lone-cost", "lone-cost@example.com")
		}); err != nil {
			t.Fatal(err)
		}
		p1, r1 := db.StatementStats()
		// The INSERT and the probe; a savepoint would add SAVEPOINT and
		// RELEASE instead of the probe.
		if got := p1 + r1 - p0 - r0; got != 2 {
			t.Fatalf("a lone one-statement member ran %d statements, want 2", got)
		}
	})

	t.Run("lost transaction is detected", func(t *testing.T) {
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return insertAccount(ctx, db, tx, "lone-taken", "lone-taken@example.com")
		}); err != nil {
			t.Fatal(err)
		}
		runs := 0
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			runs++
			// Rolls the whole transaction back; the error is swallowed,
			// and the next statement runs outside any transaction.
			_, _ = tx.ExecContext(ctx, `INSERT OR ROLLBACK INTO accounts (id, email) VALUES ('lone-taken', 'x@example.com')`)
			return insertAccount(ctx, db, tx, "lone-after", "lone-after@example.com")
		})
		if err == nil || !strings.Contains(err.Error(), "rolled back while fn ran") {
			t.Fatalf("err = %v, want the lost transaction reported", err)
		}
		if runs != 1 {
			t.Fatalf("fn ran %d times, want 1 (running it again could apply its statements twice)", runs)
		}
		if n := countAccounts(t, db, "lone-after"); n > 1 {
			t.Fatalf("rows of lone-after = %d, want at most 1", n)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return insertAccount(ctx, db, tx, "lone-later", "lone-later@example.com")
		}); err != nil {
			t.Fatalf("InTx after the lost transaction: %v", err)
		}
	})
}
