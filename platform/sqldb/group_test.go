package sqldb_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

func TestCommitStatsSingleTransaction(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithGroupCommit(1))
	migrateAccounts(t, db)
	ctx := t.Context()
	c0, t0 := db.CommitStats()
	for i := range 3 {
		id := string(rune('a' + i))
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, id, id+"@example.com") }); err != nil {
			t.Fatal(err)
		}
	}
	_ = db.InTx(ctx, func(*sql.Tx) error { return errBusiness })
	_ = db.InReadTx(ctx, func(*sql.Tx) error { return nil })
	c1, t1 := db.CommitStats()
	if c1-c0 != 3 || t1-t0 != 3 {
		t.Errorf("CommitStats moved by (%d commits, %d txs), want (3, 3)", c1-c0, t1-t0)
	}
}

// waitForWaiters blocks until n InTx calls queue behind the turn holder.
func waitForWaiters(t *testing.T, db *sqldb.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for sqldb.GroupWaiters(db) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d InTx calls waiting after 10s, want %d", sqldb.GroupWaiters(db), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// holdTurn starts an InTx that inserts id and then blocks until release
// is closed, so the calls started meanwhile queue into its batch.
func holdTurn(t *testing.T, db *sqldb.DB, id string, release <-chan struct{}) <-chan error {
	t.Helper()
	ctx := t.Context()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		first := true
		done <- db.InTx(ctx, func(tx *sql.Tx) error {
			if err := insertAccount(ctx, db, tx, id, id+"@example.com"); err != nil {
				return err
			}
			if first {
				first = false
				close(started)
				<-release
			}
			return nil
		})
	}()
	<-started
	return done
}

func statsDelta(db *sqldb.DB, c0, t0 uint64) (uint64, uint64) {
	c, tx := db.CommitStats()
	return c - c0, tx - t0
}

func TestGroupCommitConcurrentWriters(t *testing.T) {
	const workers, perWorker = 16, 40
	db := sqldbtest.OpenSQLite(t) // default: group commit on
	migrateAccounts(t, db)
	ctx := t.Context()
	c0, t0 := db.CommitStats()
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, id, id+"@example.com") }); err != nil {
					errs <- err
				}
				if err := incrementCounter(ctx, db); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != workers*perWorker {
		t.Errorf("accounts = %d, want %d", n, workers*perWorker)
	}
	if got := readCounter(t, db); got != workers*perWorker {
		t.Errorf("counter = %d, want %d (lost update across batch members)", got, workers*perWorker)
	}
	commits, txs := statsDelta(db, c0, t0)
	t.Logf("%d InTx calls in %d commits", txs, commits)
	if txs != 2*workers*perWorker {
		t.Errorf("CommitStats txs = %d, want %d", txs, 2*workers*perWorker)
	}
	if commits >= txs {
		t.Errorf("CommitStats commits = %d for %d txs: nothing was batched", commits, txs)
	}
}

func TestGroupCommitBatchesWaitingWriters(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	c0, t0 := db.CommitStats()
	release := make(chan struct{})
	holder := holdTurn(t, db, "h", release)
	const n = 5
	results := make(chan error, n)
	for i := range n {
		id := fmt.Sprintf("m%d", i)
		go func() {
			results <- db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, id, id+"@example.com") })
		}()
	}
	waitForWaiters(t, db, n)
	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if commits, txs := statsDelta(db, c0, t0); commits != 1 || txs != n+1 {
		t.Errorf("CommitStats moved by (%d commits, %d txs), want (1, %d): one batch", commits, txs, n+1)
	}
}

func TestGroupCommitMaxBatch(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithGroupCommit(3))
	migrateAccounts(t, db)
	ctx := t.Context()
	c0, t0 := db.CommitStats()
	release := make(chan struct{})
	holder := holdTurn(t, db, "h", release)
	results := make(chan error, 5)
	for i := range 5 {
		id := fmt.Sprintf("m%d", i)
		go func() {
			results <- db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, id, id+"@example.com") })
		}()
	}
	waitForWaiters(t, db, 5)
	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	// 6 members, at most 3 per batch, all queued before the first commit.
	if commits, txs := statsDelta(db, c0, t0); commits != 2 || txs != 6 {
		t.Errorf("CommitStats moved by (%d commits, %d txs), want (2, 6) with batches of 3", commits, txs)
	}
}

