package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// applyResult is the outcome of one WMS event with what its commit must
// trigger.
type applyResult struct {
	fulfillment.WMSEventResult
	// reused marks an event id seen before with other content.
	reused            bool
	published, queued bool
	// propagation is the milestone's occur-to-record time, 0 if unknown.
	propagation time.Duration
}

// afterCommit records the KPIs of applied events, logs the rejected ones
// for the exception desk and wakes the relay and the effect runner, once
// the transaction that applied them committed.
func (c Common) afterCommit(ctx context.Context, source string, results []applyResult) {
	published, queued := false, false
	for _, r := range results {
		published, queued = published || r.published, queued || r.queued
		switch {
		case r.Outcome == fulfillment.WMSEventDuplicate || r.reused:
			c.count("duplicate")
		case r.Outcome == fulfillment.WMSEventRejected:
			c.count("rejected")
			c.Logger.ErrorContext(ctx, "wms event rejected; recorded for the exception desk",
				slog.String("source", source), slog.String("event_id", r.EventID),
				slog.String("reason", string(r.Reason)), slog.String("message", r.Message))
		default:
			c.count("applied")
			if c.Metrics != nil && r.propagation > 0 {
				c.Metrics.Propagation.Observe(r.propagation.Seconds())
			}
		}
	}
	if published {
		c.Published()
	}
	if queued {
		c.EffectsQueued()
	}
}

func (c Common) count(outcome string) {
	if c.Metrics != nil {
		c.Metrics.WMSEvents.WithLabelValues(outcome).Inc()
	}
}

// batch is what the transaction applying a page or push of WMS events
// remembers across its events: the SHIPPED progress reports it queued, per
// shipment, so a delivery later in the same transaction replaces its
// shipment's report (DELIVERED implies shipped, and the order service
// moves through both states in one call) instead of adding a second call.
type batch struct {
	shippedReport map[string]string // shipment id → effect key
}

func newBatch() *batch { return &batch{shippedReport: map[string]string{}} }

// eventBuffer is the transaction of a page or push of WMS events with its
// outbox writes held back: WriteEvent only remembers the event, and flush
// writes them all, in order, as one outbox batch (two statements for the
// page instead of two per event; a shipment's four milestones in one page
// were eight). The events are built from fresh copies each event's apply
// read, so holding them until flush cannot change what they say.
type eventBuffer struct {
	fulfillment.Tx
	held []fulfillment.Event
}

func (b *eventBuffer) WriteEvent(_ context.Context, ev fulfillment.Event) error {
	b.held = append(b.held, ev)
	return nil
}

// flush writes the held events; call it before the transaction commits.
func (b *eventBuffer) flush(ctx context.Context) error {
	if len(b.held) == 0 {
		return nil
	}
	err := b.WriteEvents(ctx, b.held)
	b.held = nil
	return err
}

// wmsEventPrefetcher is a transaction that can look up a page's WMS
// events in one read before they are applied (sqlstore.Tx).
type wmsEventPrefetcher interface {
	PrefetchWMSEvents(ctx context.Context, source string, ids []string) error
}

