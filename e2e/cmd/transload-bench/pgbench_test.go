package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRawOrderTxOnPostgres runs the -postgres baseline's transaction on a
// real PostgreSQL: the schema must create there (BYTEA payload) and the
// "?" placeholders must be rebound, or the baseline measures errors.
func TestRawOrderTxOnPostgres(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := createRawSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for n := range 8 {
		wg.Go(func() { errs <- rawOrderTx(ctx, db, int64(n)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for table, want := range map[string]int{"orders": 8, "order_lines": 24, "reservations": 24, "outbox": 8} {
		var got int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s holds %d rows, want %d", table, got, want)
		}
	}
}

// TestRenderPostgres checks the ratios against the raw transaction at the
// same concurrency and the c=64 collapse verdict.
func TestRenderPostgres(t *testing.T) {
	rs := []result{
		{Name: pgRawName, Concurrency: 16, RPS: 1000, P99: 10 * time.Millisecond},
		{Name: pgRawName, Concurrency: 64, RPS: 2000, P99: 20 * time.Millisecond},
		{Name: pgOrderName, Concurrency: 16, RPS: 100, P99: 50 * time.Millisecond},
		{Name: pgOrderName, Concurrency: 64, RPS: 70, P99: 200 * time.Millisecond},
		{Name: pgAvailName, Concurrency: 16, RPS: 700, P99: 5 * time.Millisecond},
	}
	text := renderPostgres(pgReport{Results: rs, LoadBefore: "19.5", LoadAfter: "21.0"}, 2)
	for _, want := range []string{
		"load average 19.5 when it began and 21.0 when it ended",
		"| 0.10× | 5.0× |", // pd c=16 against p c=16
		"| 0.04× | 10.0× |",
		pgOrderName + ": c=64 holds 0.70× of the best concurrency (c=16, 100 req/s): MISS",
		pgRawName + ": c=64 holds 1.00× of the best concurrency (c=64, 2000 req/s): PASS",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "a single NATS node and one replica of each service") {
		t.Errorf("the single-node run does not say its topology:\n%s", text)
	}
	if scale := renderPostgres(pgReport{Results: rs, Scale: true}, 2); !strings.Contains(scale, "two replicas of catalog-pricing, inventory, order, fulfillment and the gateway") || !strings.Contains(scale, "make bench-postgres-scale") {
		t.Errorf("the -scale run does not say its topology:\n%s", scale)
	}
	// Availability writes nothing durable: no ratio against the raw tx.
	if !strings.Contains(text, "| 700 | 0 µs | 5.00 ms |  |  |  |") {
		t.Errorf("availability row has a ratio or another shape:\n%s", text)
	}
}
