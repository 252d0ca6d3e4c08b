package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/opsevents/opseventstest"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
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
				FeedCursors: func() erpsync.CursorStore { return sqlstore.New(db).FeedCursors() },
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

// TestAuditRecordsGoToTheOutbox: every audit record is also an
// AuditRecordedEvent for the operations audit trail, named as the trail
// names actions, written in the transaction of the change: a change that
// rolls back leaves neither.
func TestAuditRecordsGoToTheOutbox(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		s := sqlstore.New(db)
		operator := catalog.Actor{Kind: "operator", ID: "key-ops"}

		boom := errors.New("boom")
		err := s.Catalog().InTx(ctx, func(tx catalog.Tx) error {
			if err := tx.AppendAudit(catalog.AuditRecord{Action: "catalog.publish", Resource: "catalogVersions/9", Actor: operator,
				After: map[string]any{"version": 9}}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want the callback's error", err)
		}
		if evs := opseventstest.Read(t, db).Audits; len(evs) != 0 {
			t.Fatalf("audit events after a rollback: %v", evs)
		}
		if rows, err := s.Catalog().AuditRecords(ctx, 0, 10); err != nil || len(rows) != 0 {
			t.Fatalf("audit records after a rollback: %+v, %v", rows, err)
		}

		cat := catalog.NewService(s.Catalog(), time.Now)
		pr := pricing.NewService(s.Pricing(), s.Catalog())
		if _, err := cat.ImportProducts(ctx, catalog.ImportRequest{RequestID: "i1", Source: "t", Mode: catalog.ModeUpsert,
			Rows: []catalog.ImportRow{{RowNumber: 1, Product: storetest.Product("P-1")}}, Actor: operator}); err != nil {
			t.Fatal(err)
		}
		if _, err := cat.PublishCatalog(ctx, catalog.PublishRequest{RequestID: "p1", Note: "first", Publisher: operator}); err != nil {
			t.Fatal(err)
		}
		// No actor: the service's own change.
		if _, err := pr.UpsertPriceList(ctx, pricing.UpsertPriceListRequest{RequestID: "l1", AllowMissing: true,
			List: pricing.PriceList{ID: "PL-EUR", DisplayName: "Standard", Currency: "EUR"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r1", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
			Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "P-1", UnitMinor: 1299, Currency: "EUR"}}, Actor: operator}); err != nil {
			t.Fatal(err)
		}
		if err := pr.DeletePriceList(ctx, pricing.DeletePriceListRequest{RequestID: "d1", ID: "PL-EUR", Force: true, Actor: operator}); err != nil {
			t.Fatal(err)
		}

		type summary struct{ Action, Target, Actor, Service string }
		var got []summary
		evs := opseventstest.Read(t, db).Audits
		for _, ev := range evs {
			got = append(got, summary{ev.GetAction(), ev.GetTarget(), ev.GetActor().GetKind() + ":" + ev.GetActor().GetId(), ev.GetService()})
		}
		want := []summary{
			{"products.import", "catalogVersions/draft", "operator:key-ops", "catalog"},
			{"catalog.publish", "catalogVersions/1", "operator:key-ops", "catalog"},
			{"price_list.upsert", "priceLists/PL-EUR", "service:catalog", "catalog"},
			{"prices.import", "priceLists/PL-EUR", "operator:key-ops", "catalog"},
			{"price_list.delete", "priceLists/PL-EUR", "operator:key-ops", "catalog"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("audit events (-want +got):\n%s", diff)
		}
		publish := evs[1]
		if publish.GetBefore() != nil || publish.GetAfter().AsMap()["version"] != float64(1) || publish.GetAfter().AsMap()["note"] != "first" {
			t.Errorf("publish before %v, after %v", publish.GetBefore(), publish.GetAfter())
		}
		if imp := evs[3]; imp.GetBefore().AsMap()["price_count"] != float64(0) || imp.GetAfter().AsMap()["created"] != float64(1) {
			t.Errorf("price import before %v, after %v", imp.GetBefore(), imp.GetAfter())
		}
		if del := evs[4]; del.GetBefore() == nil || del.GetAfter() != nil {
			t.Errorf("price list delete before %v, after %v", del.GetBefore(), del.GetAfter())
		}
		if rows, err := s.Catalog().AuditRecords(ctx, 0, 10); err != nil || len(rows) != len(evs) {
			t.Errorf("%d audit records, %d audit events (%v); want one event per record", len(rows), len(evs), err)
		}
	})
}
