package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/ops/internal/desk"
	"github.com/transload/transload/services/ops/internal/store/sqlstore"
	"github.com/transload/transload/services/ops/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func migrated(t *testing.T, db *sqldb.DB) *sqlstore.Store {
	t.Helper()
	for range 2 { // migrating again is a no-op
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
	}
	return sqlstore.New(db)
}

func harness(t *testing.T, db *sqldb.DB) storetest.Harness {
	return storetest.Harness{
		Store: migrated(t, db),
		Exec: func(ctx context.Context, query string, args ...any) error {
			_, err := db.SQL().ExecContext(ctx, db.Rebind(query), args...)
			return err
		},
	}
}

func TestStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) storetest.Harness { return harness(t, sqldbtest.OpenSQLite(t)) })
	})
	t.Run("postgres", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) storetest.Harness { return harness(t, sqldbtest.OpenPostgres(t)) })
	})
}

// TestStats checks the counts the KPI computation reads: open exceptions
// by domain, pending dead letters by consumer.
func TestStats(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := migrated(t, db)
		ctx := t.Context()
		t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		storetest.InTx(t, s, func(tx desk.Tx) error {
			for i, st := range []desk.State{desk.StateOpen, desk.StateAcknowledged, desk.StateResolved} {
				e := storetest.Exception(string(rune('a'+i)), desk.KindERPRejection, "orders/O-"+string(rune('a'+i)), t0)
				e.State = st
				if err := tx.InsertException(ctx, e); err != nil {
					return err
				}
			}
			e := storetest.Exception("f", desk.KindWMSRejection, "fulfillmentRequests/1", t0)
			e.Domain = desk.DomainFulfillment
			if err := tx.InsertException(ctx, e); err != nil {
				return err
			}
			for seq := uint64(1); seq <= 3; seq++ {
				d := storetest.DeadLetter(seq, "fulfillment-order-confirmed", t0)
				if seq == 3 {
					d.Consumer, d.State = "ops_desk", desk.DeadLetterReplayed
				}
				if _, err := tx.InsertDeadLetter(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		open, err := s.OpenExceptions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[opsv1.Exception_Domain]int64{opsv1.Exception_DOMAIN_ERP: 2, opsv1.Exception_DOMAIN_FULFILLMENT: 1}, open); diff != "" {
			t.Errorf("OpenExceptions (-want +got):\n%s", diff)
		}
		bySeverity, err := s.OpenExceptionsBySeverity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[opsv1.Exception_Severity]int64{opsv1.Exception_SEVERITY_MEDIUM: 3}, bySeverity); diff != "" {
			t.Errorf("OpenExceptionsBySeverity (-want +got):\n%s", diff)
		}
		pending, err := s.PendingDeadLetters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int64{"fulfillment-order-confirmed": 2}, pending); diff != "" {
			t.Errorf("PendingDeadLetters (-want +got):\n%s", diff)
		}
	})
}