// batchOf runs the holder "h" plus the given member functions queued
// behind it, so they all share one batch, and returns each member's
// error (members run on their own goroutines).
func batchOf(t *testing.T, db *sqldb.DB, members ...func() error) []error {
	t.Helper()
	release := make(chan struct{})
	holder := holdTurn(t, db, "h", release)
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() { errs[i] = m() })
		// Queue in order, so batch positions are deterministic.
		waitForWaiters(t, db, i+1)
	}
	close(release)
	if err := <-holder; err != nil {
		t.Errorf("holder: %v", err)
	}
	wg.Wait()
	return errs
}

func TestGroupCommitFailingMembers(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	insert := func(id string) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, id, id+"@example.com") }
	}
	c0, t0 := db.CommitStats()
	var recovered any
	goexited := true
	errs := batchOf(t, db,
		func() error { return db.InTx(ctx, insert("ok1")) },
		func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				if err := insert("err")(tx); err != nil {
					return err
				}
				return errBusiness
			})
		},
		func() (err error) {
			defer func() { recovered = recover() }()
			return db.InTx(ctx, func(tx *sql.Tx) error {
				if err := insert("panic")(tx); err != nil {
					return err
				}
				panic("boom")
			})
		},
		func() error {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = db.InTx(ctx, func(tx *sql.Tx) error {
					if err := insert("goexit")(tx); err != nil {
						return err
					}
					runtime.Goexit() // what t.FailNow does inside fn
					return nil
				})
				goexited = false
			}()
			<-done
			return nil
		},
		func() error { return db.InTx(ctx, insert("ok2")) },
	)
	if errs[0] != nil || errs[4] != nil {
		t.Errorf("healthy members: %v, %v; want nil", errs[0], errs[4])
	}
	if errs[1] != errBusiness { //nolint:errorlint // identity is the documented contract
		t.Errorf("erroring member got %v, want errBusiness itself", errs[1])
	}
	if recovered != "boom" {
		t.Errorf("panicking member recovered %v, want the original panic value", recovered)
	}
	if !goexited {
		t.Error("Goexit inside fn did not end the caller's goroutine")
	}
	for id, want := range map[string]int{"h": 1, "ok1": 1, "ok2": 1, "err": 0, "panic": 0, "goexit": 0} {
		if n := countAccounts(t, db, id); n != want {
			t.Errorf("rows of %q = %d, want %d", id, n, want)
		}
	}
	if commits, txs := statsDelta(db, c0, t0); commits != 1 || txs != 3 {
		t.Errorf("CommitStats moved by (%d commits, %d txs), want (1, 3)", commits, txs)
	}
	// The DB is usable afterwards.
	if err := db.InTx(ctx, insert("after")); err != nil {
		t.Fatal(err)
	}
}

