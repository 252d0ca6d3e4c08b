package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

var accountsV1 = migrations(map[string]string{
	"0001_accounts.sql": `CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	balance_minor BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE postings (
	id INTEGER PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id)
);
CREATE TABLE counters (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO counters (id, n) VALUES (1, 0);`,
})

func migrateAccounts(t *testing.T, db *sqldb.DB) {
	t.Helper()
	if err := sqldb.Migrate(t.Context(), db, "accounts", accountsV1); err != nil {
		t.Fatal(err)
	}
}

func countAccounts(t *testing.T, db *sqldb.DB, id string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(t.Context(), db.Rebind(`SELECT count(*) FROM accounts WHERE id = ?`), id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func insertAccount(ctx context.Context, db *sqldb.DB, tx *sql.Tx, id, email string) error {
	_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO accounts (id, email) VALUES (?, ?)`), id, email)
	return err
}

var errBusiness = errors.New("business rule says no")

func TestInTx(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		migrateAccounts(t, db)
		ctx := t.Context()

		t.Run("commits", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, "a1", "a1@example.com") })
			if err != nil {
				t.Fatal(err)
			}
			if n := countAccounts(t, db, "a1"); n != 1 {
				t.Errorf("committed rows = %d, want 1", n)
			}
		})

		t.Run("rolls back on error and returns it unchanged", func(t *testing.T) {
			calls := 0
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				calls++
				if err := insertAccount(ctx, db, tx, "a2", "a2@example.com"); err != nil {
					return err
				}
				return errBusiness
			})
			// InTx promises fn's error unchanged, so identity is the
			// contract: errors.Is would also pass on a wrapped errBusiness.
			if err != errBusiness { //nolint:errorlint // identity is the documented contract (see above)
				t.Errorf("InTx = %v, want errBusiness itself", err)
			}
			if calls != 1 {
				t.Errorf("fn ran %d times for a non-retryable error, want 1", calls)
			}
			if n := countAccounts(t, db, "a2"); n != 0 {
				t.Errorf("rows after rollback = %d, want 0", n)
			}
		})

		t.Run("rolls back on panic and re-panics", func(t *testing.T) {
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				_ = db.InTx(ctx, func(tx *sql.Tx) error {
					if err := insertAccount(ctx, db, tx, "a3", "a3@example.com"); err != nil {
						return err
					}
					panic("boom")
				})
			}()
			if recovered != "boom" {
				t.Fatalf("recovered %v, want the original panic value", recovered)
			}
			if n := countAccounts(t, db, "a3"); n != 0 {
				t.Errorf("rows after panic = %d, want 0", n)
			}
			// The DB is still usable: the connection and (SQLite) the
			// writer lock were released.
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, "a3", "a3@example.com") }); err != nil {
				t.Fatalf("InTx after a panic: %v", err)
			}
		})

		t.Run("rolls back on Goexit", func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = db.InTx(ctx, func(tx *sql.Tx) error {
					if err := insertAccount(ctx, db, tx, "a4", "a4@example.com"); err != nil {
						return err
					}
					runtime.Goexit() // what t.FailNow does inside fn
					return nil
				})
			}()
			<-done
			if n := countAccounts(t, db, "a4"); n != 0 {
				t.Errorf("rows after Goexit = %d, want 0", n)
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, "a4", "a4@example.com") }); err != nil {
				t.Fatalf("InTx after Goexit: %v", err)
			}
		})

		t.Run("honours a cancelled context", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			calls := 0
			err := db.InTx(cctx, func(*sql.Tx) error { calls++; return nil })
			if !errors.Is(err, context.Canceled) || calls != 0 {
				t.Errorf("InTx(cancelled) = %v after %d calls, want context.Canceled and no call", err, calls)
			}
		})
	})
}

// retryableError makes the engine itself produce an error InTx must
// retry: SQLITE_BUSY from a second handle that cannot get the write lock
// tx holds, or a PostgreSQL serialization_failure raised by the server.
func retryableError(t *testing.T, ctx context.Context, db *sqldb.DB, other *sqldb.DB, tx *sql.Tx) error {
	t.Helper()
	var err error
	if db.Dialect() == sqldb.SQLite {
		_, err = other.SQL().ExecContext(ctx, `UPDATE counters SET n = n + 100 WHERE id = 1`)
	} else {
		_, err = tx.ExecContext(ctx, `DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$`)
	}
	if err == nil {
		t.Fatal("could not provoke a retryable error")
	}
	return err
}

func TestInTxRetries(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dsn := sqldbtest.SQLiteDSN(t)
		testInTxRetries(t, openDSN(t, dsn, sqldb.WithTxRetry(3, time.Millisecond)),
			openDSN(t, dsn, sqldb.WithBusyTimeout(0)))
	})
	t.Run("postgres", func(t *testing.T) {
		testInTxRetries(t, sqldbtest.OpenPostgres(t, sqldb.WithTxRetry(3, time.Millisecond)), nil)
	})
}

func openDSN(t testing.TB, dsn string, opts ...sqldb.Option) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func testInTxRetries(t *testing.T, db, other *sqldb.DB) {
	migrateAccounts(t, db)
	ctx := t.Context()

	t.Run("retries until it succeeds", func(t *testing.T) {
		calls := 0
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			calls++
			if err := insertAccount(ctx, db, tx, "r1", "r1@example.com"); err != nil {
				return err
			}
			if calls == 1 {
				err := retryableError(t, ctx, db, other, tx)
				if !sqldb.IsRetryable(err) {
					t.Errorf("provoked error %v is not retryable", err)
				}
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatalf("InTx = %v, want success on the second attempt", err)
		}
		if calls != 2 {
			t.Errorf("fn ran %d times, want 2", calls)
		}
		if n := countAccounts(t, db, "r1"); n != 1 {
			t.Errorf("rows = %d, want exactly 1 (first attempt rolled back)", n)
		}
	})

	t.Run("gives up after the configured attempts", func(t *testing.T) {
		calls := 0
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			calls++
			return retryableError(t, ctx, db, other, tx)
		})
		if !sqldb.IsRetryable(err) {
			t.Errorf("InTx = %v, want the last retryable error", err)
		}
		if calls != 3 {
			t.Errorf("fn ran %d times, want 3 (WithTxRetry(3, ...))", calls)
		}
	})
}

func TestErrorClassification(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		migrateAccounts(t, db)
		ctx := t.Context()
		exec := func(q string, args ...any) error {
			_, err := db.SQL().ExecContext(ctx, db.Rebind(q), args...)
			return err
		}
		if err := exec(`INSERT INTO accounts (id, email) VALUES (?, ?)`, "u1", "u1@example.com"); err != nil {
			t.Fatal(err)
		}

		dupPK := exec(`INSERT INTO accounts (id, email) VALUES (?, ?)`, "u1", "other@example.com")
		dupUnique := exec(`INSERT INTO accounts (id, email) VALUES (?, ?)`, "u2", "u1@example.com")
		fk := exec(`INSERT INTO postings (id, account_id) VALUES (?, ?)`, 1, "nobody")
		notNull := exec(`INSERT INTO accounts (id, email) VALUES (?, NULL)`, "u3")
		syntax := exec(`INSERT INTO nowhere VALUES (1)`)

		tests := []struct {
			name                 string
			err                  error
			unique, foreign, bsy bool
		}{
			{"duplicate primary key", dupPK, true, false, false},
			{"duplicate unique column", dupUnique, true, false, false},
			{"wrapped duplicate", wrap(dupUnique), true, false, false},
			{"foreign key", fk, false, true, false},
			{"not null", notNull, false, false, false},
			{"unknown table", syntax, false, false, false},
			{"nil", nil, false, false, false},
			{"plain", errBusiness, false, false, false},
		}
		for _, tt := range tests {
			if tt.err == nil && tt.name != "nil" {
				t.Fatalf("%s: statement succeeded, want an error", tt.name)
			}
			if got := sqldb.IsUniqueViolation(tt.err); got != tt.unique {
				t.Errorf("%s: IsUniqueViolation(%v) = %v", tt.name, tt.err, got)
			}
			if got := sqldb.IsForeignKeyViolation(tt.err); got != tt.foreign {
				t.Errorf("%s: IsForeignKeyViolation(%v) = %v", tt.name, tt.err, got)
			}
			if got := sqldb.IsBusy(tt.err); got != tt.bsy {
				t.Errorf("%s: IsBusy(%v) = %v", tt.name, tt.err, got)
			}
			if got := sqldb.IsRetryable(tt.err); got {
				t.Errorf("%s: IsRetryable(%v) = true", tt.name, tt.err)
			}
		}
	})
}

func wrap(err error) error { return errors.Join(errors.New("create account"), err) }

// incrementCounter reads the counter and writes it back plus one: a
// read-modify-write that loses updates unless the transaction serialises
// writers (BEGIN IMMEDIATE on SQLite, FOR UPDATE on PostgreSQL).
func incrementCounter(ctx context.Context, db *sqldb.DB) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT n FROM counters WHERE id = 1`
		if db.Dialect() == sqldb.Postgres {
			q += ` FOR UPDATE`
		}
		var n int64
		if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`UPDATE counters SET n = ? WHERE id = 1`), n+1)
		return err
	})
}