// prefetchSeen lets tx look up whether evs were seen before in one read
// when it can; applyEvent's lookups then cost no statement each.
func prefetchSeen(ctx context.Context, tx fulfillment.Tx, source string, evs []fulfillment.WMSEvent) error {
	p, ok := tx.(wmsEventPrefetcher)
	if !ok || len(evs) == 0 {
		return nil
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return p.PrefetchWMSEvents(ctx, source, ids)
}

// applyEvent applies one WMS event from source inside tx unless it was
// seen before, and records it with its outcome. A repeated event is a
// duplicate (reused with other content: rejected as EVENT_ID_REUSED,
// nothing changed); a business refusal is recorded as REJECTED and
// returned in the result, not as an error, so it does not block the feed.
func applyEvent(ctx context.Context, tx fulfillment.Tx, b *batch, log *slog.Logger, source string, ev fulfillment.WMSEvent, now time.Time) (applyResult, error) {
	res := applyResult{WMSEventResult: fulfillment.WMSEventResult{EventID: ev.ID, Outcome: fulfillment.WMSEventApplied}}
	seen, ok, err := tx.LookupWMSEvent(ctx, source, ev.ID)
	if err != nil {
		return applyResult{}, err
	}
	if ok {
		if seen.Fingerprint != ev.Fingerprint {
			log.WarnContext(ctx, "wms event id reused with different content; ignored",
				slog.String("source", source), slog.String("event_id", ev.ID))
			res.Outcome, res.reused = fulfillment.WMSEventRejected, true
			res.Reason, res.Message = fulfillment.RejectEventIDReused, "event id was applied before with different content"
			return res, nil
		}
		res.Outcome = fulfillment.WMSEventDuplicate
		return res, nil
	}
	rec := fulfillment.WMSEventRecord{
		Source: source, EventID: ev.ID, Fingerprint: ev.Fingerprint, RequestID: ev.RequestID,
		Outcome: fulfillment.WMSEventApplied, Payload: ev.Payload, RecordTime: now,
	}
	err = applyKind(ctx, tx, b, source, ev, now, &res)
	if rj := fulfillment.AsRejection(err); rj != nil {
		rec.Outcome, rec.Reason, rec.Detail = fulfillment.WMSEventRejected, string(rj.Reason), rj.Message
		res = applyResult{WMSEventResult: fulfillment.WMSEventResult{
			EventID: ev.ID, Outcome: fulfillment.WMSEventRejected, Reason: rj.Reason, Message: rj.Message,
		}}
		if rj.Mismatch != nil {
			// Recorded with the refusal, so the desk hears of it once.
			res.published = true
			err := tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventShipmentMismatch, Mismatch: rj.Mismatch,
				WMSEventID: ev.ID, OccurTime: now})
			if err != nil {
				return applyResult{}, err
			}
		}
		if ev.Kind == fulfillment.WMSEventReturnReceipt {
			// Goods came back that Transload cannot book: the desk decides.
			res.published = true
			r := ev.Receipt
			err := tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventReturnReceiptRefused, OccurTime: now,
				ReturnRefusal: &fulfillment.ReturnRefusal{ExpectedReturnID: r.ExpectedReturnID, OrderID: r.OrderID,
					WarehouseID: r.WarehouseID, WMSEventID: ev.ID, Reason: rj.Reason, Message: rj.Message}})
			if err != nil {
				return applyResult{}, err
			}
		}
	} else if err != nil {
		return applyResult{}, err
	}
	return res, tx.RecordWMSEvent(ctx, rec)
}

// applyKind applies what ev reports to res's request or shipment.
func applyKind(ctx context.Context, tx fulfillment.Tx, b *batch, source string, ev fulfillment.WMSEvent, now time.Time, res *applyResult) error {
	switch ev.Kind {
	case fulfillment.WMSEventIgnored:
		return nil
	case fulfillment.WMSEventShipment:
		return applyMilestone(ctx, tx, b, source, ev.Shipment, now, res)
	case fulfillment.WMSEventCancelled:
		_, _, err := updateRequest(ctx, tx, ev.RequestID, res, func(r *fulfillment.Request) bool {
			return r.CancelByWMS("cancelled by the WMS", now)
		})
		return err
	case fulfillment.WMSEventAcknowledgement:
		var prev fulfillment.RequestState
		r, changed, err := updateRequest(ctx, tx, ev.RequestID, res, func(r *fulfillment.Request) bool {
			if !r.State.Open() {
				return false // already answered, cancelled or completed
			}
			prev = r.State
			r.Answered(ev.Answer, now)
			return true
		})
		if err != nil || !changed || r.State != fulfillment.RequestFailed {
			return err
		}
		res.published = true
		return tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventRequestFailed, Request: r, PreviousRequestState: prev,
			WMSCode: ev.Answer.RejectionReason, WMSMessage: ev.Answer.RejectionMessage, OccurTime: now})
	case fulfillment.WMSEventReturnReceipt:
		return applyReturnReceipt(ctx, tx, source, ev.Receipt, now, res)
	case fulfillment.WMSEventUnsupported:
		return &fulfillment.RejectionError{Reason: fulfillment.RejectNotSupported, Message: "unsupported wms event"}
	default:
		return &fulfillment.RejectionError{Reason: fulfillment.RejectNotSupported, Message: "unknown wms event kind"}
	}
}

func unknownRequest(id string) error {
	return &fulfillment.RejectionError{
		Reason: fulfillment.RejectUnknownRequest, Message: "event names an unknown fulfilment request",
		Metadata: map[string]string{"fulfillment_request_id": id},
	}
}

// updateRequest applies change to request id inside tx and stores the
// request when change reports a change; an unknown id is a
// RejectUnknownRequest. res names the request.
func updateRequest(ctx context.Context, tx fulfillment.Tx, id string, res *applyResult, change func(*fulfillment.Request) bool) (*fulfillment.Request, bool, error) {
	r, err := tx.GetRequest(ctx, id)
	if errors.Is(err, fulfillment.ErrRequestNotFound) {
		return nil, false, unknownRequest(id)
	}
	if err != nil {
		return nil, false, err
	}
	res.OrderID, res.RequestID = r.OrderID, r.ID
	if !change(r) {
		return r, false, nil
	}
	return r, true, tx.UpdateRequest(ctx, r)
}

