package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

func stmtDelta(db *sqldb.DB, p0, r0 uint64) (uint64, uint64) {
	p, r := db.StatementStats()
	return p - p0, r - r0
}

func TestStatementCachePreparesOncePerConnection(t *testing.T) {
	// One connection, so "once per connection" is exactly once.
	db := sqldbtest.OpenSQLite(t, sqldb.WithMaxOpenConns(1))
	migrateAccounts(t, db)
	ctx := t.Context()
	const update = `UPDATE counters SET n = n + 1 WHERE id = 1`
	p0, r0 := db.StatementStats()
	for i := range 100 {
		var err error
		if i%2 == 0 {
			_, err = db.SQL().ExecContext(ctx, update)
		} else {
			err = db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, update)
				return err
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := readCounter(t, db); got != 100 {
		t.Errorf("counter = %d, want 100", got)
	}
	prepared, reused := stmtDelta(db, p0, r0)
	// The update, the member savepoint and its release, and the SELECT of
	// readCounter: each compiled once.
	if prepared > 4 {
		t.Errorf("%d statements prepared for 100 runs of one update, want one per distinct query text", prepared)
	}
	if reused < 99 {
		t.Errorf("%d cached reuses, want at least 99", reused)
	}
}

func TestStatementCacheOff(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithStatementCache(0))
	migrateAccounts(t, db)
	for range 10 {
		if err := incrementCounter(t.Context(), db); err != nil {
			t.Fatal(err)
		}
	}
	if got := readCounter(t, db); got != 10 {
		t.Errorf("counter = %d, want 10", got)
	}
	if p, r := db.StatementStats(); p != 0 || r != 0 {
		t.Errorf("StatementStats = (%d, %d) with the cache off, want (0, 0)", p, r)
	}
}

// TestStatementCacheNestedSameQuery iterates a query and, for every row,
// runs the same query text again on the same connection: the cached
// statement is busy with the outer rows, so the inner call must get a
// statement of its own.
func TestStatementCacheNestedSameQuery(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithMaxOpenConns(1))
	migrateAccounts(t, db)
	ctx := t.Context()
	const q = `SELECT id FROM accounts WHERE id >= ? ORDER BY id`
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for i := range 5 {
			if err := insertAccount(ctx, db, tx, "n"+strconv.Itoa(i), "n"+strconv.Itoa(i)+"@example.com"); err != nil {
				return err
			}
		}
		var pairs []string
		rows, err := tx.QueryContext(ctx, q, "n0")
		if err != nil {
			return err
		}
		err = sqldb.Each(rows, func(sc sqldb.Scanner) error {
			var outer string
			if err := sc.Scan(&outer); err != nil {
				return err
			}
			inner, err := sqldb.QueryAll(ctx, tx, q, []any{outer}, sqldb.ScanValue[string])
			if err != nil {
				return err
			}
			var first string
			if err := tx.QueryRowContext(ctx, q, outer).Scan(&first); err != nil {
				return err
			}
			pairs = append(pairs, fmt.Sprintf("%s:%d:%s", outer, len(inner), first))
			return nil
		})
		if err != nil {
			return err
		}
		want := []string{"n0:5:n0", "n1:4:n1", "n2:3:n2", "n3:2:n3", "n4:1:n4"}
		if fmt.Sprint(pairs) != fmt.Sprint(want) {
			t.Errorf("nested iteration = %v, want %v", pairs, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// And the cached statement is usable afterwards.
	got, err := sqldb.QueryAll(ctx, db.SQL(), q, []any{"n3"}, sqldb.ScanValue[string])
	if err != nil || len(got) != 2 {
		t.Errorf("after nesting: %v, %v", got, err)
	}
}

func TestStatementCacheEviction(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithMaxOpenConns(1), sqldb.WithStatementCache(2))
	migrateAccounts(t, db)
	ctx := t.Context()
	queries := []string{`SELECT 1`, `SELECT 2`, `SELECT 3`}
	p0, r0 := db.StatementStats()
	for round := range 3 {
		for i, q := range queries {
			var n int
			if err := db.SQL().QueryRowContext(ctx, q).Scan(&n); err != nil || n != i+1 {
				t.Fatalf("round %d %s = %d, %v", round, q, n, err)
			}
		}
	}
	// Cycling 3 queries through 2 slots evicts each before its reuse.
	if prepared, reused := stmtDelta(db, p0, r0); prepared != 9 || reused != 0 {
		t.Errorf("3 queries x 3 rounds with 2 slots: (%d prepared, %d reused), want (9, 0)", prepared, reused)
	}

}

func TestStatementCacheEvictsBusyStatement(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithMaxOpenConns(1), sqldb.WithStatementCache(1))
	migrateAccounts(t, db)
	ctx := t.Context()
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM counters`)
		if err != nil {
			return err
		}
		// Evicts the busy SELECT from the single slot.
		if _, err := tx.ExecContext(ctx, `UPDATE counters SET n = 7`); err != nil {
			return err
		}
		ids, err := sqldb.Collect(rows, sqldb.ScanValue[int])
		if err != nil || len(ids) != 1 {
			return fmt.Errorf("rows of an evicted statement: %v, %w", ids, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readCounter(t, db); got != 7 {
		t.Errorf("counter = %d, want 7", got)
	}
}

func TestStatementCacheSurvivesCancelAndSchemaChange(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithMaxOpenConns(1))
	migrateAccounts(t, db)
	ctx := t.Context()
	const slow = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) FROM c`
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	var n int
	err := db.SQL().QueryRowContext(cctx, slow, 1_000_000_000).Scan(&n)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("interrupted query = %v, want context.DeadlineExceeded", err)
	}
	if err := db.SQL().QueryRowContext(ctx, slow, 10).Scan(&n); err != nil || n != 10 {
		t.Fatalf("the cached statement after an interrupt: %d, %v", n, err)
	}

	const all = `SELECT * FROM counters`
	cols := func() int {
		rows, err := db.SQL().QueryContext(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	before := cols()
	if _, err := db.SQL().ExecContext(ctx, `ALTER TABLE counters ADD COLUMN note TEXT`); err != nil {
		t.Fatal(err)
	}
	if after := cols(); after != before+1 {
		t.Errorf("cached SELECT * after ALTER TABLE has %d columns, want %d", after, before+1)
	}
}

// BenchmarkStatementCache runs the order-shaped transaction from one
// goroutine with the statement cache off and on, on a file (fsync
// included) and in memory (only the CPU of the statements), so the
// difference is the cost of compiling each statement on every call.
func BenchmarkStatementCache(b *testing.B) {
	for _, where := range []string{"file", "memory"} {
		for _, mode := range []struct {
			name string
			size int
		}{{"off", 0}, {"on", 256}} {
			b.Run(where+"/"+mode.name, func(b *testing.B) {
				opts := []sqldb.Option{sqldb.WithStatementCache(mode.size), sqldb.WithLogger(slog.New(slog.DiscardHandler))}
				var db *sqldb.DB
				if where == "file" {
					db = sqldbtest.OpenSQLite(b, opts...)
				} else {
					db = openDSN(b, "sqlite://:memory:", opts...)
				}
				if err := sqldb.Migrate(b.Context(), db, "accounts", accountsV1); err != nil {
					b.Fatal(err)
				}
				ctx := b.Context()
				var seq atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					id := "o" + strconv.FormatInt(seq.Add(1), 10)
					if err := orderShapedTx(ctx, db, id); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
