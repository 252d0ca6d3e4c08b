package sqlstore_test

import (
	"testing"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/erpsim/internal/store/sqlstore"
	"github.com/transload/transload/services/erpsim/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		// Migrating again is a no-op.
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		storetest.Run(t, sqlstore.New(db))
	})
}
