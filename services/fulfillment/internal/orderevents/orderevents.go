// Package orderevents consumes the order service's events the
// fulfillment service reacts to: OrderConfirmedEvent becomes one fulfilment
// request per allocated warehouse, created in the consumer's transaction
// together with the processed-event row (platform/events), so a
// redelivered event creates nothing new. Stream and subject come from
// platform/eventstreams, where the order service takes them too.
package orderevents

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// ConsumerName is the durable consumer of the fulfillment service on the
// order stream.
const ConsumerName = "fulfillment-order-confirmed"

// ConsumerConfig is the durable consumer's configuration. Run it with
// events.WithStreams(eventstreams.Order) so the service may start before
// the order service has created its stream.
func ConsumerConfig() events.ConsumerConfig {
	return events.ConsumerConfig{
		Name:           ConsumerName,
		Stream:         eventstreams.Order.Name,
		FilterSubjects: []string{eventstreams.OrderConfirmed},
		MaxDeliver:     10,
	}
}

// Routes says which warehouses the WMS adapter serves; the zero value (no
// warehouses listed) routes every warehouse to it.
type Routes struct{ warehouses map[string]bool }

// NewRoutes returns the routes of FULFILLMENT_WMS_WAREHOUSES; empty serves
// every warehouse.
func NewRoutes(warehouses []string) Routes {
	r := Routes{}
	for _, w := range warehouses {
		if r.warehouses == nil {
			r.warehouses = map[string]bool{}
		}
		r.warehouses[w] = true
	}
	return r
}

// Serves reports whether the WMS adapter serves warehouse.
func (r Routes) Serves(warehouse string) bool { return r.warehouses == nil || r.warehouses[warehouse] }

// Handler returns the handler of OrderConfirmedEvent. bind gives the
// store's view of the consumer's transaction. created is called when
// requests were created, to wake the dispatcher: after the consumer's
// transaction committed (events.AfterCommit), so the dispatcher finds
// them instead of waking early, finding nothing and waiting for its next
// round; never when the transaction rolled back.
//
// An order allocated to a warehouse routes does not serve is a
// configuration gap, not something a retry mends: the event is
// dead-lettered at once, with nothing created for any of its warehouses, so
// an operator adds the route and replays it from the exception desk.
func Handler(bind func(*sql.Tx) fulfillment.Tx, now func() time.Time, logger *slog.Logger, created func(), routes Routes) events.Handler {
	if now == nil {
		now = time.Now
	}
	if created == nil {
		created = func() {}
	}
	return events.Typed(func(ctx context.Context, sqlTx *sql.Tx, ev events.Event, msg *orderv1.OrderConfirmedEvent) error {
		reqs, err := fulfillmentpb.RequestsFromOrder(msg.GetOrder(), ev.ID, now().UTC())
		if err != nil {
			return events.Permanent(err)
		}
		for _, r := range reqs {
			if !routes.Serves(r.WarehouseID) {
				return events.Permanent(fmt.Errorf("%w: order %s is allocated to warehouse %s, which no WMS route serves (FULFILLMENT_WMS_WAREHOUSES)",
					fulfillment.ErrInvalidArgument, r.OrderID, r.WarehouseID))
			}
		}
		tx := bind(sqlTx)
		orderID := msg.GetOrder().GetOrderId()
		cancelled, err := tx.OrderCancelled(ctx, orderID)
		if err != nil {
			return err
		}
		if cancelled {
			logger.InfoContext(ctx, "order confirmed after its fulfilment was cancelled: no request created",
				slog.String("order_id", orderID))
			return nil
		}
		n := 0
		for _, r := range reqs {
			ok, err := tx.InsertRequest(ctx, r)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		logger.InfoContext(ctx, "order confirmed: fulfilment requests created",
			slog.String("order_id", orderID), slog.Int("created", n), slog.Int("warehouses", len(reqs)))
		if n > 0 {
			events.AfterCommit(ctx, created)
		}
		return nil
	})
}
