package deliver_test

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/notify/internal/deliver"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

// Finished deliveries older than the retention go, with their attempts,
// a small batch per transaction; pending ones and recent ones stay.
func TestRetentionPrunesFinishedDeliveries(t *testing.T) {
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	now := time.Now()
	if _, _, err := s.CreateSubscription(ctx, &sqlstore.Subscription{ID: "s1", Channel: "web", TargetURI: "https://x.example/",
		EventTypes: 2, Secret: "whsec_AAAA", State: sqlstore.SubActive, CreateTime: now}); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-31 * 24 * time.Hour)
	type row struct {
		id      string
		created time.Time
		outcome *sqlstore.Outcome // nil: pending
	}
	delivered := &sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: old, StatusCode: 200}, Delivered: true}
	failed := &sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: old, StatusCode: 410}, GiveUp: true}
	retried := &sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: old, StatusCode: 503}, RetryAt: now}
	rows := []row{
		{"old-delivered-1", old, delivered}, {"old-delivered-2", old.Add(time.Second), delivered},
		{"old-failed", old.Add(2 * time.Second), failed}, {"old-pending", old, retried},
		{"recent-delivered", now.Add(-time.Hour), delivered},
	}
	if err := s.InTx(ctx, func(_ *sql.Tx, tx *sqlstore.Tx) error {
		for _, r := range rows {
			d := &sqlstore.Delivery{ID: r.id, SubscriptionID: "s1", EventID: r.id, EventType: 1, Resource: "orders/1",
				OrderingKey: "orders/" + r.id, Body: []byte(`{}`), EventTime: r.created, CreateTime: r.created, NextAttempt: r.created}
			if _, err := tx.Enqueue(ctx, d); err != nil {
				return err
			}
			if _, err := tx.RecordAttempt(ctx, d, *r.outcome); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c0, _ := db.CommitStats()
	ret := &deliver.Retention{Store: s, Keep: 30 * 24 * time.Hour, PruneBatch: 2, Now: func() time.Time { return now }}
	n, err := ret.Pass(ctx)
	if err != nil || n != 3 {
		t.Fatalf("pass pruned %d (%v), want 3", n, err)
	}
	if c1, _ := db.CommitStats(); c1-c0 != 2 {
		t.Errorf("%d transactions for 3 deliveries in batches of 2, want 2", c1-c0)
	}
	for _, r := range rows {
		_, err := s.GetDelivery(ctx, r.id)
		gone := errors.Is(err, sqlstore.ErrNotFound)
		if want := r.created.Before(now.Add(-ret.Keep)) && r.outcome != retried; gone != want {
			t.Errorf("%s: gone = %v (%v), want %v", r.id, gone, err, want)
		}
	}
	var attempts int
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_attempts`).Scan(&attempts); err != nil || attempts != 2 {
		t.Errorf("%d attempts left (%v), want 2 (the kept deliveries')", attempts, err)
	}
	if n, err := ret.Pass(ctx); err != nil || n != 0 {
		t.Errorf("second pass pruned %d (%v), want 0", n, err)
	}
}
