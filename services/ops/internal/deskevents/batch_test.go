package deskevents_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/ops/internal/desk"
	"github.com/transload/transload/services/ops/internal/deskevents"
	"github.com/transload/transload/services/ops/internal/opstest"
	"github.com/transload/transload/services/ops/internal/store/sqlstore"
)

// auditCommits runs an audit consumer named name on a fresh database
// until it recorded n audit records, and returns the commits it took.
func auditCommits(t *testing.T, js jetstream.JetStream, name string, n int, opts ...events.ConsumerOption) uint64 {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	store := sqlstore.New(db)
	d := desk.New(store, deskevents.NewReplayer(js, ""))
	cfg := deskevents.AuditConfig()
	cfg.Name = name
	c0, _ := db.CommitStats()
	c, err := events.NewConsumer(db, js, cfg, deskevents.AuditHandler(d, store.Bind), append(append(opts, deskevents.AuditOptions()...),
		events.WithFetchWait(200*time.Millisecond), events.WithConsumerLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	wait.Eventually(t, 30*time.Second, name+": all audit records", func() error {
		got, err := store.ListAuditRecords(t.Context(), desk.AuditQuery{Limit: n + 1})
		if err != nil {
			return err
		}
		return wait.Check(len(got) == n, "%d records", len(got))
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c1, _ := db.CommitStats()
	return c1 - c0
}

// The audit consumer of the ops service, which sees one event per order
// change, commits once per batch (deskevents.ConsumerBatch) instead of
// once per event.
func TestAuditConsumerCommitsPerBatch(t *testing.T) {
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv)
	inventory := opstest.NewProducer(t, js, "inventory")
	const n = 100
	for i := range n {
		inventory.Record(t, opsevents.Audit{Actor: opsevents.Service("inventory"), Action: "reservation.expire",
			Target: fmt.Sprintf("reservations/R-%d", i)})
	}
	single := auditCommits(t, js, "audit_single", n)
	batched := auditCommits(t, js, "audit_batched", n, events.WithBatch(deskevents.ConsumerBatch))
	t.Logf("commits per audit event: %.2f one at a time (%d), %.2f batched (%d)",
		float64(single)/n, single, float64(batched)/n, batched)
	if single < n {
		t.Errorf("one at a time: %d commits for %d events (the baseline moved)", single, n)
	}
	// A backlog of 100 is two batches of at most 64.
	if batched > 4 {
		t.Errorf("batched: %d commits for %d events, want about %d", batched, n, (n+deskevents.ConsumerBatch-1)/deskevents.ConsumerBatch)
	}
}
