package orderevents

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// ReturnsConsumerName is the durable consumer of the fulfillment service
// for authorized returns.
const ReturnsConsumerName = "fulfillment-return-authorized"

// ReturnsConsumerConfig is the durable consumer of ReturnAuthorizedEvent
// (eventstreams.OrderReturnAuthorized on the order stream);
// run it with events.WithStreams(eventstreams.Order) like ConsumerConfig.
func ReturnsConsumerConfig() events.ConsumerConfig {
	return events.ConsumerConfig{
		Name:           ReturnsConsumerName,
		Stream:         eventstreams.Order.Name,
		FilterSubjects: []string{eventstreams.OrderReturnAuthorized},
		MaxDeliver:     10,
	}
}

// ReturnsHandler returns the handler of ReturnAuthorizedEvent: in the
// consumer's transaction, with the processed-event row, it records one
// expected return per warehouse that shipped the returned order lines and
// queues its registration with the WMS (an effect, executed with retries
// through the WMS breaker and deadline by the effect runner). A
// redelivered event, or a second authorization event of the same return,
// queues nothing new: the expected return and its effect are keyed by
// its id. queued wakes the effect runner once the transaction committed.
//
// A return whose lines no fulfilment request ships (the order is unknown
// here, or the line was never allocated) cannot be routed to a warehouse:
// it is dead-lettered at once for the exception desk.
func ReturnsHandler(bind func(*sql.Tx) fulfillment.Tx, now func() time.Time, logger *slog.Logger, queued func()) events.Handler {
	if now == nil {
		now = time.Now
	}
	if queued == nil {
		queued = func() {}
	}
	return events.Typed(func(ctx context.Context, sqlTx *sql.Tx, _ events.Event, msg *orderv1.ReturnAuthorizedEvent) error {
		rma := msg.GetReturnAuthorization()
		tx := bind(sqlTx)
		reqs, err := tx.OrderRequests(ctx, rma.GetOrderId())
		if err != nil {
			return err
		}
		t := now().UTC()
		ers, err := fulfillment.ExpectedReturnsFor(rma.GetReturnAuthorizationId(), rma.GetOrderId(),
			fulfillmentpb.ReturnLinesFromAuthorization(rma), reqs, t)
		if err != nil {
			return events.Permanent(err)
		}
		n := 0
		for _, er := range ers {
			created, err := tx.InsertExpectedReturn(ctx, er)
			if err != nil {
				return err
			}
			if !created {
				continue
			}
			if _, err := tx.EnqueueEffect(ctx, fulfillment.RegisterReturnEffect(er, t)); err != nil {
				return err
			}
			n++
		}
		logger.InfoContext(ctx, "return authorized: expected returns queued for the WMS",
			slog.String("return_authorization_id", rma.GetReturnAuthorizationId()), slog.String("order_id", rma.GetOrderId()),
			slog.Int("queued", n), slog.Int("warehouses", len(ers)))
		if n > 0 {
			events.AfterCommit(ctx, queued)
		}
		return nil
	})
}

// ReturnClosedConsumerName is the durable consumer of the fulfillment
// service for closed returns.
const ReturnClosedConsumerName = "fulfillment-return-closed"

// ReturnClosedConsumerConfig is the durable consumer of ReturnClosedEvent
// (eventstreams.OrderReturnClosed on the order stream); run it with
// events.WithStreams(eventstreams.Order) like ReturnsConsumerConfig.
func ReturnClosedConsumerConfig() events.ConsumerConfig {
	return events.ConsumerConfig{
		Name:           ReturnClosedConsumerName,
		Stream:         eventstreams.Order.Name,
		FilterSubjects: []string{eventstreams.OrderReturnClosed},
		MaxDeliver:     10,
	}
}

// ReturnClosedHandler returns the handler of ReturnClosedEvent. A return
// closed from STATE_AUTHORIZED (cancelled, or expired, before any goods
// arrived) withdraws its expected returns: in the consumer's transaction
// each one not yet cancelled is marked cancelled, its registration is
// dropped while still queued, and a cancellation at the WMS is queued (an
// effect run with retries, the WMS deadline and the breaker). When the
// closing overtakes the authorization (the two events are consumed by
// separate consumers), the expected returns are recorded cancelled, so the
// later authorization event registers nothing. Returns closed after a
// receipt concern nothing here. A redelivered event changes nothing.
func ReturnClosedHandler(bind func(*sql.Tx) fulfillment.Tx, now func() time.Time, logger *slog.Logger, queued func()) events.Handler {
	if now == nil {
		now = time.Now
	}
	if queued == nil {
		queued = func() {}
	}
	return events.Typed(func(ctx context.Context, sqlTx *sql.Tx, _ events.Event, msg *orderv1.ReturnClosedEvent) error {
		if msg.GetPreviousState() != orderv1.ReturnAuthorization_STATE_AUTHORIZED {
			return nil
		}
		rma := msg.GetReturnAuthorization()
		tx := bind(sqlTx)
		t := now().UTC()
		ers, err := tx.ExpectedReturnsOf(ctx, rma.GetReturnAuthorizationId())
		if err != nil {
			return err
		}
		if len(ers) == 0 {
			return recordClosedUnannounced(ctx, tx, rma, t, logger)
		}
		n := 0
		for _, er := range ers {
			changed, err := tx.CancelExpectedReturn(ctx, er.ID, t)
			if err != nil {
				return err
			}
			if !changed {
				continue
			}
			if _, err := tx.DropPendingEffect(ctx, fulfillment.EffectRegisterExpectedReturn, er.ID); err != nil {
				return err
			}
			// Queued even when the registration was dropped: one running
			// at this moment may still reach the WMS, which answers a
			// return it never registered with NOT_FOUND (done).
			if _, err := tx.EnqueueEffect(ctx, fulfillment.CancelReturnEffect(er, t)); err != nil {
				return err
			}
			n++
		}
		logger.InfoContext(ctx, "return closed without receipt: expected returns cancelled",
			slog.String("return_authorization_id", rma.GetReturnAuthorizationId()), slog.Int("cancelled", n))
		if n > 0 {
			events.AfterCommit(ctx, queued)
		}
		return nil
	})
}

// recordClosedUnannounced records the expected returns of a return closed
// before its authorization event was consumed, cancelled: the
// authorization's InsertExpectedReturn then finds them and queues no
// registration. A return that cannot be routed (nothing shipped it) has
// nothing to withdraw.
func recordClosedUnannounced(ctx context.Context, tx fulfillment.Tx, rma *orderv1.ReturnAuthorization, now time.Time, logger *slog.Logger) error {
	reqs, err := tx.OrderRequests(ctx, rma.GetOrderId())
	if err != nil {
		return err
	}
	ers, err := fulfillment.ExpectedReturnsFor(rma.GetReturnAuthorizationId(), rma.GetOrderId(),
		fulfillmentpb.ReturnLinesFromAuthorization(rma), reqs, now)
	if err != nil {
		logger.InfoContext(ctx, "closed return has no warehouse to withdraw from",
			slog.String("return_authorization_id", rma.GetReturnAuthorizationId()), slog.Any("error", err))
		return nil
	}
	for _, er := range ers {
		er.CancelTime = now
		if _, err := tx.InsertExpectedReturn(ctx, er); err != nil {
			return err
		}
	}
	return nil
}
