package deskevents_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/services/ops/internal/desk"
	"github.com/transload/transload/services/ops/internal/deskevents"
	"github.com/transload/transload/services/ops/internal/opstest"
	"github.com/transload/transload/services/ops/internal/store/sqlstore"
)

// benchOrder is an order as the order service audits it: three lines,
// totals, timestamps and its state history.
func benchOrder(i int, state orderv1.Order_State) *orderv1.Order {
	money := func(v int64) *commonv1.Money { return &commonv1.Money{AmountMinor: v, CurrencyCode: "EUR"} }
	o := &orderv1.Order{Name: fmt.Sprintf("orders/O-%d", i), OrderId: fmt.Sprintf("O-%d", i), CustomerId: "C0001",
		Channel: "web", CurrencyCode: "EUR", State: state, ReservationId: fmt.Sprintf("R-%d", i), Etag: "W/\"3\"",
		CreateTime: timestamppb.Now(), UpdateTime: timestamppb.Now()}
	for l := range 3 {
		o.Lines = append(o.Lines, &orderv1.OrderLine{LineId: fmt.Sprint(l + 1), Sku: fmt.Sprintf("SKU-%03d", l), Quantity: 2,
			Unit: "EA", UnitPrice: money(1299), ExtendedPrice: money(2598), PriceRuleId: "list",
			Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-1", AllocatedQuantity: 2}}})
	}
	for range 2 {
		o.StateHistory = append(o.StateHistory, &orderv1.OrderStateChange{State: state, OccurTime: timestamppb.Now()})
	}
	return o
}

// BenchmarkAuditConsumer applies a backlog of realistic audit events (an
// order before and after) with the audit consumer as cmd/ops configures
// it (batches), one op per event, against the same consumer with the
// previous handler (Structs through maps and encoding/json) in the same
// run. Profile it with -cpuprofile to see what ops spends per event.
func BenchmarkAuditConsumer(b *testing.B) {
	srv := natstest.Start(b)
	_, js := natstest.Connect(b, srv)
	producer := opstest.NewProducer(b, js, "order")
	const backlog = 1000
	for i := range backlog {
		before := benchOrder(i, orderv1.Order_STATE_ACCEPTED_PENDING_ERP)
		producer.Record(b, opsevents.Audit{Actor: opsevents.Service("order"), Action: "order.confirm",
			Target: before.GetName(), Before: before, After: benchOrder(i, orderv1.Order_STATE_CONFIRMED)})
	}
	// The handler before structJSON, as the same-run baseline: the
	// Structs went through AsMap and encoding/json in the store.
	mapHandler := func(d *desk.Desk, bind deskevents.Binder) events.Handler {
		return events.Typed(func(ctx context.Context, tx *sql.Tx, ev events.Event, msg *opsv1.AuditRecordedEvent) error {
			r := desk.AuditRecord{ID: ev.ID, Action: msg.GetAction(), Target: msg.GetTarget(), CreateTime: ev.OccurredAt,
				Before: msg.GetBefore().AsMap(), After: msg.GetAfter().AsMap()}
			return d.RecordAudit(ctx, bind(tx), r)
		})
	}
	b.Run("baseline-map", func(b *testing.B) { consumeBacklog(b, js, backlog, mapHandler) })
	// The handler on a payload the consumer decoded (structJSON), before
	// the audit consumer read the resources from the wire.
	b.Run("decoded", func(b *testing.B) { consumeBacklog(b, js, backlog, deskevents.AuditHandler) })
	b.Run("cmd-ops", func(b *testing.B) {
		consumeBacklog(b, js, backlog, deskevents.AuditHandler, deskevents.AuditOptions()...)
	})
}

// benchConsumers numbers the benchmark's durable consumers: each reads
// the backlog from the start.
var benchConsumers atomic.Int64

// consumeBacklog runs b.N events of the backlog through fresh audit
// consumers with handler.
func consumeBacklog(b *testing.B, js jetstream.JetStream, backlog int, handler func(*desk.Desk, deskevents.Binder) events.Handler,
	extra ...events.ConsumerOption) {
	cpu0 := processCPU(b)
	defer func() { b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op") }()
	for round := 0; round*backlog < b.N; round++ {
		b.StopTimer()
		db := sqldbtest.OpenSQLite(b)
		if err := sqlstore.Migrate(context.Background(), db); err != nil {
			b.Fatal(err)
		}
		store := sqlstore.New(db)
		d := desk.New(store, deskevents.NewReplayer(js, ""))
		cfg := deskevents.AuditConfig()
		cfg.Name = fmt.Sprint("audit_bench_", benchConsumers.Add(1))
		c, err := events.NewConsumer(db, js, cfg, handler(d, store.Bind), append([]events.ConsumerOption{
			events.WithBatch(deskevents.ConsumerBatch), events.WithBatchLinger(deskevents.ConsumerLinger),
			events.WithFetchWait(200 * time.Millisecond), events.WithConsumerLogger(slog.New(slog.DiscardHandler))}, extra...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		for {
			var n int
			if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM audit_records`).Scan(&n); err != nil {
				b.Fatal(err)
			}
			if n == backlog {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

// processCPU is the CPU time (user + system) this process used so far:
// the consumer, SQLite and the embedded NATS server.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
