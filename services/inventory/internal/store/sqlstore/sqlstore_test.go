package sqlstore_test

import (
	"testing"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/store/sqlstore"
	"github.com/transload/transload/services/inventory/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) inventory.Store {
			return open(t, sqldbtest.OpenSQLite(t))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) inventory.Store {
			return open(t, sqldbtest.OpenPostgres(t))
		})
	})
}

func open(t *testing.T, db *sqldb.DB) inventory.Store {
	t.Helper()
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return sqlstore.New(db)
}
