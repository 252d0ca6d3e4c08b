// Package sqldbtest runs store tests against every engine sqldb supports,
// so each service keeps one conformance suite for its SQLite and
// PostgreSQL stores:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestOrderStore(t *testing.T) {
//		sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
//			if err := store.Migrate(t.Context(), db); err != nil {
//				t.Fatal(err)
//			}
//			storetest.Run(t, store.New(db))
//		})
//	}
//
// The PostgreSQL databases come from pgtest, so the test binary needs the
// TestMain above. Without PostgreSQL installed the "postgres" subtest
// skips with an install hint, or fails when CI=true.
package sqldbtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/pgtest"
)

// ForEachEngine runs fn in the subtests "sqlite" and "postgres", each with
// a fresh, empty database of that engine opened with opts and closed when
// the subtest ends. fn may call t.Parallel.
func ForEachEngine(t *testing.T, fn func(t *testing.T, db *sqldb.DB), opts ...sqldb.Option) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, OpenSQLite(t, opts...))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, OpenPostgres(t, opts...))
	})
}

// OpenSQLite opens a new SQLite database in a file under t.TempDir and
// closes it when t ends.
func OpenSQLite(t testing.TB, opts ...sqldb.Option) *sqldb.DB {
	t.Helper()
	return open(t, SQLiteDSN(t), opts...)
}

// SQLiteDSN returns the DSN of a new SQLite database file under t.TempDir;
// open it several times to get handles that contend like separate
// processes.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
}

// OpenPostgres opens a new PostgreSQL database cloned by pgtest and closes
// it when t ends (pgtest then drops it).
func OpenPostgres(t testing.TB, opts ...sqldb.Option) *sqldb.DB {
	t.Helper()
	return open(t, pgtest.NewDatabase(t), opts...)
}

func open(t testing.TB, dsn string, opts ...sqldb.Option) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("sqldbtest: open %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("sqldbtest: close: %v", err)
		}
	})
	return db
}
