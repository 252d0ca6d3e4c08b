package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
)

// TestHandlerOutlivingAckWaitAppliesOnce runs two replicas of one durable
// consumer with an ack wait of 300ms over handlers that take 1.2s. The
// server would redeliver each event to the idle replica while the first
// is still working; the consumer keeps telling the server it is in
// progress, so no event is redelivered, none is dead-lettered
// (MaxDeliver 2 would do it on the second delivery otherwise), and
// each is applied once, on both engines and in batches too.
func TestHandlerOutlivingAckWaitAppliesOnce(t *testing.T) {
	for _, batch := range []int{1, 4} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
				_, js := natstest.Connect(t, natstest.Start(t))
				ensureStream(t, js)
				const name = "slowpoke"
				var calls atomic.Int64
				record := recordingHandler(db.Dialect(), name, nil)
				slow := func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
					calls.Add(1)
					select {
					case <-time.After(1200 * time.Millisecond):
					case <-ctx.Done():
						return ctx.Err()
					}
					return record(ctx, tx, ev)
				}
				reg := prometheus.NewRegistry()
				cfg := events.ConsumerConfig{Name: name, AckWait: 300 * time.Millisecond, MaxDeliver: 2,
					Backoff: []time.Duration{10 * time.Millisecond}}
				var opts []events.ConsumerOption
				if batch > 1 {
					opts = append(opts, events.WithBatch(batch))
				}
				for range 2 {
					runConsumer(t, newConsumer(t, db, js, cfg, slow, reg, opts...))
				}
				for i := 1; i <= 2; i++ {
					publish(t, js, testEvent{ID: fmt.Sprintf("slow-%d", i), Aggregate: "s", Seq: int64(i), Value: fmt.Sprint(i)}, "")
				}
				eventually(t, 20*time.Second, "both events applied", func() bool {
					return len(readApplied(t, db, name)) >= 2
				})
				// Leave time for a redelivery the ack wait would have caused.
				time.Sleep(time.Second)
				if got := values(readApplied(t, db, name)); got != "s#1=1,s#2=2" {
					t.Errorf("applied %s, want s#1=1,s#2=2 once each", got)
				}
				if n := outcome(t, reg, name, "duplicate"); n != 0 {
					t.Errorf("%v duplicate deliveries: the server redelivered events still being handled", n)
				}
				if n := outcome(t, reg, name, "dead_lettered"); n != 0 {
					t.Errorf("%v events dead-lettered", n)
				}
				if n := calls.Load(); n != 2 {
					t.Errorf("handler ran %d times for 2 events", n)
				}
			})
		})
	}
}
