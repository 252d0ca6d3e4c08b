package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/platform/events"
)

// A batch consumer with a short linger, fed a steady stream with gaps
// around the linger, receives every event at its first delivery: no
// message the server sent for a linger pull is dropped by the client (a
// dropped one would come back only after its ack wait, as delivery 2,
// holding up everything after it).
func TestLingerLosesNoMessage(t *testing.T) {
	db := openSQLite(t)
	js := startStream(t)
	var mu sync.Mutex
	redelivered := map[string]uint64{}
	applied := 0
	h := func(_ context.Context, _ *sql.Tx, ev events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		applied++
		if ev.Delivery > 1 {
			redelivered[ev.ID] = ev.Delivery
		}
		return nil
	}
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "linger", AckWait: time.Second}, h, nil,
		events.WithBatch(64), events.WithBatchLinger(2*time.Millisecond))
	runConsumer(t, c)
	const n = 400
	for i := range n {
		publish(t, js, testEvent{ID: fmt.Sprint("e", i), Aggregate: "a", Seq: int64(i + 1), Value: "x"}, "")
		time.Sleep(time.Duration(i%4) * time.Millisecond) // around the linger
	}
	eventually(t, 60*time.Second, "all applied", func() bool { mu.Lock(); defer mu.Unlock(); return applied == n })
	mu.Lock()
	defer mu.Unlock()
	if len(redelivered) > 0 {
		t.Errorf("%d of %d events applied only at a redelivery (dropped by a linger pull): %v", len(redelivered), n, redelivered)
	}
}
