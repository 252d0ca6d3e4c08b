// Package orderevents consumes the order service's events the
// fulfillment service reacts to: OrderConfirmedEvent becomes one fulfilment
// request per allocated warehouse, created in the consumer's transaction
// together with the processed-event row (platform/events), so a
// redelivered event creates nothing new.
package orderevents

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

// Stream and subjects of the order service (order.v1 events.proto).
const (
	Stream           = "TRANSLOAD_ORDER"
	StreamSubjects   = "transload.order.>"
	SubjectConfirmed = "transload.order.confirmed"
)

// ConsumerName is the durable consumer of the fulfillment service on the
// order stream.
const ConsumerName = "fulfillment-order-confirmed"

// ConsumerConfig is the durable consumer's configuration.
func ConsumerConfig() events.ConsumerConfig {
	return events.ConsumerConfig{
		Name:           ConsumerName,
		Stream:         Stream,
		FilterSubjects: []string{SubjectConfirmed},
		MaxDeliver:     10,
	}
}

// EnsureStream creates the order stream with the order service's
// configuration when it does not exist yet, so the two services can start
// in any order. An existing stream is left as the order service made it.
func EnsureStream(ctx context.Context, js jetstream.JetStream) error {
	if _, err := js.Stream(ctx, Stream); err == nil {
		return nil
	}
	_, err := outbox.EnsureStream(ctx, js, outbox.StreamConfig{Name: Stream, Subjects: []string{StreamSubjects}})
	return err
}

// Handler returns the handler of OrderConfirmedEvent. created is called
// (inside the transaction, before commit) when requests were created, to
// wake the dispatcher.
func Handler(store *sqlstore.Store, now func() time.Time, logger *slog.Logger, created func()) events.Handler {
	if now == nil {
		now = time.Now
	}
	if created == nil {
		created = func() {}
	}
	return events.Typed(func(ctx context.Context, tx *sql.Tx, ev events.Event, msg *orderv1.OrderConfirmedEvent) error {
		reqs, err := fulfillmentpb.RequestsFromOrder(msg.GetOrder(), ev.ID, now().UTC())
		if err != nil {
			return events.Permanent(err)
		}
		stx := store.Bind(tx)
		cancelled, err := stx.OrderCancelled(ctx, msg.GetOrder().GetOrderId())
		if err != nil {
			return err
		}
		if cancelled {
			logger.InfoContext(ctx, "order confirmed after its fulfilment was cancelled: no request created",
				slog.String("order_id", msg.GetOrder().GetOrderId()))
			return nil
		}
		n := 0
		for _, r := range reqs {
			ok, err := stx.InsertRequest(ctx, r)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		logger.InfoContext(ctx, "order confirmed: fulfilment requests created",
			slog.String("order_id", msg.GetOrder().GetOrderId()), slog.Int("created", n), slog.Int("warehouses", len(reqs)))
		if n > 0 {
			created()
		}
		return nil
	})
}
