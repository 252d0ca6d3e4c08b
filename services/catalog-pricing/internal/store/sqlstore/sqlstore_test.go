package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
	"github.com/transload/transload/services/catalog-pricing/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, _ *sqldb.DB) {
		// Every subtest of the suite gets a fresh database of this engine.
		engine := t.Name()
		storetest.Run(t, func(t *testing.T) storetest.Stores {
			var db *sqldb.DB
			if engine == "TestStore/postgres" {
				db = sqldbtest.OpenPostgres(t)
			} else {
				db = sqldbtest.OpenSQLite(t)
			}
			if err := sqlstore.Migrate(t.Context(), db); err != nil {
				t.Fatal(err)
			}
			s := sqlstore.New(db)
			return storetest.Stores{
				Catalog: s.Catalog(), Pricing: s.Pricing(),
				Unpublished: func(ctx context.Context) (int64, error) {
					lag, err := outbox.ReadLag(ctx, db, time.Now())
					return lag.Unpublished, err
				},
			}
		})
	})
}

func TestMigrateTwice(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		for range 2 {
			if err := sqlstore.Migrate(t.Context(), db); err != nil {
				t.Fatal(err)
			}
		}
	})
}
