package orderevents_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

// failingTx fails the second InsertRequest of its transaction once, after
// the first one went through: the transaction rolls back with a request
// already written in it.
type failingTx struct {
	fulfillment.Tx
	inserts *int
	failed  *atomic.Bool
}

func (f failingTx) InsertRequest(ctx context.Context, r *fulfillment.Request) (bool, error) {
	*f.inserts++
	if *f.inserts == 2 && f.failed.CompareAndSwap(false, true) {
		return false, errors.New("disk hiccup")
	}
	return f.Tx.InsertRequest(ctx, r)
}

// The dispatcher is woken after the consumer's transaction committed (the
// requests are visible to it then), once, and not for the attempt that
// rolled back after creating a request.
func TestDispatcherWokenAfterCommitOnly(t *testing.T) {
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	store := sqlstore.New(db)
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)

	var failed atomic.Bool
	var txInserts int // reset per transaction by bind
	bind := func(tx *sql.Tx) fulfillment.Tx {
		txInserts = 0
		return failingTx{Tx: store.Bind(tx), inserts: &txInserts, failed: &failed}
	}
	var mu sync.Mutex
	var wakes []int // requests visible outside the transaction at each wake
	created := func() {
		reqs, err := store.ListRequests(context.Background(), fulfillment.RequestQuery{OrderID: "O-1", Page: fulfillment.Page{Limit: 10}})
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		defer mu.Unlock()
		wakes = append(wakes, len(reqs))
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := orderevents.ConsumerConfig()
	cfg.Backoff = []time.Duration{10 * time.Millisecond}
	c, err := events.NewConsumer(db, js, cfg, orderevents.Handler(bind, nil, logger, created, orderevents.Routes{}),
		events.WithStreams(eventstreams.Order), events.WithFetchWait(200*time.Millisecond), events.WithConsumerLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	publishConfirmed(t, js)
	wait.Eventually(t, 15*time.Second, "dispatcher woken", func() error {
		mu.Lock()
		defer mu.Unlock()
		return wait.Check(len(wakes) > 0, "not woken")
	})
	time.Sleep(100 * time.Millisecond) // a second wake would show now
	mu.Lock()
	defer mu.Unlock()
	if !failed.Load() {
		t.Fatal("the first attempt did not fail: the test proves nothing")
	}
	if len(wakes) != 1 || wakes[0] != 2 {
		t.Fatalf("wakes = %v (requests visible at each), want one wake seeing both requests", wakes)
	}
}

// publishConfirmed publishes the OrderConfirmedEvent of order O-1, split
// over two warehouses, as the order service's outbox relay does.
func publishConfirmed(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ev := &orderv1.OrderConfirmedEvent{Order: &orderv1.Order{
		Name: "orders/O-1", OrderId: "O-1", CustomerId: "C0001", ReservationId: "R-O-1",
		State:  orderv1.Order_STATE_CONFIRMED,
		ShipTo: &commonv1.Address{Recipient: "Ada Lovelace", Lines: []string{"Hafenstr. 1"}, Locality: "Hamburg", PostalCode: "20095", RegionCode: "DE"},
		Lines: []*orderv1.OrderLine{{LineId: "1", Sku: "SKU-1", Quantity: 5, Allocations: []*orderv1.LineAllocation{
			{WarehouseId: "WH-HAM", AllocatedQuantity: 3}, {WarehouseId: "WH-MUC", AllocatedQuantity: 2},
		}}},
	}}
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	row := outbox.Row{EventID: "ev-O-1", AggregateType: "order", AggregateID: "O-1", Sequence: 2,
		Subject: eventstreams.OrderConfirmed, PayloadType: string(ev.ProtoReflect().Descriptor().FullName()),
		Payload: data, CreatedAt: time.Now()}
	pctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := eventstreams.Ensure(pctx, js, eventstreams.Order); err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(pctx, row.Message()); err != nil {
		t.Fatal(err)
	}
}
