package eventsin_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/notify/internal/eventsin"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

// rig is a notify database with both consumers running against a real
// NATS server, configured as cmd/notify configures them.
type rig struct {
	db    *sqldb.DB
	store *sqlstore.Store
	js    jetstream.JetStream
	seq   atomic.Int64
}

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	_, js := natstest.Connect(t, natstest.Start(t))
	for _, s := range []eventstreams.Stream{eventstreams.Order, eventstreams.Fulfillment} {
		if _, err := eventstreams.Ensure(ctx, js, s); err != nil {
			t.Fatal(err)
		}
	}
	r := &rig{db: db, store: sqlstore.New(db), js: js}
	in := eventsin.NewInterests(r.store)
	h := eventsin.Handler(r.store, nil, nil)
	for _, cfg := range []events.ConsumerConfig{eventsin.OrderConfig(), eventsin.ShipmentConfig()} {
		opts := append([]events.ConsumerOption{events.WithConsumerLogger(slog.New(slog.DiscardHandler)),
			events.WithFetchWait(200 * time.Millisecond)}, eventsin.Options(in)...)
		c, err := events.NewConsumer(db, js, cfg, h, opts...)
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("consumer %s: %v", cfg.Name, err)
			}
		})
	}
	return r
}

// publish publishes payload on subject as the outbox relay does; it
// returns the event id.
func (r *rig) publish(t testing.TB, subject, order string, payload proto.Message) string {
	t.Helper()
	data, err := proto.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	n := r.seq.Add(1)
	id := fmt.Sprintf("ev-%05d", n)
	row := outbox.Row{EventID: id, AggregateType: "order", AggregateID: order, Sequence: n, Subject: subject,
		PayloadType: string(payload.ProtoReflect().Descriptor().FullName()), Payload: data, CreatedAt: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, row.Message()); err != nil {
		t.Fatal(err)
	}
	return id
}

func (r *rig) orderEvent(t testing.TB, subject, order, customer string, state orderv1.Order_State) string {
	t.Helper()
	o := &orderv1.Order{OrderId: order, CustomerId: customer, Channel: "web", State: state}
	var m proto.Message
	switch subject {
	case eventstreams.OrderAccepted:
		m = &orderv1.OrderAcceptedEvent{Order: o}
	case eventstreams.OrderConfirmed:
		m = &orderv1.OrderConfirmedEvent{Order: o}
	case eventstreams.OrderDelivered:
		m = &orderv1.OrderDeliveredEvent{Order: o}
	default:
		t.Fatalf("subject %s", subject)
	}
	return r.publish(t, subject, order, m)
}

func (r *rig) shipmentEvent(t testing.TB, order, customer string, state fulfillmentv1.Shipment_State) string {
	t.Helper()
	return r.publish(t, eventstreams.ShipmentUpdated, order, &fulfillmentv1.ShipmentUpdatedEvent{Shipment: &fulfillmentv1.Shipment{
		ShipmentId: "S-" + order, OrderId: order, CustomerId: customer, State: state, UpdateTime: timestamppb.Now()}})
}

// count returns the rows of table.
func (r *rig) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := r.db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// totalRows counts the rows of every table the consumers may write.
func (r *rig) totalRows(t *testing.T) int {
	n := 0
	for _, table := range []string{"events_processed", "order_owners", "deliveries", "outbox_events", "subscriptions"} {
		n += r.count(t, table)
	}
	return n
}

// consumed returns how many messages the two consumers acknowledged (the
// stream sequence of their ack floors: each stream holds only the test's
// events).
func (r *rig) consumed(t testing.TB) uint64 {
	t.Helper()
	var n uint64
	for _, c := range []struct{ stream, name string }{
		{eventstreams.Order.Name, eventsin.OrderConsumer}, {eventstreams.Fulfillment.Name, eventsin.ShipmentConsumer},
	} {
		cons, err := r.js.Consumer(t.Context(), c.stream, c.name)
		if err != nil {
			return 0
		}
		info, err := cons.Info(t.Context())
		if err != nil {
			return 0
		}
		n += info.AckFloor.Stream
	}
	return n
}

func newSub(id, channel, customer string, types int64) *sqlstore.Subscription {
	return &sqlstore.Subscription{ID: id, Channel: channel, CustomerID: customer, EventTypes: types,
		TargetURI: "https://x.example/", Secret: "whsec_AAAA", State: sqlstore.SubActive, CreateTime: time.Now()}
}

