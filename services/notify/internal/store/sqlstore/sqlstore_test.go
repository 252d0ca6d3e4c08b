package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func migrated(t *testing.T, db *sqldb.DB) *sqlstore.Store {
	t.Helper()
	for range 2 {
		if err := sqlstore.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
	}
	return sqlstore.New(db)
}

func sub(id, channel, customer string) *sqlstore.Subscription {
	return &sqlstore.Subscription{ID: id, Channel: channel, CustomerID: customer, TargetURI: "https://x.example/" + id,
		EventTypes: 1<<1 | 1<<2, Secret: "whsec_AAAA", State: sqlstore.SubActive, CreateTime: t0}
}

func enqueue(t *testing.T, s *sqlstore.Store, subID, eventID, key string) bool {
	t.Helper()
	var ok bool
	err := s.InTx(t.Context(), func(_ *sql.Tx, tx *sqlstore.Tx) error {
		var err error
		ok, err = tx.Enqueue(t.Context(), &sqlstore.Delivery{ID: "msg_" + subID + eventID, SubscriptionID: subID, EventID: eventID,
			EventType: 1, Resource: key, OrderingKey: key, Body: []byte(`{"e":"` + eventID + `"}`), EventTime: t0, CreateTime: t0, NextAttempt: t0})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func record(t *testing.T, s *sqlstore.Store, d *sqlstore.Delivery, o sqlstore.Outcome) sqlstore.AttemptResult {
	t.Helper()
	var r sqlstore.AttemptResult
	if err := s.InTx(t.Context(), func(_ *sql.Tx, tx *sqlstore.Tx) error {
		var err error
		r, err = tx.RecordAttempt(t.Context(), d, o)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

func next(t *testing.T, s *sqlstore.Store, subID string, now time.Time) (string, bool) {
	t.Helper()
	d, due, err := s.Next(t.Context(), subID, now)
	if err != nil {
		t.Fatal(err)
	}
	if d == nil {
		return "", false
	}
	return d.EventID, due
}

func TestStore(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := migrated(t, db)
		ctx := t.Context()

		t.Run("subscriptions", func(t *testing.T) {
			a := sub("a", "web", "")
			a.RequestID, a.RequestHash = "r1", "h1"
			if _, created, err := s.CreateSubscription(ctx, a); err != nil || !created {
				t.Fatalf("create: %v %v", created, err)
			}
			again := sub("a2", "web", "")
			again.RequestID, again.RequestHash = "r1", "h1"
			got, created, err := s.CreateSubscription(ctx, again)
			if err != nil || created || got.ID != "a" {
				t.Fatalf("replayed create = %v %v %v, want the original", got, created, err)
			}
			again.RequestHash = "h2"
			if _, _, err := s.CreateSubscription(ctx, again); !errors.Is(err, sqlstore.ErrRequestReused) {
				t.Fatalf("reused request id: %v", err)
			}
			for _, x := range []*sqlstore.Subscription{sub("b", "web", "C1"), sub("c", "web", "C2"), sub("d", "shop", "")} {
				if _, _, err := s.CreateSubscription(ctx, x); err != nil {
					t.Fatal(err)
				}
			}
			ids := func(subs []*sqlstore.Subscription) (out []string) {
				for _, x := range subs {
					out = append(out, x.ID)
				}
				return out
			}
			all, err := s.ListSubscriptions(ctx, "web", "", time.Time{}, "", 10)
			if err != nil || fmt.Sprint(ids(all)) != "[a b c]" {
				t.Fatalf("channel list = %v %v", ids(all), err)
			}
			page, _ := s.ListSubscriptions(ctx, "web", "", t0, "a", 1)
			if fmt.Sprint(ids(page)) != "[b]" {
				t.Fatalf("page after a = %v", ids(page))
			}
			mine, _ := s.ListSubscriptions(ctx, "web", "C1", time.Time{}, "", 10)
			if fmt.Sprint(ids(mine)) != "[b]" {
				t.Fatalf("customer list = %v", ids(mine))
			}
			// Matching: a channel event for C2 reaches a (channel-wide) and c.
			var m []*sqlstore.Subscription
			_ = s.InTx(ctx, func(_ *sql.Tx, tx *sqlstore.Tx) error {
				m, err = tx.Matching(ctx, "web", "C2", 1)
				return err
			})
			if fmt.Sprint(ids(m)) != "[a c]" {
				t.Fatalf("matching = %v", ids(m))
			}
			_ = s.InTx(ctx, func(_ *sql.Tx, tx *sqlstore.Tx) error {
				m, err = tx.Matching(ctx, "web", "C2", 3) // not subscribed to returns
				return err
			})
			if len(m) != 0 {
				t.Fatalf("matching an unsubscribed type = %v", ids(m))
			}
			if err := s.RotateSecret(ctx, "a", "whsec_BBBB", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if g, _ := s.GetSubscription(ctx, "a"); g.Secret != "whsec_BBBB" || g.OldSecret != "whsec_AAAA" || !g.OldUntil.Equal(t0.Add(time.Hour)) {
				t.Fatalf("rotated = %+v", g)
			}
		})

		t.Run("queue", func(t *testing.T) {
			if _, _, err := s.CreateSubscription(ctx, sub("q", "web", "")); err != nil {
				t.Fatal(err)
			}
			if !enqueue(t, s, "q", "e1", "orders/1") || !enqueue(t, s, "q", "e2", "orders/1") || !enqueue(t, s, "q", "e3", "orders/2") {
				t.Fatal("enqueue failed")
			}
			if enqueue(t, s, "q", "e1", "orders/1") {
				t.Fatal("the same event was queued twice")
			}
			d1, _, _ := s.Next(ctx, "q", t0)
			// e1 fails and is retried in a minute: e2 (same order) waits, e3 goes.
			r := record(t, s, d1, sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: t0, StatusCode: 503, Latency: time.Millisecond},
				RetryAt: t0.Add(time.Minute), CountsAsFailure: true})
			if r.Failures != 1 {
				t.Fatalf("failures = %d", r.Failures)
			}
			if id, due := next(t, s, "q", t0); id != "e3" || !due {
				t.Fatalf("next = %s %v, want e3 due (e2 waits behind e1)", id, due)
			}
			d3, _, _ := s.Next(ctx, "q", t0)
			record(t, s, d3, sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: t0, StatusCode: 200}, Delivered: true})
			if id, due := next(t, s, "q", t0); id != "e1" || due {
				t.Fatalf("next = %s %v, want e1 not yet due", id, due)
			}
			if id, due := next(t, s, "q", t0.Add(time.Minute)); id != "e1" || !due {
				t.Fatalf("next = %s %v, want e1 due", id, due)
			}
			d1, _, _ = s.Next(ctx, "q", t0.Add(time.Minute))
			record(t, s, d1, sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: t0.Add(time.Minute), StatusCode: 410}, GiveUp: true, CountsAsFailure: true})
			if id, _ := next(t, s, "q", t0.Add(time.Minute)); id != "e2" {
				t.Fatalf("after e1 given up next = %s, want e2", id)
			}
			if pc, _ := s.PendingCounts(ctx); pc["q"] != 1 {
				t.Fatalf("pending = %v", pc)
			}
			// Redeliver e1: it goes after e2.
			if err := s.Redeliver(ctx, d1.ID, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if id, _ := next(t, s, "q", t0.Add(time.Minute)); id != "e2" {
				t.Fatalf("after redeliver next = %s, want e2 first", id)
			}
			log, err := s.ListDeliveries(ctx, "q", 0, 2)
			if err != nil || len(log) != 2 || log[0].EventID != "e1" || len(log[0].AttemptLog) != 2 || log[0].AttemptLog[1].StatusCode != 410 {
				t.Fatalf("log = %+v %v", log, err)
			}
			older, _ := s.ListDeliveries(ctx, "q", log[1].Position, 10)
			if log[1].EventID != "e3" || len(older) != 1 || older[0].EventID != "e2" {
				t.Fatalf("second page = %+v", older)
			}
			// Disable, then enable makes postponed deliveries due now.
			var disabled bool
			_ = s.InTx(ctx, func(_ *sql.Tx, tx *sqlstore.Tx) error {
				if err := tx.Postpone(ctx, older[0].ID, t0.Add(time.Hour)); err != nil {
					return err
				}
				disabled, err = tx.Disable(ctx, "q", "down")
				return err
			})
			if !disabled {
				t.Fatal("not disabled")
			}
			if id, due := next(t, s, "q", t0.Add(2*time.Minute)); id != "e2" || due {
				t.Fatalf("postponed next = %s %v, want e2 not due", id, due)
			}
			act, _ := s.ActiveSubscriptions(ctx)
			for _, a := range act {
				if a.ID == "q" {
					t.Fatal("disabled subscription listed as active")
				}
			}
			if err := s.Enable(ctx, "q", t0.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if id, due := next(t, s, "q", t0.Add(2*time.Minute)); id != "e2" || !due {
				t.Fatalf("after enable next = %s %v, want e2 due", id, due)
			}
			if err := s.DeleteSubscription(ctx, "q"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetDelivery(ctx, d1.ID); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("delivery after delete: %v", err)
			}
			if err := s.DeleteSubscription(ctx, "q"); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
		})
	})
}
