package outbox_test

import (
	"fmt"
	"testing"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
)

// TestRelayRoundStatements counts the statements of a relay round on
// SQLite: reading the batch, marking every published row in one
// statement (in its own transaction) and reading the lag, the same for
// 10 rows as for 1000.
func TestRelayRoundStatements(t *testing.T) {
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	counts := map[int]uint64{}
	for _, rows := range []int{10, 1000} {
		db := openSQLite(t)
		for i := range rows {
			if _, err := writeEvent(t.Context(), db, fmt.Sprintf("agg-%d", i%50), "v"); err != nil {
				t.Fatal(err)
			}
		}
		relay, err := outbox.NewRelay(db, js, outbox.WithLogger(discardLogger()), outbox.WithBatchSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		p0, r0 := db.StatementStats()
		if n, err := relay.RunOnce(t.Context()); err != nil || n != rows {
			t.Fatalf("RunOnce = %d, %v; want %d rows", n, err, rows)
		}
		p1, r1 := db.StatementStats()
		counts[rows] = p1 + r1 - p0 - r0
		if n := unpublishedCount(t, db); n != 0 {
			t.Fatalf("%d rows unpublished after the round", n)
		}
	}
	t.Logf("statements per round: %v", counts)
	if counts[10] != counts[1000] || counts[10] > 5 {
		t.Errorf("a round ran %d statements for 10 rows and %d for 1000; want the same few", counts[10], counts[1000])
	}
}
