package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

// PushConfig configures a PushApplier.
type PushConfig struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Published is called after commits that wrote outbox events.
	Published func()
	// EffectsQueued is called after commits that queued side effects.
	EffectsQueued func()
	// Metrics records KPIs (optional).
	Metrics *Metrics
}

// PushApplier applies WMS events pushed by an adapter (ApplyWmsEvents)
// with the same rules as the feed poller: each event in its own
// transaction with its outbox events and side effects, de-duplicated on
// (source, event id).
type PushApplier struct {
	store *sqlstore.Store
	cfg   PushConfig
}

// NewPushApplier returns a push applier.
func NewPushApplier(store *sqlstore.Store, cfg PushConfig) *PushApplier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Published == nil {
		cfg.Published = func() {}
	}
	if cfg.EffectsQueued == nil {
		cfg.EffectsQueued = func() {}
	}
	return &PushApplier{store: store, cfg: cfg}
}

// Apply applies evs from source in order and then stores cursor (when not
// empty). It returns one result per event and the cursor stored for the
// source. An error means the call failed part way: the events before it
// were applied and resending the batch is safe.
func (a *PushApplier) Apply(ctx context.Context, source, cursor string, evs []*fulfillmentv1.WmsEvent) ([]*fulfillmentv1.WmsEventResult, string, error) {
	results := make([]*fulfillmentv1.WmsEventResult, 0, len(evs))
	var all []applyResult
	defer func() { observe(a.cfg.Metrics, all) }()
	for _, ev := range evs {
		var res applyResult
		err := a.store.InTx(ctx, func(tx *sqlstore.Tx) error {
			var err error
			res, err = a.applyOne(ctx, tx, source, ev)
			return err
		})
		if err != nil {
			return results, "", err
		}
		all = append(all, res)
		if res.published {
			a.cfg.Published()
		}
		if res.queued {
			a.cfg.EffectsQueued()
		}
		results = append(results, resultToProto(ev.GetEventId(), res))
		if res.rejection != nil {
			a.cfg.Logger.ErrorContext(ctx, "pushed wms event rejected; recorded for the exception desk",
				slog.String("source", source), slog.String("event_id", ev.GetEventId()), slog.String("reason", res.rejected))
		}
	}
	if cursor != "" {
		err := a.store.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.SetCursor(ctx, source, cursor, a.cfg.Now()) })
		if err != nil {
			return results, "", err
		}
	}
	stored, err := a.store.Cursor(ctx, source)
	return results, stored, err
}

func (a *PushApplier) applyOne(ctx context.Context, tx *sqlstore.Tx, source string, ev *fulfillmentv1.WmsEvent) (applyResult, error) {
	now := a.cfg.Now()
	var requestID string
	switch p := ev.GetPayload().(type) {
	case *fulfillmentv1.WmsEvent_ShipmentUpdate:
		requestID = p.ShipmentUpdate.GetFulfillmentRequestId()
	case *fulfillmentv1.WmsEvent_FulfillmentAcknowledgement:
		requestID = p.FulfillmentAcknowledgement.GetFulfillmentRequestId()
	}
	return applyOnce(ctx, tx, a.cfg.Logger, source, ev.GetEventId(), requestID, ev, now, func() (applyResult, error) {
		switch p := ev.GetPayload().(type) {
		case *fulfillmentv1.WmsEvent_ShipmentUpdate:
			return applyMilestone(ctx, tx, source, shipmentUpdate(ev, p.ShipmentUpdate), now)
		case *fulfillmentv1.WmsEvent_FulfillmentAcknowledgement:
			return acknowledge(ctx, tx, p.FulfillmentAcknowledgement, now)
		default:
			return applyResult{}, &fulfillment.RejectionError{
				Reason: fulfillment.RejectNotSupported, Message: "return receipts are not supported yet",
			}
		}
	})
}

func shipmentUpdate(ev *fulfillmentv1.WmsEvent, u *fulfillmentv1.WmsShipmentUpdate) fulfillment.ShipmentEvent {
	lines := make([]fulfillment.ShipmentLine, 0, len(u.GetLines()))
	for _, l := range u.GetLines() {
		lines = append(lines, fulfillment.ShipmentLine{OrderLineID: l.GetOrderLineId(), SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return fulfillment.ShipmentEvent{
		EventID:        ev.GetEventId(),
		RequestID:      u.GetFulfillmentRequestId(),
		WarehouseID:    ev.GetWarehouseId(),
		WMSReference:   u.GetWmsShipmentReference(),
		State:          fulfillment.ShipmentState(u.GetState()),
		Carrier:        u.GetCarrier(),
		ServiceLevel:   u.GetServiceLevel(),
		TrackingNumber: u.GetTrackingNumber(),
		TrackingURL:    u.GetTrackingUrl(),
		Lines:          lines,
		Detail:         u.GetDetail(),
		OccurTime:      ev.GetOccurTime().AsTime().UTC(),
	}
}

// acknowledge applies the WMS's asynchronous answer to a request.
func acknowledge(ctx context.Context, tx *sqlstore.Tx, ack *fulfillmentv1.WmsFulfillmentAcknowledgement, now time.Time) (applyResult, error) {
	r, err := tx.GetRequest(ctx, ack.GetFulfillmentRequestId())
	if errors.Is(err, fulfillment.ErrRequestNotFound) {
		return applyResult{}, unknownRequest(ack.GetFulfillmentRequestId())
	}
	if err != nil {
		return applyResult{}, err
	}
	res := applyResult{resource: fulfillmentpb.RequestName(r.OrderID, r.ID)}
	if !r.State.Open() {
		return res, nil // already answered, cancelled or completed
	}
	prev := r.State
	if ack.GetAccepted() {
		r.Acknowledge(ack.GetWmsReference(), now)
		return res, tx.UpdateRequest(ctx, r)
	}
	r.Fail("WMS rejected the request: "+ack.GetRejectionMessage(), now)
	if err := tx.UpdateRequest(ctx, r); err != nil {
		return applyResult{}, err
	}
	res.published = true
	return res, writeEvent(ctx, tx, "fulfillment_request", r.ID, SubjectFulfillmentRequestFailed, "", now,
		func(md *commonv1.EventMetadata) proto.Message {
			return &fulfillmentv1.FulfillmentRequestFailedEvent{
				Metadata: md, FulfillmentRequest: fulfillmentpb.RequestToProto(r),
				PreviousState: fulfillmentv1.FulfillmentRequest_State(prev),
			}
		})
}

func resultToProto(eventID string, r applyResult) *fulfillmentv1.WmsEventResult {
	out := &fulfillmentv1.WmsEventResult{EventId: eventID}
	switch {
	case r.reused:
		out.Outcome = fulfillmentv1.WmsEventResult_OUTCOME_REJECTED
		out.ErrorReason = fulfillmentv1.ErrorReason_ERROR_REASON_EVENT_ID_REUSED
		out.Message = "event id was applied before with different content"
	case r.duplicate:
		out.Outcome = fulfillmentv1.WmsEventResult_OUTCOME_DUPLICATE
	case r.rejection != nil:
		out.Outcome = fulfillmentv1.WmsEventResult_OUTCOME_REJECTED
		out.ErrorReason = fulfillmentv1.ErrorReason(fulfillmentv1.ErrorReason_value["ERROR_REASON_"+string(r.rejection.Reason)])
		out.Message = r.rejection.Message
	default:
		out.Outcome = fulfillmentv1.WmsEventResult_OUTCOME_APPLIED
		out.Resource = r.resource
	}
	return out
}
