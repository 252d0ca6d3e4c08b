package sqldb_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestOpenRejectsUnknownDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"mysql://root@localhost/db",
		"orders.db",
		"host=localhost password=secret",
		"sqlite://",
		"sqlite://?_busy_timeout=1",
		"postgres://user:pw@host:notaport/db",
	} {
		t.Run(dsn, func(t *testing.T) {
			t.Parallel()
			db, err := sqldb.Open(t.Context(), dsn)
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open(%q) succeeded, want an error", dsn)
			}
			if !errors.Is(err, sqldb.ErrUnsupportedDSN) {
				t.Errorf("Open(%q) = %v, want ErrUnsupportedDSN", dsn, err)
			}
			for _, secret := range []string{"secret", ":pw@"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks the password", err)
				}
			}
		})
	}
}

func TestOpenSQLiteSettings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if got := db.Dialect(); got != sqldb.SQLite {
		t.Fatalf("Dialect() = %v, want sqlite", got)
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "2",     // FULL
		"temp_store":   "2",     // MEMORY: statement journals stay off the disk
		"cache_size":   "-2048", // 2 MiB page cache per connection
		"mmap_size":    "0",     // nothing of the file mapped into the process
	} {
		var got string
		if err := db.SQL().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSQLiteCreatesFolderAndPersists(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "data", "orders", "orders.db")
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.SQL().QueryRowContext(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != "kept" {
		t.Errorf("after reopen: %q, %v; want the row written before", v, err)
	}
}

func TestOpenSQLiteDSNOverridesDefaults(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "x.db") + "?_synchronous=NORMAL"
	db, err := sqldb.Open(t.Context(), dsn, sqldb.WithBusyTimeout(1234*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sync, busy int
	if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if sync != 1 || busy != 1234 {
		t.Errorf("synchronous=%d busy_timeout=%d, want 1 (NORMAL) and 1234", sync, busy)
	}
}

func TestOpenSQLiteMemoryKeepsOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqldb.Open(ctx, "sqlite://:memory:", sqldb.WithMaxOpenConns(8))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE t (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	// Several concurrent queries must all see the same in-memory database,
	// which only holds if the pool never opens a second connection.
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := db.SQL().ExecContext(ctx, `INSERT INTO t VALUES (1)`)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Errorf("count = %d, want 8", n)
	}
}

func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	db := sqldbtest.OpenPostgres(t)
	if got := db.Dialect(); got != sqldb.Postgres {
		t.Fatalf("Dialect() = %v, want postgres", got)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := db.SQL().Stats().MaxOpenConnections; got != 10 {
		t.Errorf("MaxOpenConnections = %d, want the default 10", got)
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections.
	db, err := sqldb.Open(ctx, "postgresql://nobody:pw@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		_ = db.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if errors.Is(err, sqldb.ErrUnsupportedDSN) {
		t.Errorf("unreachable server reported as unsupported DSN: %v", err)
	}
}

func TestDialectString(t *testing.T) {
	t.Parallel()
	for d, want := range map[sqldb.Dialect]string{sqldb.SQLite: "sqlite", sqldb.Postgres: "postgres", 0: "Dialect(0)"} {
		if got := d.String(); got != want {
			t.Errorf("Dialect(%d).String() = %q, want %q", int(d), got, want)
		}
	}
}

func TestSQLiteTimesAreUTCText(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE ev (id INTEGER PRIMARY KEY, at TIMESTAMP NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	// time.Now carries a monotonic reading and, here, a non-UTC zone.
	now := time.Now().In(time.FixedZone("CET", 3600))
	earlier := now.Add(-1500 * time.Millisecond)
	for i, at := range []time.Time{now, earlier} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO ev (id, at) VALUES (?, ?)`, i, at); err != nil {
			t.Fatal(err)
		}
	}
	var raw string
	if err := db.SQL().QueryRowContext(ctx, `SELECT CAST(at AS TEXT) FROM ev WHERE id = 0`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if want := now.UTC().Format("2006-01-02 15:04:05.999999999-07:00"); raw != want {
		t.Errorf("stored %q, want %q", raw, want)
	}
	var got time.Time
	var firstID int
	if err := db.SQL().QueryRowContext(ctx, `SELECT id, at FROM ev ORDER BY at LIMIT 1`).Scan(&firstID, &got); err != nil {
		t.Fatal(err)
	}
	if firstID != 1 || !got.Equal(earlier) || got.Location() != time.UTC {
		t.Errorf("earliest = id %d at %v, want id 1 at %v in UTC", firstID, got, earlier.UTC())
	}
}
