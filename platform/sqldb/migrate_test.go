package sqldb_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

func migrations(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

// ordersV2 has two migrations where the second depends on the first, and
// a multi-statement script.
var ordersV2 = map[string]string{
	"0001_create_orders.sql": `CREATE TABLE orders (id TEXT PRIMARY KEY, total_minor BIGINT NOT NULL);
CREATE INDEX orders_total ON orders (total_minor);`,
	"0002_order_lines.sql": `CREATE TABLE order_lines (
	order_id TEXT NOT NULL REFERENCES orders (id),
	line INTEGER NOT NULL,
	PRIMARY KEY (order_id, line)
);
INSERT INTO orders (id, total_minor) VALUES ('seed', 0);`,
	"README.md": "not a migration",
}

type appliedRow struct {
	Set     string
	Version int
	Name    string
}

func appliedRows(t *testing.T, db *sqldb.DB) []appliedRow {
	t.Helper()
	rows, err := db.SQL().QueryContext(t.Context(),
		`SELECT migration_set, version, name FROM schema_migrations ORDER BY migration_set, version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []appliedRow
	for rows.Next() {
		var r appliedRow
		if err := rows.Scan(&r.Set, &r.Version, &r.Name); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func version(t *testing.T, db *sqldb.DB, set string) int {
	t.Helper()
	v, err := sqldb.MigrationVersion(t.Context(), db, set)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func tableExists(t *testing.T, db *sqldb.DB, table string) bool {
	t.Helper()
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.Dialect() == sqldb.Postgres {
		q = `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?`
	}
	var n int
	if err := db.SQL().QueryRowContext(t.Context(), db.Rebind(q), table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestMigrate(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if v := version(t, db, "orders"); v != 0 {
			t.Fatalf("version before any migration = %d, want 0", v)
		}
		fsys := migrations(ordersV2)
		if err := sqldb.Migrate(ctx, db, "orders", fsys); err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		want := []appliedRow{{"orders", 1, "create_orders"}, {"orders", 2, "order_lines"}}
		if diff := cmp.Diff(want, appliedRows(t, db)); diff != "" {
			t.Fatalf("schema_migrations after first run (-want +got):\n%s", diff)
		}
		if !tableExists(t, db, "order_lines") {
			t.Fatal("order_lines was not created")
		}

		// Re-run: no-op, the seed row of 0002 is not inserted twice.
		if err := sqldb.Migrate(ctx, db, "orders", fsys); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if diff := cmp.Diff(want, appliedRows(t, db)); diff != "" {
			t.Errorf("schema_migrations after re-run (-want +got):\n%s", diff)
		}
		var seeds int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE id = 'seed'`).Scan(&seeds); err != nil {
			t.Fatal(err)
		}
		if seeds != 1 {
			t.Errorf("seed rows = %d after re-run, want 1", seeds)
		}

		// A new migration shipped later is applied on the next run.
		fsys["0003_order_notes.sql"] = &fstest.MapFile{Data: []byte(`ALTER TABLE orders ADD COLUMN note TEXT`)}
		if err := sqldb.Migrate(ctx, db, "orders", fsys); err != nil {
			t.Fatalf("Migrate with 0003: %v", err)
		}
		if v := version(t, db, "orders"); v != 3 {
			t.Errorf("version = %d, want 3", v)
		}
	})
}

func TestMigrateSetsCoexist(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := sqldb.Migrate(ctx, db, "orders", migrations(ordersV2)); err != nil {
			t.Fatal(err)
		}
		outbox := migrations(map[string]string{
			"0001_outbox.sql": `CREATE TABLE outbox (id TEXT PRIMARY KEY, payload TEXT NOT NULL)`,
		})
		if err := sqldb.Migrate(ctx, db, "outbox", outbox); err != nil {
			t.Fatal(err)
		}
		// Running either set again touches nothing of the other.
		if err := sqldb.Migrate(ctx, db, "orders", migrations(ordersV2)); err != nil {
			t.Fatal(err)
		}
		want := []appliedRow{
			{"orders", 1, "create_orders"},
			{"orders", 2, "order_lines"},
			{"outbox", 1, "outbox"},
		}
		if diff := cmp.Diff(want, appliedRows(t, db)); diff != "" {
			t.Errorf("schema_migrations (-want +got):\n%s", diff)
		}
		if v := version(t, db, "outbox"); v != 1 {
			t.Errorf("outbox version = %d, want 1", v)
		}
		if v := version(t, db, "unknown"); v != 0 {
			t.Errorf("version of a set never migrated = %d, want 0", v)
		}
	})
}

