package sqlstore_test

import (
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/erpsim/internal/erp"
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

// TestContractsSeededIntoAnOlderStore: a store seeded before it kept
// contracts (no contract marker, no contracts) gets the demo contracts at
// its next Seed, once, without seeding anything else again.
func TestContractsSeededIntoAnOlderStore(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := sqlstore.New(db)
		now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		if _, err := s.Seed(ctx, erp.DemoSeed(), now); err != nil {
			t.Fatal(err)
		}
		// As the store was before migration 0003 seeded contracts.
		for _, q := range []string{`DELETE FROM contracts`, `DELETE FROM erp_meta WHERE key = 'contracts_seeded_at'`} {
			if _, err := db.SQL().ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			seeded, err := s.Seed(ctx, erp.DemoSeed(), now)
			if err != nil || seeded {
				t.Fatalf("Seed of a seeded store = %v, %v; want false, nil", seeded, err)
			}
		}
		got, err := s.Contracts(ctx)
		if err != nil || len(got) != len(erp.DemoContracts()) || got[0].ID != erp.DemoContracts()[0].ID {
			t.Fatalf("contracts after the upgrade = %+v, %v; want the demo contracts once", got, err)
		}
	})
}
