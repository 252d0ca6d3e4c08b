package sqlstore_test

import (
	"testing"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/store/storetest"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		// Migrating again is a no-op.
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		storetest.Run(t, func(*testing.T) wms.Store { return sqlstore.New(db) })
	})
}