func TestMigrateFailureKeepsPreviousVersion(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		files := map[string]string{
			"0001_first.sql": `CREATE TABLE first (id INTEGER PRIMARY KEY)`,
			// The first statement succeeds, the second fails: the whole
			// migration must roll back.
			"0002_broken.sql": `CREATE TABLE half_done (id INTEGER PRIMARY KEY);
INSERT INTO no_such_table VALUES (1);`,
		}
		err := sqldb.Migrate(ctx, db, "s", migrations(files))
		if err == nil {
			t.Fatal("Migrate with a broken migration succeeded")
		}
		if !strings.Contains(err.Error(), "0002_broken") {
			t.Errorf("error %q does not name the failing migration", err)
		}
		if v := version(t, db, "s"); v != 1 {
			t.Errorf("version after failure = %d, want 1", v)
		}
		if !tableExists(t, db, "first") {
			t.Error("migration 0001 was rolled back too")
		}
		if tableExists(t, db, "half_done") {
			t.Error("the failed migration's first statement was kept")
		}

		// Fixing the file lets the next run finish.
		files["0002_broken.sql"] = `CREATE TABLE half_done (id INTEGER PRIMARY KEY);`
		if err := sqldb.Migrate(ctx, db, "s", migrations(files)); err != nil {
			t.Fatalf("Migrate after the fix: %v", err)
		}
		if v := version(t, db, "s"); v != 2 {
			t.Errorf("version after the fix = %d, want 2", v)
		}
	})
}

func TestMigrateRefusesUnknownOrChangedMigrations(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := sqldb.Migrate(ctx, db, "orders", migrations(ordersV2)); err != nil {
			t.Fatal(err)
		}

		// An older binary that knows only 0001.
		older := map[string]string{"0001_create_orders.sql": ordersV2["0001_create_orders.sql"]}
		err := sqldb.Migrate(ctx, db, "orders", migrations(older))
		if !errors.Is(err, sqldb.ErrUnknownMigration) {
			t.Errorf("Migrate with fewer migrations = %v, want ErrUnknownMigration", err)
		}

		// An applied file edited afterwards, plus a new one that must not
		// be applied because of it.
		edited := map[string]string{
			"0001_create_orders.sql": ordersV2["0001_create_orders.sql"] + "\n-- edited",
			"0002_order_lines.sql":   ordersV2["0002_order_lines.sql"],
			"0003_more.sql":          `CREATE TABLE more (id INTEGER)`,
		}
		err = sqldb.Migrate(ctx, db, "orders", migrations(edited))
		if !errors.Is(err, sqldb.ErrChecksumMismatch) {
			t.Errorf("Migrate with an edited migration = %v, want ErrChecksumMismatch", err)
		}
		if v := version(t, db, "orders"); v != 2 {
			t.Errorf("version = %d after refused runs, want 2", v)
		}
		if tableExists(t, db, "more") {
			t.Error("a refused Migrate still applied a new migration")
		}
	})
}

func TestMigrateConcurrentCallers(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		// Replicas starting together: each migration applies exactly once
		// and nobody fails.
		ctx := t.Context()
		errs := make(chan error, 8)
		for range 8 {
			go func() { errs <- sqldb.Migrate(ctx, db, "orders", migrations(ordersV2)) }()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		want := []appliedRow{{"orders", 1, "create_orders"}, {"orders", 2, "order_lines"}}
		if diff := cmp.Diff(want, appliedRows(t, db)); diff != "" {
			t.Errorf("schema_migrations (-want +got):\n%s", diff)
		}
	})
}

func TestLoadMigrationsRejectsBadFiles(t *testing.T) {
	t.Parallel()
	tests := map[string]map[string]string{
		"gap":       {"0001_a.sql": "SELECT 1", "0003_c.sql": "SELECT 1"},
		"duplicate": {"0001_a.sql": "SELECT 1", "001_b.sql": "SELECT 1"},
		"misnamed":  {"0001_a.sql": "SELECT 1", "create_b.sql": "SELECT 1"},
		"zero":      {"0000_a.sql": "SELECT 1"},
		"empty":     {"0001_a.sql": "  \n"},
		"no name":   {"0001.sql": "SELECT 1"},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := sqldb.LoadMigrations(migrations(files))
			if !errors.Is(err, sqldb.ErrBadMigrations) {
				t.Errorf("LoadMigrations = %v, want ErrBadMigrations", err)
			}
		})
	}
}

