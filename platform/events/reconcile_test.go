package events_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

// TestEventsTheReconcilerRepublishesApplyOnce: a consumer applied two
// outbox events, then the stream was purged; the outbox reconciler finds
// both missing and republishes them, and the consumer skips them by event
// id: each is applied once, the republishes count as duplicates.
func TestEventsTheReconcilerRepublishesApplyOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := outbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		js := startStream(t)
		for i := 1; i <= 2; i++ {
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := outbox.Write(ctx, tx, db.Dialect(), outbox.Event{AggregateType: "thing", AggregateID: "a",
					Subject: testSubject, Payload: wrapperspb.String(fmt.Sprint(i))})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		relay, err := outbox.NewRelay(db, js, outbox.WithLogger(discard()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		const name = "reconciled"
		runConsumer(t, newConsumer(t, db, js, events.ConsumerConfig{Name: name}, recordingHandler(db.Dialect(), name, nil), reg))
		eventually(t, 10*time.Second, "both events applied", func() bool { return len(readApplied(t, db, name)) == 2 })

		s, err := js.Stream(ctx, testStream)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		rec, err := outbox.NewReconciler(db, js, outbox.ReconcileConfig{Service: "test", Lookback: time.Hour}, nil, discard(), nil)
		if err != nil {
			t.Fatal(err)
		}
		losses, err := rec.Pass(ctx)
		if err != nil || len(losses) != 1 || len(losses[0].Events) != 2 {
			t.Fatalf("pass = %+v, %v; want the 2 purged events", losses, err)
		}
		eventually(t, 10*time.Second, "both republished events skipped", func() bool { return outcome(t, reg, name, "duplicate") == 2 })
		if got := values(readApplied(t, db, name)); got != "a#1=1,a#2=2" {
			t.Errorf("applied %s, want a#1=1,a#2=2 once each", got)
		}
	})
}
