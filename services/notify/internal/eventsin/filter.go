package eventsin

import (
	"context"
	"sync"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

// Interests is the in-memory set of what the subscriptions want (owner and
// event types of every subscription, active or disabled), which the
// consumers' filter consults so that an event no subscription can match is
// acknowledged without a transaction. It is exact, not eventually
// consistent: before deciding it reads the store's subscription version
// (one point read, no write, once per round of events the consumer
// received together) and reloads the set when the version moved, and the version is bumped in the transaction that creates or
// deletes a subscription. So on any replica, an event looked at after a
// subscription's creation committed is matched against it; there is no
// staleness window to bound.
type Interests struct {
	store *sqlstore.Store

	mu      sync.Mutex
	loaded  bool
	version int64
	// round is the filter round (events.FilterRound) the version was last
	// read in: every event of that round was received before the read.
	round uint64
	// chanWide: channel → event-type bits of its channel-wide
	// subscriptions; chanCust: channel+"\x00"+customer → bits of its
	// customer-bound ones; custAny: customer → bits of its customer-bound
	// subscriptions in any channel; wideAny: bits of every channel-wide one.
	chanWide, chanCust, custAny map[string]int64
	// wideAny and custBound: bits of every channel-wide and of every
	// customer-bound subscription.
	wideAny, custBound int64
}

// NewInterests returns the set over store, loaded on first use.
func NewInterests(store *sqlstore.Store) *Interests { return &Interests{store: store} }

// refresh reloads the set when the subscription version moved. The
// version is read once per filter round: the events of a round were all
// received before the round began, so one read after that is as new as
// each of them needs.
func (in *Interests) refresh(ctx context.Context) error {
	round := events.FilterRound(ctx)
	if in.loaded && round != 0 && round == in.round {
		return nil
	}
	v, err := in.store.SubscriptionVersion(ctx)
	if err != nil {
		return err
	}
	in.round = round
	if in.loaded && v == in.version {
		return nil
	}
	// Read after the version: a change committed in between is in the set
	// and moves the version again, so the next call reloads once more.
	all, err := in.store.Interests(ctx)
	if err != nil {
		return err
	}
	in.chanWide, in.chanCust, in.custAny = map[string]int64{}, map[string]int64{}, map[string]int64{}
	in.wideAny, in.custBound = 0, 0
	for _, s := range all {
		if s.CustomerID == "" {
			in.chanWide[s.Channel] |= s.EventTypes
			in.wideAny |= s.EventTypes
			continue
		}
		in.chanCust[s.Channel+"\x00"+s.CustomerID] |= s.EventTypes
		in.custAny[s.CustomerID] |= s.EventTypes
		in.custBound |= s.EventTypes
	}
	in.loaded, in.version = true, v
	return nil
}

// Filter is the consumers' filter (events.WithFilter). It answers as the
// handler would match, without writing:
//   - an OrderAccepted event is always kept: its transaction records the
//     order's owner (order_owners), which routes the order's later
//     shipment and return changes to its channel's subscriptions,
//     including ones created after the order was placed;
//   - another order change is kept when a subscription of the order's
//     channel that sees the order's customer takes order changes;
//   - a shipment or return change is dropped at once when no subscription
//     anywhere takes its type; otherwise the filter reads the order's owner
//     (a point read) and keeps it when a subscription of the owner's
//     channel that sees the owner's customer takes it, or, for an order
//     never seen, when a subscription bound to the change's customer does
//     (the handler's rule for unknown owners);
//   - an event it cannot classify is kept (the handler decides, e.g.
//     dead-letters a shipment event without a shipment); an order event
//     without an order, which the handler ignores, is dropped.
func (in *Interests) Filter() events.Filter {
	return func(ctx context.Context, ev events.Event) (bool, error) {
		var typ notifyv1.EventType
		var channel, customer, order string
		switch m := ev.Payload.(type) {
		case *fulfillmentv1.ShipmentUpdatedEvent:
			sh := m.GetShipment()
			if sh == nil {
				return true, nil
			}
			typ, customer, order = notifyv1.EventType_EVENT_TYPE_SHIPMENT_STATUS_CHANGED, sh.GetCustomerId(), sh.GetOrderId()
		case interface {
			GetReturnAuthorization() *orderv1.ReturnAuthorization
		}:
			ra := m.GetReturnAuthorization()
			if ra == nil {
				return true, nil
			}
			typ, customer, order = notifyv1.EventType_EVENT_TYPE_RETURN_STATUS_CHANGED, ra.GetCustomerId(), ra.GetOrderId()
		default:
			o := orderOf(ev.Payload)
			if o == nil {
				return false, nil // the handler ignores it
			}
			if _, accepted := ev.Payload.(*orderv1.OrderAcceptedEvent); accepted {
				return true, nil
			}
			typ, channel, customer = notifyv1.EventType_EVENT_TYPE_ORDER_STATUS_CHANGED, o.GetChannel(), o.GetCustomerId()
		}
		bit := int64(1) << int(typ)
		in.mu.Lock()
		defer in.mu.Unlock()
		if err := in.refresh(ctx); err != nil {
			return false, err
		}
		if channel == "" { // a shipment or return change
			if (in.wideAny|in.custBound)&bit == 0 {
				return false, nil
			}
			ch, cust, known, err := in.store.OrderOwner(ctx, order)
			if err != nil {
				return false, err
			}
			if !known {
				return in.custAny[customer]&bit != 0, nil
			}
			channel, customer = ch, cust
		}
		return (in.chanWide[channel]|in.chanCust[channel+"\x00"+customer])&bit != 0, nil
	}
}
