package events_test

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

// Example wires the whole event path: a producer writes an event in the
// same transaction as its state change, a relay publishes it, a consumer
// in another service applies it idempotently, and an operator lists and
// replays what could not be applied.
func Example() {
	ctx := context.Background()

	// Producer side (e.g. the order service).
	orders, err := sqldb.Open(ctx, "sqlite://data/order.db")
	if err != nil {
		slog.Error("open", "err", err)
		return
	}
	_ = outbox.Migrate(ctx, orders)

	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.MaxReconnects(-1))
	if err != nil {
		slog.Error("connect", "err", err)
		return
	}
	js, _ := jetstream.New(nc)

	// The relay creates (or updates) the order stream as declared, retrying
	// until NATS answers, then publishes.
	relay, _ := outbox.NewRelay(orders, js, outbox.WithStreams(eventstreams.Order))
	go func() { _ = relay.Run(ctx) }()

	err = orders.InTx(ctx, func(tx *sql.Tx) error {
		// ... insert the order row through tx ...
		_, err := outbox.Write(ctx, tx, orders.Dialect(), outbox.Event{
			AggregateType: "order",
			AggregateID:   "ord-42",
			Subject:       eventstreams.OrderAccepted,
			Producer:      "order",
			// The outbox hands over the metadata with the sequence it
			// assigned; the payload embeds it.
			Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
				return &orderv1.OrderAcceptedEvent{Metadata: md, Order: &orderv1.Order{OrderId: "ord-42"}}, nil
			},
		})
		return err
	})
	if err == nil {
		relay.Notify() // publish now instead of at the next poll
	}

	// Consumer side (e.g. the fulfillment service, its own database).
	fulfillment, _ := sqldb.Open(ctx, "sqlite://data/fulfillment.db")
	_ = events.Migrate(ctx, fulfillment)
	consumer, _ := events.NewConsumer(fulfillment, js, events.ConsumerConfig{
		Name:           "fulfillment-orders",
		Stream:         eventstreams.Order.Name,
		FilterSubjects: []string{eventstreams.OrderAccepted},
		MaxDeliver:     5,
		Backoff:        []time.Duration{time.Second, 10 * time.Second, time.Minute},
	}, events.Typed(func(ctx context.Context, tx *sql.Tx, ev events.Event, msg *orderv1.OrderAcceptedEvent) error {
		// Apply the event through tx; it commits together with the
		// processed-event row. Return events.Permanent(err) for errors a
		// retry cannot fix.
		_, err := tx.ExecContext(ctx, fulfillment.Rebind(
			`INSERT INTO fulfilment_requests (order_id) VALUES (?)`), msg.GetOrder().GetOrderId())
		return err
	}),
		// The consumer may start before the order service: it creates the
		// order stream if it is missing, and leaves it alone otherwise.
		events.WithStreams(eventstreams.Order))
	go func() { _ = consumer.Run(ctx) }()

	// Operator side (the ops API): inspect and replay dead letters.
	dls := events.NewDeadLetters(js, "")
	stuck, _ := dls.List(ctx, events.DeadLetterFilter{Consumer: "fulfillment-orders", Limit: 50})
	for _, dl := range stuck {
		slog.Info("dead letter", "seq", dl.Seq, "event", dl.EventID, "aggregate", dl.AggregateID,
			"error", dl.Error, "deliveries", dl.Deliveries, "at", dl.DeadAt)
	}
	wouldReplay, _ := dls.Replay(ctx, events.DeadLetterFilter{AggregateID: "ord-42"}, true)
	_ = wouldReplay
	replayed, _ := dls.Replay(ctx, events.DeadLetterFilter{AggregateID: "ord-42"}, false)
	_ = replayed // record an audit entry per replayed dead letter
}
