package deliver_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/notify/internal/deliver"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

// 40 deliveries of 20 orders (two changes each): attempted in batches of
// heads, one commit per batch instead of one per delivery (counted), each
// order's changes in order, each delivered once; an attempt that fails
// inside a batch ends it and is retried before its order's next change.
func TestBatchRecordsOneCommitPerBatch(t *testing.T) {
	failed := false
	s, rcv, d := setup(t, func(n int) int {
		if n == 5 && !failed {
			failed = true
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}, deliver.Config{Batch: 16})
	const orders = 20
	now := time.Now()
	keyOf := map[string]string{}
	if err := s.InTx(t.Context(), func(_ *sql.Tx, tx *sqlstore.Tx) error {
		for change := range 2 {
			for o := range orders {
				id := fmt.Sprintf("o%02d-c%d", o, change)
				key := fmt.Sprintf("orders/%02d", o)
				keyOf[id] = key
				if _, err := tx.Enqueue(t.Context(), &sqlstore.Delivery{ID: id, SubscriptionID: "s1", EventID: id, EventType: 1,
					Resource: key, OrderingKey: key, Body: []byte(`{}`), EventTime: now, CreateTime: now, NextAttempt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c0, _ := s.DB().CommitStats()
	d.Wake()
	wait.Eventually(t, 20*time.Second, "40 delivered", func() error {
		return wait.Check(len(rcv.acked()) == 2*orders, "%d acknowledged", len(rcv.acked()))
	})
	wait.Eventually(t, 5*time.Second, "recorded", func() error {
		counts, err := s.PendingCounts(t.Context())
		if err != nil {
			return err
		}
		return wait.Check(counts["s1"] == 0, "%d pending", counts["s1"])
	})
	c1, _ := s.DB().CommitStats()
	seen := map[string]bool{}
	last := map[string]string{}
	for _, id := range rcv.acked() {
		if seen[id] {
			t.Errorf("%s delivered twice", id)
		}
		seen[id] = true
		if prev := last[keyOf[id]]; prev > id {
			t.Errorf("%s delivered after %s of the same order", id, prev)
		}
		last[keyOf[id]] = id
	}
	// 16 + 4 heads, then the 20 second changes (16 + 4), plus the batch
	// the failure cut and its retry: about 6 commits, against 40 without
	// batching.
	if n := c1 - c0; n > 12 {
		t.Errorf("%d commits to record 40 deliveries, want at most 12 (batches of 16)", n)
	}
	if rcv.hits() != 2*orders+1 {
		t.Errorf("%d attempts, want %d (one retry)", rcv.hits(), 2*orders+1)
	}
}