func readCounter(t *testing.T, db *sqldb.DB) int64 {
	t.Helper()
	var n int64
	if err := db.SQL().QueryRowContext(t.Context(), `SELECT n FROM counters WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentWriters(t *testing.T) {
	const workers, perWorker = 16, 50
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		migrateAccounts(t, db)
		ctx := t.Context()
		var wg sync.WaitGroup
		var failures atomic.Int64
		var firstErr error
		var once sync.Once
		for range workers {
			wg.Go(func() {
				for range perWorker {
					if err := incrementCounter(ctx, db); err != nil {
						failures.Add(1)
						once.Do(func() { firstErr = err })
					}
				}
			})
		}
		wg.Wait()
		if f := failures.Load(); f != 0 {
			t.Fatalf("%d increments failed, first: %v", f, firstErr)
		}
		if got := readCounter(t, db); got != workers*perWorker {
			t.Errorf("counter = %d, want %d", got, workers*perWorker)
		}
	})
}

// TestConcurrentWritersSeparateHandles opens the same SQLite file several
// times, as separate processes would, so writers contend in SQLite itself
// (busy_timeout, BEGIN IMMEDIATE, InTx retry) instead of on the in-process
// writer lock.
func TestConcurrentWritersSeparateHandles(t *testing.T) {
	const handles, workersPerHandle, perWorker = 4, 4, 50
	dsn := sqldbtest.SQLiteDSN(t)
	var dbs []*sqldb.DB
	for range handles {
		dbs = append(dbs, openDSN(t, dsn))
	}
	migrateAccounts(t, dbs[0])
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, handles*workersPerHandle*perWorker)
	for _, db := range dbs {
		for range workersPerHandle {
			wg.Go(func() {
				for range perWorker {
					if err := incrementCounter(ctx, db); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment failed: %v (busy: %v)", err, sqldb.IsBusy(err))
	}
	if got, want := readCounter(t, dbs[0]), int64(handles*workersPerHandle*perWorker); got != want {
		t.Errorf("counter = %d, want %d", got, want)
	}
}

func TestInReadTx(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		migrateAccounts(t, db)
		ctx := t.Context()

		// A reader is not blocked by an open write transaction and sees
		// the last committed state, not the writer's uncommitted row.
		inWrite := make(chan struct{})
		release := make(chan struct{})
		writeDone := make(chan error, 1)
		go func() {
			writeDone <- db.InTx(ctx, func(tx *sql.Tx) error {
				if err := insertAccount(ctx, db, tx, "w1", "w1@example.com"); err != nil {
					return err
				}
				close(inWrite)
				<-release
				return nil
			})
		}()
		<-inWrite
		var seen int
		err := db.InReadTx(ctx, func(tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&seen)
		})
		close(release)
		if err != nil {
			t.Fatalf("InReadTx during a write: %v", err)
		}
		if seen != 0 {
			t.Errorf("reader saw %d accounts during an uncommitted write, want 0", seen)
		}
		if err := <-writeDone; err != nil {
			t.Fatal(err)
		}

		if db.Dialect() == sqldb.Postgres {
			err := db.InReadTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, "w2", "w2@example.com") })
			if err == nil {
				t.Error("write inside InReadTx succeeded on PostgreSQL, want a read-only error")
			}
		}
	})
}

func BenchmarkInTxIncrement(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var db *sqldb.DB
			if engine == "sqlite" {
				db = sqldbtest.OpenSQLite(b)
			} else {
				db = sqldbtest.OpenPostgres(b)
			}
			if err := sqldb.Migrate(b.Context(), db, "accounts", accountsV1); err != nil {
				b.Fatal(err)
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := incrementCounter(b.Context(), db); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestInTxRetriesRealDeadlock makes two PostgreSQL transactions lock two
// rows in opposite order. The server aborts one with deadlock_detected;
// InTx must retry it so both transactions end up committed.
func TestInTxRetriesRealDeadlock(t *testing.T) {
	db := sqldbtest.OpenPostgres(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO counters (id, n) VALUES (2, 0)`); err != nil {
		t.Fatal(err)
	}

	// Both transactions hold their first lock before either asks for its
	// second; only first attempts wait at the barrier.
	var barrier sync.WaitGroup
	barrier.Add(2)
	var attempts atomic.Int32
	transfer := func(first, second int) error {
		firstAttempt := true
		return db.InTx(ctx, func(tx *sql.Tx) error {
			attempts.Add(1)
			if _, err := tx.ExecContext(ctx, `UPDATE counters SET n = n + 1 WHERE id = $1`, first); err != nil {
				return err
			}
			if firstAttempt {
				firstAttempt = false
				barrier.Done()
				barrier.Wait()
			}
			_, err := tx.ExecContext(ctx, `UPDATE counters SET n = n + 1 WHERE id = $1`, second)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- transfer(1, 2) }()
	go func() { errs <- transfer(2, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("transaction failed despite retries: %v", err)
		}
	}
	if got := attempts.Load(); got != 3 {
		t.Errorf("fn ran %d times, want 3 (one deadlock victim retried once)", got)
	}
	var n1, n2 int
	if err := db.SQL().QueryRowContext(ctx, `SELECT (SELECT n FROM counters WHERE id = 1), (SELECT n FROM counters WHERE id = 2)`).Scan(&n1, &n2); err != nil {
		t.Fatal(err)
	}
	if n1 != 2 || n2 != 2 {
		t.Errorf("counters = %d, %d; want 2, 2", n1, n2)
	}
}
