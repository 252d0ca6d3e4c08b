package eventsin_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/testharness/wait"
)

// BenchmarkConsumeWithoutSubscriptions is what notify spends per order or
// shipment change nobody subscribed to (both consumers as cmd/notify
// configures them, a real NATS server in process): cpu-ns/op is the
// process's CPU per event, NATS server included.
func BenchmarkConsumeWithoutSubscriptions(b *testing.B) {
	r := newRig(b)
	cpu0 := cpuNow(b)
	for i := range b.N {
		order, customer := fmt.Sprint("O", i/4), "C1"
		switch i % 4 {
		case 0:
			r.orderEvent(b, eventstreams.OrderConfirmed, order, customer, orderv1.Order_STATE_CONFIRMED)
		case 3:
			r.orderEvent(b, eventstreams.OrderDelivered, order, customer, orderv1.Order_STATE_DELIVERED)
		default:
			r.shipmentEvent(b, order, customer, fulfillmentv1.Shipment_STATE_SHIPPED)
		}
	}
	wait.Eventually(b, time.Minute, "all consumed", func() error {
		return wait.Check(r.consumed(b) == uint64(b.N), "consumed %d of %d", r.consumed(b), b.N)
	})
	b.ReportMetric(float64(cpuNow(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
