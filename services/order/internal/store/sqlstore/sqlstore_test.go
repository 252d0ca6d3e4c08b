package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents/opseventstest"
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
					s := &checkedStore{Store: sqlstore.New(db, orderpb.Encoder{}), fresh: sqlstore.NewUncached(db, orderpb.Encoder{}), t: t}
					mu.Lock()
					dbs[s] = db
					mu.Unlock()
					return s
				},
				Events: func(t *testing.T, s order.Store, orderID string) []storetest.Event {
					mu.Lock()
					db := dbs[s]
					mu.Unlock()
					evs, err := sqldb.QueryAll(t.Context(), db.SQL(), db.Rebind(
						`SELECT subject, aggregate_seq FROM outbox_events WHERE aggregate_type = 'order' AND aggregate_id = ? ORDER BY aggregate_seq`),
						[]any{orderID}, func(sc sqldb.Scanner) (storetest.Event, error) {
							var e storetest.Event
							err := sc.Scan(&e.Subject, &e.Sequence)
							return e, err
						})
					if err != nil {
						t.Fatal(err)
					}
					return evs
				},
				OpsEvents: func(t *testing.T, s order.Store) []storetest.OpsEvent {
					mu.Lock()
					db := dbs[s]
					mu.Unlock()
					var out []storetest.OpsEvent
					for _, m := range opseventstest.Read(t, db).All {
						switch ev := m.(type) {
						case *opsv1.ExceptionRaisedEvent:
							out = append(out, storetest.OpsEvent{Subject: eventstreams.ExceptionRaised, Key: ev.GetResource(), What: ev.GetKind().String()})
						case *opsv1.AuditRecordedEvent:
							out = append(out, storetest.OpsEvent{Subject: eventstreams.AuditRecorded, Key: ev.GetTarget(), What: ev.GetAction()})
						}
					}
					return out
				},
			})
		})
	}
}

// checkedStore checks every order it reads against the same read through
// a store without the parts cache: the conformance suite then proves that
// the cached parts are what the tables hold, over every change it makes.
type checkedStore struct {
	*sqlstore.Store
	fresh *sqlstore.Store
	t     *testing.T
}

func (c *checkedStore) check(ctx context.Context, got *order.Order) {
	c.t.Helper()
	want, err := c.fresh.GetOrder(ctx, got.ID)
	if err != nil || want.Version != got.Version {
		return // changed meanwhile (a concurrent test step): nothing to compare
	}
	if d := cmp.Diff(want, got); d != "" {
		c.t.Errorf("order %s version %d read with cached parts differs from the tables (-tables +cached):\n%s", got.ID, got.Version, d)
	}
}

func (c *checkedStore) GetOrder(ctx context.Context, id string) (*order.Order, error) {
	o, err := c.Store.GetOrder(ctx, id)
	if err == nil {
		c.check(ctx, o)
	}
	return o, err
}

func (c *checkedStore) ListOrders(ctx context.Context, q order.ListQuery) ([]*order.Order, error) {
	out, err := c.Store.ListOrders(ctx, q)
	for _, o := range out {
		c.check(ctx, o)
	}
	return out, err
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
