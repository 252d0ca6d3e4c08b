// Package eventsin turns the order and fulfillment events into queued
// webhook deliveries. Two durable consumers (platform/events) read the
// order stream (every order and return state change) and the fulfillment
// stream (shipment updates); for each event the handler finds the subscriptions
// that should see it and queues one delivery per subscription in the
// consumer's transaction, together with the processed-event row, so a
// redelivered event queues nothing twice and a crash loses nothing. The
// dispatcher is woken after the commit.
//
// The consumers apply events in batches (one transaction per batch) and
// acknowledge without any write the events no subscription can match
// (Interests.Filter).
//
// Scoping: an order event carries the order's channel and customer; the
// handler records them (order_owners) so that a shipment event, which
// names the customer but not the channel, reaches the same channel's
// subscriptions; so does a return event. A shipment of an order never seen (placed before notify
// ran) reaches only subscriptions bound to its customer.
package eventsin

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/services/notify/internal/payload"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

// Durable consumer names.
const (
	OrderConsumer    = "notify-order-events"
	ShipmentConsumer = "notify-shipment-events"
)

// ackWait is how long NATS waits for an ack before redelivering: the
// handler is a few inserts, so a notify killed mid-event gets the event
// again within seconds instead of the default 30 s (webhook propagation is
// a KPI); a slow handler past it is redelivered and deduplicated by the
// processed-event row.
const ackWait = 5 * time.Second

// ConsumerBatch is how many events a consumer applies per transaction
// (events.WithBatch), and ConsumerLinger how long it waits for more after
// the first event of a batch when nothing else is queued
// (events.WithBatchLinger): one commit (one fsync) per batch instead of one
// per event, for at most ConsumerLinger more propagation latency. Every
// batch also costs NATS a pull request, a consumer-side acknowledgement
// round trip and a commit (or a filter round), so the linger is what sets
// the consumer's cost per event on a steady stream: 20 ms against 5 ms
// gathered four times the events per batch and took 1.1 instead of 1.36
// client messages and about 15 % less CPU per filtered event
// (platform/events BenchmarkConsumerSteady, one event per 2 ms), for at
// most 15 ms more webhook latency (issue #10's p99 goal is 250 ms; 142 ms
// measured with 5 ms).
const (
	ConsumerBatch  = 64
	ConsumerLinger = 20 * time.Millisecond
)

// Options are the consumer options of both consumers: batches, and the
// filter of interests, which acknowledges without a transaction the
// events no subscription can match.
func Options(in *Interests) []events.ConsumerOption {
	return []events.ConsumerOption{events.WithBatch(ConsumerBatch), events.WithBatchLinger(ConsumerLinger),
		events.WithFilter(in.Filter())}
}

// Return subjects of the order service (transload/order/v1/events.proto;
// services/order/internal/orderpb names them; platform/eventstreams does not
// list them yet).
var returnSubjects = []string{
	"transload.order.return_requested", "transload.order.return_authorized", "transload.order.return_rejected",
	"transload.order.return_received", "transload.order.return_credited", "transload.order.return_closed",
}

// OrderConfig is the order stream consumer: order state changes and
// return state changes.
func OrderConfig() events.ConsumerConfig {
	return events.ConsumerConfig{
		Name: OrderConsumer, Stream: eventstreams.Order.Name, MaxDeliver: 10, AckWait: ackWait,
		FilterSubjects: append([]string{
			eventstreams.OrderAccepted, eventstreams.OrderConfirmed, eventstreams.OrderRejected, eventstreams.OrderCancelled,
			eventstreams.OrderPartiallyShipped, eventstreams.OrderShipped, eventstreams.OrderDelivered,
		}, returnSubjects...),
	}
}

// ShipmentConfig is the fulfillment stream consumer.
func ShipmentConfig() events.ConsumerConfig {
	return events.ConsumerConfig{
		Name: ShipmentConsumer, Stream: eventstreams.Fulfillment.Name, MaxDeliver: 10, AckWait: ackWait,
		FilterSubjects: []string{eventstreams.ShipmentUpdated},
	}
}