// Without a subscription that can match them, order changes after the
// acceptance and shipment changes are acknowledged with no commit and no
// row written (counted, not timed). The acceptance records the order's
// owner (one row, with its processed-event row) so that its later
// changes reach a channel subscription created meanwhile.
func TestNoSubscriptionNoWrites(t *testing.T) {
	r := newRig(t)
	// A subscription elsewhere does not make these events matchable.
	if _, _, err := r.store.CreateSubscription(t.Context(), newSub("shop", "shop", "", 1<<1|1<<2)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.store.CreateSubscription(t.Context(), newSub("other-cust", "web", "C-OTHER", 1<<1)); err != nil {
		t.Fatal(err)
	}
	r.orderEvent(t, eventstreams.OrderAccepted, "O1", "C1", orderv1.Order_STATE_ACCEPTED_PENDING_ERP)
	wait.Eventually(t, 10*time.Second, "acceptance consumed", func() error {
		return wait.Check(r.consumed(t) == 1, "not yet")
	})
	if n := r.count(t, "order_owners"); n != 1 {
		t.Fatalf("order_owners = %d after the acceptance, want 1", n)
	}
	rows0 := r.totalRows(t)
	commits0, _ := r.db.CommitStats()

	const events = 40
	for i := range events / 4 {
		order := fmt.Sprint("O", 2+i)
		r.orderEvent(t, eventstreams.OrderConfirmed, "O1", "C1", orderv1.Order_STATE_CONFIRMED)
		r.shipmentEvent(t, "O1", "C1", fulfillmentv1.Shipment_STATE_SHIPPED)
		r.shipmentEvent(t, order, "C9", fulfillmentv1.Shipment_STATE_PICKED) // an order notify never saw
		r.orderEvent(t, eventstreams.OrderDelivered, "O1", "C1", orderv1.Order_STATE_DELIVERED)
	}
	wait.Eventually(t, 20*time.Second, "all consumed", func() error {
		return wait.Check(r.consumed(t) == 1+events, "consumed %d of %d", r.consumed(t), 1+events)
	})
	commits1, _ := r.db.CommitStats()
	if commits1 != commits0 {
		t.Errorf("%d commits for %d events no subscription matches, want 0", commits1-commits0, events)
	}
	if rows := r.totalRows(t); rows != rows0 {
		t.Errorf("rows %d → %d for %d events no subscription matches, want no change", rows0, rows, events)
	}
}

// A subscription created while order and shipment events flow receives
// every event published after its creation returned, including shipment
// changes of orders accepted before it, queued per order in event order
// (per stream: the order and fulfillment streams are two consumers).
func TestSubscriptionCreatedWhileEventsFlow(t *testing.T) {
	r := newRig(t)
	const orders, rounds = 6, 12
	type pub struct {
		id, order, stream string
	}
	var after []pub // events published after the subscription was created
	created := false
	for round := range rounds {
		if round == rounds/2 {
			if _, _, err := r.store.CreateSubscription(t.Context(), newSub("web", "web", "", 1<<1|1<<2)); err != nil {
				t.Fatal(err)
			}
			created = true
		}
		for o := range orders {
			order, customer := fmt.Sprint("O", o), fmt.Sprint("C", o)
			var id, stream string
			switch {
			case round == 0:
				id, stream = r.orderEvent(t, eventstreams.OrderAccepted, order, customer, orderv1.Order_STATE_ACCEPTED_PENDING_ERP), "order"
			case round%3 == 0:
				id, stream = r.orderEvent(t, eventstreams.OrderConfirmed, order, customer, orderv1.Order_STATE_CONFIRMED), "order"
			default:
				id, stream = r.shipmentEvent(t, order, customer, fulfillmentv1.Shipment_STATE_PACKED), "fulfillment"
			}
			if created {
				after = append(after, pub{id, order, stream})
			}
		}
		time.Sleep(10 * time.Millisecond) // events flow while the subscription is created
	}
	wait.Eventually(t, 20*time.Second, "all consumed", func() error {
		return wait.Check(r.consumed(t) == orders*rounds, "consumed %d of %d", r.consumed(t), orders*rounds)
	})
	log, err := r.store.ListDeliveries(t.Context(), "web", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(log) // oldest first
	queued := map[string]*sqlstore.Delivery{}
	for _, d := range log {
		queued[d.EventID] = d
	}
	lastPos := map[string]int64{}
	for _, p := range after {
		d := queued[p.id]
		if d == nil {
			t.Errorf("event %s of %s, published after the subscription was created, was not queued", p.id, p.order)
			continue
		}
		if d.OrderingKey != "orders/"+p.order {
			t.Errorf("event %s: ordering key %s, want orders/%s", p.id, d.OrderingKey, p.order)
		}
		// Queue order follows each stream's order per order; between the
		// two streams it is the order in which notify committed them.
		k := p.order + "/" + p.stream
		if d.Position <= lastPos[k] {
			t.Errorf("%s event %s of %s at position %d, not after the previous one (%d)", p.stream, p.id, p.order, d.Position, lastPos[k])
		}
		lastPos[k] = d.Position
	}
	if len(after) != orders*rounds/2 {
		t.Fatalf("%d events after creation, want %d", len(after), orders*rounds/2)
	}
}
