package grpcapi_test

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/sqldb"
)

// processCPU is the process's CPU time so far (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOrderLifecycle measures the CPU one order costs in the order
// service over its life, in three phases run by 16 concurrent callers as
// in the mesh (so sqldb's group commit shares fsyncs): placement
// (CreateOrder), ERP confirmation (the queue worker), and four shipment
// reports (two shipments, shipped and delivered). Each phase reports its
// process CPU per order (cpu-µs/order; the in-process fakes and clients
// are included, so read it against a run of the same benchmark on other
// code, not as the service's absolute cost). With -cpuprofile it is the
// order service's profile of issue #12 without the mesh's noise.
func BenchmarkOrderLifecycle(b *testing.B) {
	// The worker runs only in the confirmation phase (Pass), so each
	// phase's CPU is its own.
	e := newEnv(b, withoutWorker)
	ctx := b.Context()
	const callers = 16
	// parallel runs fn(i) for i in [0, n) on callers goroutines.
	parallel := func(n int, fn func(i int) error) {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		next := make(chan int)
		for range callers {
			wg.Go(func() {
				for i := range next {
					if err := fn(i); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		if len(errs) > 0 {
			b.Fatalf("%d of %d calls failed, first: %v", len(errs), n, errs[0])
		}
	}
	queued := func() int {
		n, err := sqldb.ScanValue[int](e.db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM erp_queue`))
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	// sku spreads the lines over 400 SKUs the fakes price, of 300 units
	// each in the fake inventory.
	sku := func(i, l int) string { return fmt.Sprintf("SKU-%05d", 1+(2*i+l)%400) }
	e.create(b, createReq("bench-warm-up", "C0001", line{"SKU-00001", 1}))
	e.worker.Pass(ctx)

	run := 0
	var place, confirm, report time.Duration
	b.ResetTimer()
	for b.Loop() {
		run++
		n := 50
		ids := make([]string, n)
		cpu := processCPU()
		parallel(n, func(i int) error {
			res, err := e.client.CreateOrder(ctx, createReq(fmt.Sprintf("bench-%d-%d", run, i),
				fmt.Sprintf("C%04d", 1+i%10), line{sku(i, 0), 1}, line{sku(i, 1), 1}))
			ids[i] = res.GetOrder().GetOrderId()
			return err
		})
		place += processCPU() - cpu
		cpu = processCPU()
		for pass := 0; queued() > 0; pass++ {
			if pass == 10 {
				b.Fatalf("%d entries still queued after %d passes", queued(), pass)
			}
			e.worker.Pass(ctx)
		}
		confirm += processCPU() - cpu
		cpu = processCPU()
		parallel(n, func(i int) error {
			id := ids[i]
			for _, r := range []*orderv1.RecordShipmentProgressRequest{
				progress(id, "s1"+id, "S1", "WH-HAM", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"1": 1}),
				progress(id, "s2"+id, "S2", "WH-HAM", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"2": 1}),
				progress(id, "d1"+id, "S1", "WH-HAM", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED, map[string]int64{"1": 1}),
				progress(id, "d2"+id, "S2", "WH-HAM", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED, map[string]int64{"2": 1}),
			} {
				if _, err := e.client.RecordShipmentProgress(ctx, r); err != nil {
					return fmt.Errorf("%s %s: %w", id, r.GetEventId(), err)
				}
			}
			return nil
		})
		report += processCPU() - cpu
	}
	orders := float64(50 * run)
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / orders }
	b.ReportMetric(us(place), "place-cpu-µs/order")
	b.ReportMetric(us(confirm), "confirm-cpu-µs/order")
	b.ReportMetric(us(report), "report-cpu-µs/order")
	b.ReportMetric(us(place+confirm+report), "cpu-µs/order")
}