// WebhookID is the `webhook-id` of event eventID for subscription subID:
// stable, so every retry, redelivery and replay carries the same id.
func WebhookID(subID, eventID string) string {
	h := sha256.Sum256([]byte(subID + "\x00" + eventID))
	return "msg_" + hex.EncodeToString(h[:16])
}

// SubscriptionName is the storefront name of a subscription.
func SubscriptionName(id string) string { return "webhookSubscriptions/" + id }

// orderOf returns the order of an order event.
func orderOf(m proto.Message) *orderv1.Order {
	if o, ok := m.(interface{ GetOrder() *orderv1.Order }); ok {
		return o.GetOrder()
	}
	return nil
}

// Handler returns the handler of both consumers. wake is called after a
// commit that queued deliveries.
func Handler(store *sqlstore.Store, now func() time.Time, wake func()) events.Handler {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, sqlTx *sql.Tx, ev events.Event) error {
		tx := store.Bind(sqlTx)
		pe := payload.Event{ID: ev.ID, Time: ev.OccurredAt, CorrelationID: ev.CorrelationID}
		var channel, customer, key, resource string
		var typ notifyv1.EventType
		switch m := ev.Payload.(type) {
		case *fulfillmentv1.ShipmentUpdatedEvent:
			sh := m.GetShipment()
			if sh == nil {
				return events.Permanent(fmt.Errorf("eventsin: shipment event %s without a shipment", ev.ID))
			}
			typ, pe.Shipment = notifyv1.EventType_EVENT_TYPE_SHIPMENT_STATUS_CHANGED, sh
			if t := sh.GetUpdateTime(); t != nil { // the WMS event's time
				pe.Time = t.AsTime()
			}
			key, resource = "orders/"+sh.GetOrderId(), payload.Shipment(sh).GetName()
			c, cust, ok, err := tx.OrderOwner(ctx, sh.GetOrderId())
			if err != nil {
				return err
			}
			channel, customer = c, sh.GetCustomerId()
			if ok {
				customer = cust
			}
		case interface {
			GetReturnAuthorization() *orderv1.ReturnAuthorization
		}:
			ra := m.GetReturnAuthorization()
			if ra == nil {
				return events.Permanent(fmt.Errorf("eventsin: return event %s without a return", ev.ID))
			}
			typ, pe.Return = notifyv1.EventType_EVENT_TYPE_RETURN_STATUS_CHANGED, ra
			key, resource = "orders/"+ra.GetOrderId(), payload.Return(ra).GetName()
			c, cust, ok, err := tx.OrderOwner(ctx, ra.GetOrderId())
			if err != nil {
				return err
			}
			channel, customer = c, ra.GetCustomerId()
			if ok {
				customer = cust
			}
		default:
			o := orderOf(ev.Payload)
			if o == nil {
				return nil // not a change webhooks carry
			}
			typ, pe.Order = notifyv1.EventType_EVENT_TYPE_ORDER_STATUS_CHANGED, o
			channel, customer = o.GetChannel(), o.GetCustomerId()
			key = "orders/" + o.GetOrderId()
			resource = key
			if err := tx.SetOrderOwner(ctx, o.GetOrderId(), channel, customer); err != nil {
				return err
			}
		}
		pe.Type = storefrontv1.WebhookEventType(typ)
		subs, err := tx.Matching(ctx, channel, customer, int(typ))
		if err != nil {
			return err
		}
		queued := 0
		at := now().UTC()
		for _, s := range subs {
			id := WebhookID(s.ID, ev.ID)
			body, err := payload.Body(pe, id, SubscriptionName(s.ID), false)
			if err != nil {
				return events.Permanent(err)
			}
			ok, err := tx.Enqueue(ctx, &sqlstore.Delivery{
				ID: id, SubscriptionID: s.ID, EventID: ev.ID, EventType: int(typ), Resource: resource, OrderingKey: key,
				Body: body, EventTime: pe.Time, CreateTime: at, NextAttempt: at,
			})
			if err != nil {
				return err
			}
			if ok {
				queued++
			}
		}
		if queued > 0 && wake != nil {
			events.AfterCommit(ctx, wake)
		}
		return nil
	}
}
