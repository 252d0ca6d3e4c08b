package launcher

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/transload/transload/platform/testharness/harness"
)

// startTestPostgres starts a cluster in a fresh folder the postgres user
// can reach, on a free port (another try when the port was taken first).
func startTestPostgres(ctx context.Context, t *testing.T, dir string) *Postgres {
	t.Helper()
	var last error
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		pg, err := StartPostgres(ctx, dir, port, nil)
		if err == nil {
			return pg
		}
		last = err
	}
	t.Fatalf("StartPostgres: %v", last)
	return nil
}

// publicTables counts the tables of database db's public schema.
func publicTables(ctx context.Context, t *testing.T, addr, db string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, PostgresDSN(addr, db))
	if err != nil {
		t.Fatalf("connect %s: %v", db, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
		t.Fatalf("%s: %v", db, err)
	}
	return n
}

// TestMeshOnPostgres starts the mesh on a local PostgreSQL cluster (the
// scale mode's database): every service runs on its own database, where it
// migrated its schema, and writes no SQLite file; the cluster stopped and
// started again on its folder still has every database (fast shutdown and
// durable settings), and CreateDatabases on it is a no-op.
func TestMeshOnPostgres(t *testing.T) {
	harness.LookBinary(t, "initdb", "apt-get install -y postgresql", "/usr/lib/postgresql/*/bin/initdb")
	harness.LookBinary(t, "postgres", "apt-get install -y postgresql", "/usr/lib/postgresql/*/bin/postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	base, err := os.MkdirTemp("", "transload-launcher-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// Run as root, postgres runs as the postgres user, which must reach
	// its folder below this one.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	pgDir := filepath.Join(base, "postgres")
	pg := startTestPostgres(ctx, t, pgDir)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = pg.Stop()
		}
	})
	if err := CreateDatabases(ctx, pg.Addr, nil); err != nil {
		t.Fatal(err)
	}

	data := filepath.Join(base, "data")
	m, err := Start(ctx, Config{BinDir: bins(t), DataDir: data, FreePorts: true, ExtraEnv: PostgresEnv(pg.Addr)})
	if err != nil {
		t.Fatal(err)
	}
	m.Stop()

	for _, name := range databaseProcesses() {
		if n := publicTables(ctx, t, pg.Addr, DatabaseName(name)); n == 0 {
			t.Errorf("%s: no tables in database %s: it did not migrate on PostgreSQL", name, DatabaseName(name))
		}
		if _, err := os.Stat(filepath.Join(data, name+".db")); err == nil {
			t.Errorf("%s wrote a SQLite file in scale mode", name)
		}
	}

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	again := startTestPostgres(ctx, t, pgDir)
	defer func() {
		if err := again.Stop(); err != nil {
			t.Error(err)
		}
	}()
	if err := CreateDatabases(ctx, again.Addr, nil); err != nil {
		t.Fatalf("CreateDatabases on an existing cluster: %v", err)
	}
	if n := publicTables(ctx, t, again.Addr, DatabaseName(Order)); n == 0 {
		t.Errorf("order's tables are gone after a restart of the cluster")
	}
}
