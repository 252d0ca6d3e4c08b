package sqlstore_test

import (
	"sync"
	"testing"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
	"github.com/transload/transload/services/order/internal/store/sqlstore"
	"github.com/transload/transload/services/order/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
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
			storetest.Run(t, storetest.Harness{
				New: func(t *testing.T) order.Store {
					db := eng.open(t)
					if err := sqlstore.Migrate(t.Context(), db); err != nil {
						t.Fatal(err)
					}
					s := sqlstore.New(db, orderpb.Event)
					mu.Lock()
					dbs[s] = db
					mu.Unlock()
					return s
				},
				Events: func(t *testing.T, s order.Store, orderID string) []storetest.Event {
					mu.Lock()
					db := dbs[s]
					mu.Unlock()
					rows, err := db.SQL().QueryContext(t.Context(), db.Rebind(
						`SELECT subject, aggregate_seq FROM outbox_events WHERE aggregate_type = 'order' AND aggregate_id = ? ORDER BY aggregate_seq`), orderID)
					if err != nil {
						t.Fatal(err)
					}
					defer rows.Close()
					var out []storetest.Event
					for rows.Next() {
						var e storetest.Event
						if err := rows.Scan(&e.Subject, &e.Sequence); err != nil {
							t.Fatal(err)
						}
						out = append(out, e)
					}
					if err := rows.Err(); err != nil {
						t.Fatal(err)
					}
					return out
				},
			})
		})
	}
}

// TestMigrateTwice checks that migrations are idempotent on restart.
func TestMigrateTwice(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		for range 2 {
			if err := sqlstore.Migrate(t.Context(), db); err != nil {
				t.Fatal(err)
			}
		}
	})
}
