package sqlstore_test

import (
	"sync"
	"testing"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
	"github.com/transload/transload/services/order/internal/store/sqlstore"
	"github.com/transload/transload/services/order/internal/store/storetest"
)

// TestReturnStore runs the return conformance suite on SQLite and
// PostgreSQL.
func TestReturnStore(t *testing.T) {
	for _, eng := range []struct {
		name string
		open func(testing.TB, ...sqldb.Option) *sqldb.DB
	}{
		{"sqlite", sqldbtest.OpenSQLite},
		{"postgres", sqldbtest.OpenPostgres},
	} {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			dbs := map[order.Store]*sqldb.DB{}
			storetest.RunReturns(t, storetest.ReturnHarness{
				Harness: storetest.Harness{New: func(t *testing.T) order.Store {
					db := eng.open(t)
					if err := sqlstore.Migrate(t.Context(), db); err != nil {
						t.Fatal(err)
					}
					s := sqlstore.New(db, orderpb.Encoder{})
					mu.Lock()
					dbs[s] = db
					mu.Unlock()
					return s
				}},
				ReturnEvents: func(t *testing.T, s order.Store, returnID string) []storetest.Event {
					mu.Lock()
					db := dbs[s]
					mu.Unlock()
					evs, err := sqldb.QueryAll(t.Context(), db.SQL(), db.Rebind(
						`SELECT subject, aggregate_seq FROM outbox_events WHERE aggregate_type = ? AND aggregate_id = ? ORDER BY aggregate_seq`),
						[]any{orderpb.ReturnAggregateType, returnID}, func(sc sqldb.Scanner) (storetest.Event, error) {
							var e storetest.Event
							err := sc.Scan(&e.Subject, &e.Sequence)
							return e, err
						})
					if err != nil {
						t.Fatal(err)
					}
					return evs
				},
			})
		})
	}
}
