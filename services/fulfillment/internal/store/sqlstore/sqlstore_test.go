package sqlstore_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox/outboxtest"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
	"github.com/transload/transload/services/fulfillment/internal/store/storetest"
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

func TestStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) fulfillment.Store { return migrated(t, sqldbtest.OpenSQLite(t)) })
	})
	t.Run("postgres", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) fulfillment.Store { return migrated(t, sqldbtest.OpenPostgres(t)) })
	})
}

// TestEventsGoToTheOutbox checks what storetest cannot see: the events a
// transaction writes are outbox rows once it commits, and only then, each
// with the exception or audit record it carries.
func TestEventsGoToTheOutbox(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := migrated(t, db)
		t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		r := storetest.Request("O-1", "WH-HAM", t0)
		storetest.Insert(t, s, r)
		failed := fulfillment.Event{Type: fulfillment.EventRequestFailed, Request: r, OccurTime: t0}
		retried := fulfillment.Event{Type: fulfillment.EventRequestRetried, Request: r, PreviousRequest: r, OccurTime: t0,
			Actor: fulfillment.Actor{Kind: "operator", ID: "key-1"}}
		_ = s.InTx(t.Context(), func(tx fulfillment.Tx) error {
			for _, ev := range []fulfillment.Event{failed, retried} {
				if err := tx.WriteEvent(t.Context(), ev); err != nil {
					t.Fatal(err)
				}
			}
			return fulfillment.ErrConflict // roll back
		})
		if rows := outboxtest.Read(t, db); len(rows) != 0 {
			t.Fatalf("outbox after a rollback: %+v", rows)
		}
		storetest.InTx(t, s, func(tx fulfillment.Tx) error { return tx.WriteEvent(t.Context(), failed) })
		storetest.InTx(t, s, func(tx fulfillment.Tx) error { return tx.WriteEvent(t.Context(), retried) })
		var got []string
		for _, row := range outboxtest.Read(t, db) {
			got = append(got, row.Subject+" "+row.AggregateType+"/"+row.AggregateID)
		}
		want := []string{
			eventstreams.FulfillmentRequestFailed + " fulfillment_request/" + r.ID,
			eventstreams.ExceptionRaised + " ops_exception/fulfillmentRequests/" + r.ID,
			eventstreams.AuditRecorded + " audit/orders/O-1/fulfillmentRequests/" + r.ID,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("outbox (-want +got):\n%s", diff)
		}
	})
}

// TestUnreadableEffect: a queued call the store cannot read back (a kind
// or payload this version does not know) comes back marked Unreadable for
// the runner to park, without failing the read of the queue.
func TestUnreadableEffect(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := migrated(t, db)
		t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		good := fulfillment.ProgressEffect(fulfillment.Progress{OrderID: "O-1", EventID: "ev-1", OccurTime: t0,
			Lines: []fulfillment.ShipmentLine{}}, t0)
		storetest.InTx(t, s, func(tx fulfillment.Tx) error {
			_, err := tx.EnqueueEffect(t.Context(), good)
			return err
		})
		for _, row := range [][]any{{"carrier.book", "k1"}, {string(fulfillment.EffectCommitReservation), "k2"}} {
			_, err := db.SQL().ExecContext(t.Context(), db.Rebind(`
				INSERT INTO pending_effects (kind, effect_key, order_id, payload, state, attempts, last_error, next_attempt_us, create_us)
				VALUES (?, ?, 'O-1', ?, 'PENDING', 0, '', 0, 0)`), row[0], row[1], []byte{0xff, 0xff})
			if err != nil {
				t.Fatal(err)
			}
		}
		effs, err := s.PendingEffects(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(effs) != 3 || effs[0].Unreadable != nil || effs[0].Progress == nil || effs[1].Unreadable == nil || effs[2].Unreadable == nil {
			t.Fatalf("effects = %+v", effs)
		}
	})
}
