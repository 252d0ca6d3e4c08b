package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
)

// TestRelayMarksInFewTransactions: a relay keeping up with a steady
// trickle of events (one every 10ms for a second, each waking it) marks
// them published in a handful of transactions with the default mark
// interval, not one every few events (about 20 at the former 50ms), and
// every event is published and marked by the time Run returns.
func TestRelayMarksInFewTransactions(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	relay, err := outbox.NewRelay(db, js, outbox.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	const n = 100
	_, txs0 := db.CommitStats()
	for i := range n {
		if _, err := writeEvent(ctx, db, fmt.Sprint("agg-", i%7), fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
		relay.Notify()
		time.Sleep(10 * time.Millisecond)
	}
	eventually(t, 10*time.Second, "every event published", func() (bool, error) {
		return len(readStream(t, js)) == n, nil
	})
	eventually(t, 10*time.Second, "every event marked", func() (bool, error) {
		return unpublishedCount(t, db) == 0, nil
	})
	_, txs1 := db.CommitStats()
	marks := int(txs1-txs0) - n
	t.Logf("%d events over %v marked in %d transactions", n, n*10*time.Millisecond, marks)
	// 1s of events at one mark per 500ms, plus the one the wait ends
	// with; slack for a slow machine.
	if marks > 6 {
		t.Errorf("%d mark transactions for %d events over a second, want at most 6", marks, n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