// A member whose fn fails after seeing earlier members' work answers only
// once that work is committed: its caller's next read (here another
// connection's) must not see the state before the work its failure rests
// on. Before the fix the failing member returned when it handed its turn
// to the next member, with the batch still open.
func TestGroupCommitFailureAnswersAfterWhatItSaw(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	failed := make(chan struct{})
	var visible int
	errs := batchOf(t, db,
		func() error {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				var n int
				if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM accounts WHERE id = ?`), "h").Scan(&n); err != nil {
					return err
				}
				if n != 1 {
					return fmt.Errorf("the holder's row is not visible inside the batch (%d rows)", n)
				}
				return errBusiness // e.g. refused because of what "h" wrote
			})
			visible = countAccounts(t, db, "h")
			close(failed)
			return err
		},
		func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				// Keep the batch open until the failing member answered,
				// or long enough to let it answer after the commit.
				select {
				case <-failed:
				case <-time.After(300 * time.Millisecond):
				}
				return insertAccount(ctx, db, tx, "last", "last@example.com")
			})
		},
	)
	if errs[0] != errBusiness { //nolint:errorlint // identity is the documented contract
		t.Fatalf("failing member got %v, want errBusiness", errs[0])
	}
	if errs[1] != nil {
		t.Fatalf("last member: %v", errs[1])
	}
	if visible != 1 {
		t.Errorf("right after the failing member answered, another connection saw %d rows of the holder, want 1 (committed)", visible)
	}
}

func TestGroupCommitContextEndsWhileWaiting(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	release := make(chan struct{})
	holder := holdTurn(t, db, "h", release)
	cctx, cancel := context.WithCancel(ctx)
	var calls atomic.Int32
	waiter := make(chan error, 1)
	go func() {
		waiter <- db.InTx(cctx, func(tx *sql.Tx) error {
			calls.Add(1)
			return insertAccount(ctx, db, tx, "cancelled", "cancelled@example.com")
		})
	}()
	waitForWaiters(t, db, 1)
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter got %v, want context.Canceled", err)
	}
	if sqldb.GroupWaiters(db) != 0 {
		t.Error("cancelled waiter is still queued")
	}
	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 || countAccounts(t, db, "cancelled") != 0 {
		t.Errorf("cancelled waiter ran fn %d times", calls.Load())
	}
	if countAccounts(t, db, "h") != 1 {
		t.Error("holder not committed")
	}
}

// TestGroupCommitBrokenBatchReruns has a member run INSERT OR ROLLBACK,
// which rolls back the whole shared transaction: the members before it
// lost their work and must run again, each row ending up committed
// exactly once (a second insert would hit the primary key).
func TestGroupCommitBrokenBatchReruns(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	var runs [4]atomic.Int32
	member := func(i int, id string) func() error {
		return func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				runs[i].Add(1)
				return insertAccount(ctx, db, tx, id, id+"@example.com")
			})
		}
	}
	errs := batchOf(t, db,
		member(0, "before"),
		func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				runs[1].Add(1)
				// Conflicts with "h", written earlier in the same batch.
				_, err := tx.ExecContext(ctx, `INSERT OR ROLLBACK INTO accounts (id, email) VALUES ('h', 'breaker@example.com')`)
				return err
			})
		},
		member(2, "after1"),
		member(3, "after2"),
	)
	if errs[0] != nil || errs[2] != nil || errs[3] != nil {
		t.Errorf("innocent members: %v, %v, %v; want nil", errs[0], errs[2], errs[3])
	}
	if !sqldb.IsUniqueViolation(errs[1]) {
		t.Errorf("breaking member got %v, want its own constraint error", errs[1])
	}
	if got := runs[0].Load(); got != 2 {
		t.Errorf("member before the breaker ran %d times, want 2 (rerun after its batch broke)", got)
	}
	if got := runs[1].Load(); got != 1 {
		t.Errorf("breaker ran %d times, want 1", got)
	}
	for _, id := range []string{"h", "before", "after1", "after2"} {
		if n := countAccounts(t, db, id); n != 1 {
			t.Errorf("rows of %q = %d, want 1", id, n)
		}
	}
	var email string
	if err := db.SQL().QueryRowContext(ctx, `SELECT email FROM accounts WHERE id = 'h'`).Scan(&email); err != nil || email != "h@example.com" {
		t.Errorf("row h: %q, %v", email, err)
	}
}

// TestGroupCommitInterruptedMember cancels a member's context while its
// long statement runs; SQLite interrupts it, which may roll back the
// whole shared transaction. Whatever SQLite does, every other member's
// row must end up committed exactly once.
func TestGroupCommitInterruptedMember(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE big (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	member := func(id string) func() error {
		return func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, id, id+"@example.com") })
		}
	}
	errs := batchOf(t, db,
		member("before"),
		func() error {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			return db.InTx(cctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(cctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
					INSERT INTO big SELECT x FROM c`)
				return err
			})
		},
		member("after"),
	)
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("innocent members: %v, %v; want nil", errs[0], errs[2])
	}
	if errs[1] == nil {
		t.Error("interrupted member got nil")
	}
	t.Logf("interrupted member: %v", errs[1])
	for _, id := range []string{"h", "before", "after"} {
		if n := countAccounts(t, db, id); n != 1 {
			t.Errorf("rows of %q = %d, want 1", id, n)
		}
	}
	var big int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM big`).Scan(&big); err != nil || big != 0 {
		t.Errorf("rows of the interrupted statement = %d (%v), want 0", big, err)
	}
}

func TestGroupCommitNestedInTxTimesOut(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	migrateAccounts(t, db)
	ctx := t.Context()
	var inner error
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if err := insertAccount(ctx, db, tx, "outer", "outer@example.com"); err != nil {
			return err
		}
		nctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		inner = db.InTx(nctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, "inner", "inner@example.com") })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, context.DeadlineExceeded) {
		t.Errorf("nested InTx = %v, want it to give up with context.DeadlineExceeded", inner)
	}
	if countAccounts(t, db, "outer") != 1 || countAccounts(t, db, "inner") != 0 {
		t.Error("want the outer row committed and no inner row")
	}
}

const (
	crashChildEnv   = "SQLDB_GROUP_COMMIT_CRASH_DSN"
	crashRoundEnv   = "SQLDB_GROUP_COMMIT_CRASH_ROUND"
	crashRounds     = 6
	crashChildAlive = 400 * time.Millisecond
)

// TestGroupCommitCrash runs 16 concurrent writers in a child process that
// prints each id only after InTx acknowledged it, SIGKILLs the child
// mid-flight and checks that every acknowledged id is in the database.
// Several rounds on the same file, so a kill lands inside an open batch
// at least once.
func TestGroupCommitCrash(t *testing.T) {
	if dsn := os.Getenv(crashChildEnv); dsn != "" {
		crashChild(dsn, os.Getenv(crashRoundEnv))
		return
	}
	dsn := sqldbtest.SQLiteDSN(t)
	db, err := sqldb.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	migrateAccounts(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	acked := map[string]bool{}
	for round := range crashRounds {
		n := runCrashChild(t, dsn, round, acked)
		if n < 16 {
			t.Fatalf("round %d: child acknowledged only %d writes before the kill; the test proves nothing", round, n)
		}
	}

	db = openDSN(t, dsn)
	present := map[string]bool{}
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT id FROM accounts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		present[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id := range acked {
		if !present[id] {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged id %s lost in the crash", id)
			}
		}
	}
	t.Logf("children acknowledged %d writes, %d rows present after %d SIGKILLs, %d lost", len(acked), len(present), crashRounds, lost)
}

// runCrashChild starts the writer child, SIGKILLs it after
// crashChildAlive and adds the ids it acknowledged to acked.
func runCrashChild(t *testing.T, dsn string, round int, acked map[string]bool) int {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestGroupCommitCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dsn, crashRoundEnv+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := 0
	scanned := make(chan struct{})
	writing := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := cutPrefix(sc.Text(), "acked "); ok {
				acked[id] = true
				if n++; n == 16 {
					close(writing)
				}
			}
		}
	}()
	// Start the clock once the child writes: a loaded machine can take
	// longer than crashChildAlive to start a race-instrumented binary.
	select {
	case <-writing:
	case <-scanned:
	case <-time.After(30 * time.Second):
	}
	time.Sleep(crashChildAlive)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-scanned
	_ = cmd.Wait()
	return n
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// crashChild writes until it is killed; it never returns normally.
func crashChild(dsn, round string) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := "r" + round + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				// Order-shaped: a header and its lines, so a batch's members
				// spend real time in it before the commit.
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					if err := insertAccount(ctx, db, tx, id, id+"@example.com"); err != nil {
						return err
					}
					for range 10 {
						if _, err := tx.ExecContext(ctx, `INSERT INTO postings (account_id) VALUES (?)`, id); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(out, "acked", id)
				_ = out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// BenchmarkOrderShapedInTx runs an order-shaped write transaction (a
// header, three lines and a stock counter update) from 16 goroutines,
// one transaction per InTx (WithGroupCommit(1)) against the default group
// commit. Compare the two in one run: absolute figures depend on the disk.
func BenchmarkOrderShapedInTx(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []sqldb.Option
	}{
		{"single", []sqldb.Option{sqldb.WithGroupCommit(1)}},
		{"group", nil},
	} {
		b.Run(mode.name, func(b *testing.B) {
			opts := append([]sqldb.Option{sqldb.WithLogger(slog.New(slog.DiscardHandler))}, mode.opts...)
			db := sqldbtest.OpenSQLite(b, opts...)
			if err := sqldb.Migrate(b.Context(), db, "accounts", accountsV1); err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			var seq atomic.Int64
			c0, t0 := db.CommitStats()
			b.SetParallelism(8) // 16 writers on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := "o" + strconv.FormatInt(seq.Add(1), 10)
					if err := orderShapedTx(ctx, db, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			commits, txs := statsDelta(db, c0, t0)
			if commits > 0 {
				b.ReportMetric(float64(txs)/float64(commits), "txs/commit")
			}
		})
	}
}

// orderShapedTx writes what an order placement writes, in miniature: a
// header, three lines and a stock counter update, in one InTx.
func orderShapedTx(ctx context.Context, db *sqldb.DB, id string) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		if err := insertAccount(ctx, db, tx, id, id+"@example.com"); err != nil {
			return err
		}
		for range 3 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO postings (account_id) VALUES (?)`, id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE counters SET n = n + 1 WHERE id = 1`)
		return err
	})
}
