package sqlstore_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
)

// TestVersionsSeeEveryWriteAtOnce: Versions (kept in memory on SQLite
// between write transactions) shows each kind of version change as soon as
// its transaction returns, also when the write went through another Store
// on the same database, and a rolled-back write changes nothing.
func TestVersionsSeeEveryWriteAtOnce(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s, other := sqlstore.New(db), sqlstore.New(db)
		want := func(step string, cv, pv, rv int64) {
			t.Helper()
			for range 2 { // the second read may come from memory
				v, err := s.Pricing().Versions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if v != (pricing.Versions{Catalog: cv, Price: pv, Rules: rv}) {
					t.Fatalf("%s: versions %+v, want catalog %d price %d rules %d", step, v, cv, pv, rv)
				}
			}
		}
		v0, err := s.Pricing().Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want("start", v0.Catalog, v0.Price, v0.Rules)
		if err := s.Pricing().InTx(ctx, func(tx pricing.Tx) error { _, err := tx.BumpPriceVersion(); return err }); err != nil {
			t.Fatal(err)
		}
		want("price bump", v0.Catalog, v0.Price+1, v0.Rules)
		if err := other.Pricing().InTx(ctx, func(tx pricing.Tx) error { _, err := tx.BumpPriceVersion(); return err }); err != nil {
			t.Fatal(err)
		}
		want("price bump through another store", v0.Catalog, v0.Price+2, v0.Rules)
		if err := s.Pricing().InTx(ctx, func(tx pricing.Tx) error {
			return tx.PutPublishedRules(v0.Price+2, []byte(`{}`), "digest")
		}); err != nil {
			t.Fatal(err)
		}
		want("rules published", v0.Catalog, v0.Price+2, v0.Price+2)
		if err := other.Catalog().InTx(ctx, func(tx catalog.Tx) error {
			return tx.CreateVersion(catalog.Version{Number: v0.Catalog + 1, PublishTime: time.Now(),
				Publisher: catalog.Actor{Kind: "operator", ID: "test"}})
		}); err != nil {
			t.Fatal(err)
		}
		want("catalog published", v0.Catalog+1, v0.Price+2, v0.Price+2)
		errRollback := errors.New("roll back")
		if err := s.Pricing().InTx(ctx, func(tx pricing.Tx) error {
			if _, err := tx.BumpPriceVersion(); err != nil {
				return err
			}
			return errRollback
		}); !errors.Is(err, errRollback) {
			t.Fatalf("rollback: %v", err)
		}
		want("rolled back", v0.Catalog+1, v0.Price+2, v0.Price+2)
	})
}

// TestVersionsUnderConcurrentWrites: readers never see a price version
// older than one whose bump had returned before their read began.
func TestVersionsUnderConcurrentWrites(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := sqlstore.New(db)
		var acked atomic.Int64 // the highest price version whose bump returned
		v0, err := s.Pricing().Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		acked.Store(v0.Price)
		stop := make(chan struct{})
		var writer sync.WaitGroup
		writer.Go(func() {
			defer close(stop)
			for range 100 {
				var pv int64
				if err := s.Pricing().InTx(ctx, func(tx pricing.Tx) error {
					var err error
					pv, err = tx.BumpPriceVersion()
					return err
				}); err != nil {
					t.Error(err)
					return
				}
				acked.Store(pv)
			}
		})
		var readers sync.WaitGroup
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					before := acked.Load()
					v, err := s.Pricing().Versions(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if v.Price < before {
						t.Errorf("read price version %d after version %d was acknowledged", v.Price, before)
						return
					}
				}
			})
		}
		writer.Wait()
		readers.Wait()
	})
}
