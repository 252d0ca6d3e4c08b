package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/testharness/natstest"
)

// BenchmarkConsumerSteady feeds a batch consumer a steady stream (one
// event every 2 ms from another connection, as a relay would) and reports,
// per event, the messages the consumer's own connection exchanged with the
// server (pull requests, acknowledgements, consumer-info requests and
// their answers, the events themselves: the server's work for the
// consumer) and the CPU of the process (consumer, embedded NATS server and
// SQLite). "filtered" rejects every event in the filter, as notify does
// when nobody subscribed.
func BenchmarkConsumerSteady(b *testing.B) {
	for _, tc := range []struct {
		name     string
		linger   time.Duration
		filtered bool
	}{
		{"linger=5ms/filtered", 5 * time.Millisecond, true},
		{"linger=20ms/filtered", 20 * time.Millisecond, true},
		{"linger=20ms/applied", 20 * time.Millisecond, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			db := openSQLite(b)
			s := natstest.Start(b)
			_, pubJS := natstest.Connect(b, s)
			ensureStream(b, pubJS)
			nc, js := natstest.Connect(b, s)
			opts := []events.ConsumerOption{events.WithBatchLinger(tc.linger)}
			if tc.filtered {
				opts = append(opts, events.WithFilter(func(context.Context, events.Event) (bool, error) { return false, nil }))
			}
			c := newConsumer(b, db, js, events.ConsumerConfig{Name: "steady"}, recordingHandler(db.Dialect(), "steady", nil), nil,
				append([]events.ConsumerOption{events.WithBatch(64)}, opts...)...)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			// Warm up: the consumer exists and took one event.
			publish(b, pubJS, testEvent{ID: "warm", Aggregate: "w", Seq: 1, Value: "0"}, "")
			// Polled from the publisher's connection, so the consumer's
			// counts are its own.
			var cons jetstream.Consumer
			eventually(b, 10*time.Second, "consumer created", func() bool {
				var err error
				cons, err = pubJS.Consumer(context.Background(), testStream, "steady")
				return err == nil
			})
			eventually(b, 10*time.Second, "warm-up acknowledged", func() bool {
				info, err := cons.Info(context.Background())
				return err == nil && info.AckFloor.Stream >= 1
			})
			st0 := nc.Stats()
			cpu0 := processCPU(b)
			b.ResetTimer()
			tick := time.NewTicker(2 * time.Millisecond)
			for i := 1; i <= b.N; i++ {
				<-tick.C
				publish(b, pubJS, testEvent{ID: fmt.Sprint("e", i), Aggregate: "a", Seq: int64(i), Value: fmt.Sprint(i)}, "")
			}
			tick.Stop()
			eventually(b, 30*time.Second, "all acknowledged", func() bool {
				info, err := cons.Info(context.Background())
				return err == nil && info.AckFloor.Stream >= uint64(b.N+1)
			})
			b.StopTimer()
			cpu := processCPU(b) - cpu0
			st := nc.Stats()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			n := float64(b.N)
			b.ReportMetric(float64(st.OutMsgs-st0.OutMsgs)/n, "out-msgs/event")
			b.ReportMetric(float64(st.InMsgs-st0.InMsgs)/n, "in-msgs/event")
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/event")
		})
	}
}
