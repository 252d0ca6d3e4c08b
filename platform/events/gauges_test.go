package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/testharness/natstest"
)

// gauge returns the value of the gauge name for consumer, and whether it
// was reported.
func gauge(t testing.TB, reg *prometheus.Registry, name, consumer string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumer" && l.GetValue() == consumer {
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// TestConsumerGauges runs a consumer over five events: the first is
// dead-lettered, the second applied and the third held by its handler.
// The gauges then say lag 3 (last sequence 5, ack floor 2), 2 pending,
// 1 ack-pending and 1 dead letter; once the handler lets go, lag,
// pending and ack-pending fall to 0 and the dead letter stays.
func TestConsumerGauges(t *testing.T) {
	db := openSQLite(t)
	_, js := natstest.Connect(t, natstest.Start(t))
	ensureStream(t, js)
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "gauged", MaxDeliver: 1},
		func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
			switch ev.Sequence {
			case 1:
				return events.Permanent(fmt.Errorf("poison"))
			case 3:
				select {
				case held <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		}, nil)
	reg := prometheus.NewRegistry()
	if err := events.RegisterGauges(reg, js, c); err != nil {
		t.Fatal(err)
	}
	if _, ok := gauge(t, reg, events.GaugeLag, "gauged"); ok {
		t.Error("lag reported for a consumer JetStream does not know yet")
	}
	for i := 1; i <= 5; i++ {
		publish(t, js, testEvent{ID: fmt.Sprintf("g-%d", i), Aggregate: "g", Seq: int64(i), Value: "v"}, "")
	}
	runConsumer(t, c)
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("the third event never reached its handler")
	}
	want := map[string]float64{
		events.GaugeLag: 3, events.GaugePending: 2, events.GaugeAckPending: 1, events.GaugeDeadLetters: 1,
		"transload_events_gauge_errors": 0,
	}
	check := func(want map[string]float64) func() bool {
		return func() bool {
			for name, v := range want {
				if got, ok := gauge(t, reg, name, "gauged"); !ok || got != v {
					return false
				}
			}
			return true
		}
	}
	eventually(t, 10*time.Second, fmt.Sprintf("gauges %v while the third event is handled", want), check(want))
	close(release)
	want = map[string]float64{
		events.GaugeLag: 0, events.GaugePending: 0, events.GaugeAckPending: 0, events.GaugeDeadLetters: 1,
	}
	eventually(t, 10*time.Second, fmt.Sprintf("gauges %v once all are handled", want), check(want))
}
