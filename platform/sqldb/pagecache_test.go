package sqldb_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/transload/transload/platform/sqldb"
)

// TestPageCacheOnEveryConnection: the page cache bound holds on every
// connection of the pool, not only the one Open checked, since each
// connection has a cache of its own outside the Go heap.
func TestPageCacheOnEveryConnection(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const conns = 3
	db, err := sqldb.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"),
		sqldb.WithMaxOpenConns(conns), sqldb.WithPageCache(1024))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Holding conns connections at once makes the pool open all of them.
	var held []*sql.Conn
	for range conns {
		c, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for i, c := range held {
		var got int
		if err := c.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != -1024 {
			t.Errorf("connection %d: cache_size %d, want -1024 (1 MiB)", i, got)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if s := db.SQL().Stats(); s.OpenConnections != conns {
		t.Errorf("%d connections open, want the %d held", s.OpenConnections, conns)
	}
}