// applyMilestone applies a shipment milestone of ev.RequestID inside tx:
// shipment and request rows, ShipmentUpdatedEvent and side effects.
func applyMilestone(ctx context.Context, tx fulfillment.Tx, b *batch, source string, ev fulfillment.ShipmentEvent, now time.Time, res *applyResult) error {
	req, err := tx.GetRequest(ctx, ev.RequestID)
	if errors.Is(err, fulfillment.ErrRequestNotFound) {
		return unknownRequest(ev.RequestID)
	}
	if err != nil {
		return err
	}
	sh, err := findShipment(ctx, tx, req.ID, ev.WMSReference)
	if err != nil {
		return err
	}
	out, err := fulfillment.ApplyShipmentEvent(req, sh, ev, now)
	if err != nil {
		return err
	}
	if out.Created {
		err = tx.InsertShipment(ctx, out.Shipment)
	} else {
		err = tx.UpdateShipment(ctx, out.Shipment)
	}
	if err != nil {
		return err
	}
	if out.RequestChanged {
		if err := tx.UpdateRequest(ctx, out.Request); err != nil {
			return err
		}
	}
	res.OrderID, res.RequestID, res.ShipmentID = out.Shipment.OrderID, out.Shipment.RequestID, out.Shipment.ID
	if !ev.OccurTime.IsZero() && now.After(ev.OccurTime) {
		res.propagation = now.Sub(ev.OccurTime)
	}
	eventID := derivedEventID(source, ev.EventID)
	if out.Created || !out.Stale {
		res.published = true
		err := tx.WriteEvent(ctx, fulfillment.Event{
			Type: fulfillment.EventShipmentUpdated, ID: eventID, Shipment: out.Shipment,
			PreviousShipmentState: out.PreviousState, WMSEventID: ev.EventID, OccurTime: now,
		})
		if err != nil {
			return err
		}
	}
	for _, e := range shipmentEffects(out, eventID, ev.OccurTime, now) {
		if err := b.enqueue(ctx, tx, e); err != nil {
			return err
		}
		res.queued = true
	}
	return nil
}

// enqueue queues e in tx; a DELIVERED report first drops the SHIPPED
// report of its shipment queued earlier in the same transaction, which was
// never sent.
func (b *batch) enqueue(ctx context.Context, tx fulfillment.Tx, e fulfillment.Effect) error {
	p := e.Progress
	if p != nil && p.Delivered {
		if key, ok := b.shippedReport[p.ShipmentID]; ok {
			delete(b.shippedReport, p.ShipmentID)
			if _, err := tx.DropPendingEffect(ctx, e.Kind, key); err != nil {
				return err
			}
		}
	}
	created, err := tx.EnqueueEffect(ctx, e)
	if err != nil {
		return err
	}
	if p != nil && !p.Delivered && created {
		b.shippedReport[p.ShipmentID] = e.Key
	}
	return nil
}

// findShipment finds the shipment an event is about: by its WMS
// reference; an event naming a new reference adopts the request's shipment
// that was recorded before packing (no reference yet); an event without a
// reference goes to that unpacked shipment, else to the request's latest
// shipment, else starts a new one (nil).
func findShipment(ctx context.Context, tx fulfillment.Tx, requestID, ref string) (*fulfillment.Shipment, error) {
	sh, err := tx.FindShipment(ctx, requestID, ref)
	if err == nil || !errors.Is(err, fulfillment.ErrShipmentNotFound) {
		return sh, err
	}
	if ref != "" {
		sh, err = tx.FindShipment(ctx, requestID, "")
	} else {
		sh, err = tx.LatestShipment(ctx, requestID)
	}
	if errors.Is(err, fulfillment.ErrShipmentNotFound) {
		return nil, nil
	}
	return sh, err
}

// shipmentEffects returns the outbound calls a shipment change requires:
// on shipping, the inventory commit and the order's SHIPPED progress; on
// delivery, the order's DELIVERED progress (which implies shipped when
// both happen at once).
func shipmentEffects(out fulfillment.ShipmentOutcome, eventID string, occur, now time.Time) []fulfillment.Effect {
	if occur.IsZero() {
		occur = now
	}
	var effs []fulfillment.Effect
	sh := out.Shipment
	if out.ShippedNow && sh.ReservationID != "" {
		effs = append(effs, fulfillment.CommitEffect(sh.OrderID, sh.Commit(), now))
	}
	if out.ShippedNow || out.DeliveredNow {
		effs = append(effs, fulfillment.ProgressEffect(sh.Progress(out.DeliveredNow, eventID, occur), now))
	}
	return effs
}