func TestLoadMigrationsOrderAndChecksum(t *testing.T) {
	t.Parallel()
	migs, err := sqldb.LoadMigrations(migrations(map[string]string{
		"0010_j.sql": "SELECT 10", "0002_b.sql": "SELECT 2", "0001_a.sql": "SELECT 1",
		"0003_c.sql": "SELECT 3", "0004_d.sql": "SELECT 4", "0005_e.sql": "SELECT 5",
		"0006_f.sql": "SELECT 6", "0007_g.sql": "SELECT 7", "0008_h.sql": "SELECT 8", "0009_i.sql": "SELECT 9",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migs {
		if m.Version != i+1 {
			t.Errorf("migs[%d].Version = %d", i, m.Version)
		}
	}
	if migs[9].Name != "j" || migs[0].Checksum == migs[1].Checksum || len(migs[0].Checksum) != 64 {
		t.Errorf("unexpected migrations: %+v", migs)
	}
}

func TestMigrateEmptySetName(t *testing.T) {
	t.Parallel()
	db := sqldbtest.OpenSQLite(t)
	if err := sqldb.Migrate(context.Background(), db, "", migrations(ordersV2)); err == nil {
		t.Error("Migrate with an empty set name succeeded")
	}
}

func TestMigrateEmbedded(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		for range 2 {
			if err := sqldb.MigrateEmbedded(t.Context(), db, "orders", exampleMigrations, "testdata/migrations"); err != nil {
				t.Fatal(err)
			}
		}
		if v := version(t, db, "orders"); v != 1 || !tableExists(t, db, "orders") {
			t.Errorf("version %d, orders table exists %v; want 1 and true", v, tableExists(t, db, "orders"))
		}
		// The engine's own file ran: the SQLite one declares created_at
		// TIMESTAMP, the PostgreSQL one TIMESTAMPTZ.
		q := `SELECT type FROM pragma_table_info('orders') WHERE name = 'created_at'`
		want := "TIMESTAMP"
		if db.Dialect() == sqldb.Postgres {
			q = `SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'created_at'`
			want = "timestamp with time zone"
		}
		var got string
		if err := db.SQL().QueryRowContext(t.Context(), q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("created_at type %q, want %q from the %s folder", got, want, db.Dialect())
		}
	})
}

func TestMigrateEmbeddedMissingFolder(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		// Only the other engine's folder exists.
		other := "postgres"
		if db.Dialect() == sqldb.Postgres {
			other = "sqlite"
		}
		fsys := fstest.MapFS{"migrations/" + other + "/0001_x.sql": {Data: []byte("CREATE TABLE x (id TEXT)")}}
		err := sqldb.MigrateEmbedded(t.Context(), db, "x", fsys, "migrations")
		if !errors.Is(err, sqldb.ErrBadMigrations) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err %v, want ErrBadMigrations wrapping fs.ErrNotExist", err)
		}
		for _, s := range []string{`"x"`, "migrations/" + db.Dialect().String()} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("err %q does not name %s", err, s)
			}
		}
		if v := version(t, db, "x"); v != 0 {
			t.Errorf("version %d after the failure, want 0", v)
		}
	})
}

func TestMigrationsFor(t *testing.T) {
	fsys := fstest.MapFS{
		"sqlite/0001_a.sql":   {Data: []byte("SELECT 1")},
		"postgres/0001_a.sql": {Data: []byte("SELECT 2")},
	}
	for _, tc := range []struct {
		d    sqldb.Dialect
		want string
	}{{sqldb.SQLite, "SELECT 1"}, {sqldb.Postgres, "SELECT 2"}} {
		sub, err := sqldb.MigrationsFor(fsys, ".", tc.d)
		if err != nil {
			t.Fatalf("%s: %v", tc.d, err)
		}
		migs, err := sqldb.LoadMigrations(sub)
		if err != nil || len(migs) != 1 || migs[0].SQL != tc.want {
			t.Errorf("%s: migrations %+v, %v; want the one %q", tc.d, migs, err, tc.want)
		}
	}
	if _, err := sqldb.MigrationsFor(fsys, ".", sqldb.Dialect(9)); err == nil {
		t.Error("unknown dialect: no error")
	}
	if _, err := sqldb.MigrationsFor(fstest.MapFS{"x/sqlite": {Data: []byte("a file")}}, "x", sqldb.SQLite); !errors.Is(err, sqldb.ErrBadMigrations) {
		t.Errorf("engine path is a file: err %v, want ErrBadMigrations", err)
	}
}
