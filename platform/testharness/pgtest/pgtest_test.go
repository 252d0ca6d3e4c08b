package pgtest

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

var runSeq atomic.Int64

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestNewDatabaseIsolatedAndDropped(t *testing.T) {
	ctx := context.Background()
	dsnA := NewDatabase(t)
	dsnB := NewDatabase(t)
	if dsnA == dsnB {
		t.Fatalf("two NewDatabase calls returned the same DSN %s", dsnA)
	}
	a, b := openDB(t, dsnA), openDB(t, dsnB)
	if _, err := a.ExecContext(ctx, `CREATE TABLE only_in_a (id int)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("table created in database A is visible in database B")
	}

	// A database made in a subtest is gone once the subtest has ended.
	var inner string
	t.Run("inner", func(t *testing.T) {
		dsn := NewDatabase(t)
		db := openDB(t, dsn)
		if err := db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		inner = dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	})
	if err := a.QueryRowContext(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, inner).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", inner)
	}
}

func TestNewDatabaseFromRunsSetupOnceAndClones(t *testing.T) {
	ctx := context.Background()
	// A key of its own per run: templates outlive a test (-count=N).
	key := fmt.Sprintf("seeded-%d", runSeq.Add(1))
	var setups atomic.Int32
	setup := func(ctx context.Context, dsn string) error {
		setups.Add(1)
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, `CREATE TABLE seeded (id int PRIMARY KEY); INSERT INTO seeded VALUES (1), (2)`)
		return err
	}
	for i := range 3 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			db := openDB(t, NewDatabaseFrom(t, key, setup))
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM seeded`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("clone has %d seeded rows, want 2", n)
			}
			// Writes stay in this clone: every clone starts with 2 rows.
			if _, err := db.ExecContext(ctx, `INSERT INTO seeded VALUES (100)`); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Cleanup(func() {
		if got := setups.Load(); got != 1 {
			t.Errorf("setup ran %d times, want 1", got)
		}
	})
}

func TestNewDatabaseFromSetupFailure(t *testing.T) {
	// A failing setup must fail the calling test; observe that from a
	// child test binary so this test itself can pass.
	if os.Getenv("PGTEST_CHILD") == "setupfail" {
		NewDatabaseFrom(t, "broken", func(context.Context, string) error { return errors.New("boom") })
		t.Fatal("NewDatabaseFrom returned despite a failing setup")
	}
	out, err := childTest(t, "TestNewDatabaseFromSetupFailure", "setupfail").CombinedOutput()
	if err == nil {
		t.Fatalf("child test passed; want a failure:\n%s", out)
	}
	if !strings.Contains(string(out), "boom") {
		t.Errorf("child output does not report the setup error:\n%s", out)
	}
}

func childTest(t *testing.T, name, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD="+mode)
	return cmd
}

// TestClusterDiesWithTestProcess kills a test process that started a
// cluster with SIGKILL (no TestMain, no cleanup runs) and checks that the
// postmaster goes away on its own and the next start sweeps its directory.
func TestClusterDiesWithTestProcess(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "orphan" {
		NewDatabase(t)
		sharedMu.Lock()
		c := shared.cluster
		sharedMu.Unlock()
		fmt.Printf("POSTMASTER %d %s\n", c.cmd.Process.Pid, c.dir)
		select {} // wait to be killed
	}
	if os.Getenv(EnvDSN) != "" {
		t.Skipf("%s is set: no cluster is started", EnvDSN)
	}
	NewDatabase(t) // applies the missing-binary policy before the child runs

	cmd := childTest(t, "TestClusterDiesWithTestProcess", "orphan")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		pid int
		dir string
	)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "POSTMASTER %d %s", &pid, &dir); err == nil {
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child did not report its postmaster (scan error: %v)", sc.Err())
	}
	if !processAlive(pid) {
		t.Fatalf("postmaster %d not running before the child was killed", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for processAlive(pid) && !isZombieOrGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postmaster %d still running 30s after its test process was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("cluster directory %s vanished before the sweep: %v", dir, err)
	}
	sweepStale(filepath.Dir(dir))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sweepStale left the dead cluster's directory %s (stat: %v)", dir, err)
	}
}

// isZombieOrGone reports whether pid has exited: the postmaster's parent
// (the killed child) is gone, so it is reparented and reaped, but reaping
// may lag a moment behind the exit.
func isZombieOrGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// TestExternalServer points a child test binary at this binary's cluster
// through EnvDSN: the child must create its databases there, start no
// cluster of its own, and drop everything it created when it ends.
func TestExternalServer(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "external" {
		db := openDB(t, NewDatabase(t))
		if _, err := db.ExecContext(t.Context(), `CREATE TABLE child_was_here (id int)`); err != nil {
			t.Fatal(err)
		}
		NewDatabaseFrom(t, "ext", func(context.Context, string) error { return nil })
		sharedMu.Lock()
		started := shared.cluster != nil
		sharedMu.Unlock()
		if started {
			t.Fatal("a cluster was started although " + EnvDSN + " is set")
		}
		return
	}
	if os.Getenv(EnvDSN) != "" {
		t.Skipf("%s is already set", EnvDSN)
	}
	admin := openDB(t, NewDatabase(t))
	sharedMu.Lock()
	adminDSN := shared.dsn("postgres")
	sharedMu.Unlock()

	cmd := childTest(t, "TestExternalServer", "external")
	cmd.Env = append(cmd.Env, EnvDSN+"="+adminDSN)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestExternalServer") {
		t.Fatalf("child test did not run:\n%s", out)
	}
	var left int
	pattern := fmt.Sprintf("pgtest\\_%%\\_%d\\_%%", cmd.Process.Pid)
	if err := admin.QueryRowContext(t.Context(),
		`SELECT count(*) FROM pg_database WHERE datname LIKE $1`, pattern).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d databases of the child are left on the external server", left)
	}
	var total int
	if err := admin.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_database WHERE datname LIKE 'pgtest\_%'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total == 0 {
		t.Error("the LIKE pattern matches nothing, not even this test's own databases")
	}
}
