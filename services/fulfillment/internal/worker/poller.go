package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

// Feed reads the WMS shipment event feed. Errors are the domain's
// dependency errors (see package depcall).
type Feed interface {
	ListShipmentEvents(ctx context.Context, cursor string, pageSize int32) (*wmsv1.ListShipmentEventsResponse, error)
}

// PollerConfig configures a Poller.
type PollerConfig struct {
	// Source names the WMS feed; cursors and event ids are per source.
	Source string
	// Interval is the pause between polls once the feed is caught up.
	Interval time.Duration
	// PageSize is the number of events asked per poll (default 100).
	PageSize int32
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Published is called after a commit that wrote outbox events.
	Published func()
	// EffectsQueued is called after a commit that queued side effects.
	EffectsQueued func()
	// Metrics records KPIs (optional).
	Metrics *Metrics
}

// Poller applies the WMS shipment event feed.
type Poller struct {
	store *sqlstore.Store
	feed  Feed
	cfg   PollerConfig
}

// NewPoller returns a poller; run it with Run.
func NewPoller(store *sqlstore.Store, feed Feed, cfg PollerConfig) *Poller {
	if cfg.Source == "" {
		cfg.Source = "wms"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
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
	return &Poller{store: store, feed: feed, cfg: cfg}
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	loop(ctx, p.cfg.Logger, "wms poller", p.cfg.Interval, nil, p.PollOnce)
}

// PollOnce reads one page from the stored cursor and applies it in one
// transaction together with the new cursor. more reports that the WMS has
// more events right now.
func (p *Poller) PollOnce(ctx context.Context) (more bool, err error) {
	cur, err := p.store.Cursor(ctx, p.cfg.Source)
	if err != nil {
		return false, err
	}
	res, err := p.feed.ListShipmentEvents(ctx, cur, p.cfg.PageSize)
	var rej *fulfillment.DependencyRejectedError
	if errors.As(err, &rej) && cur != "" && (rej.Reason == reasonCursorExpired || rej.Reason == reasonInvalidCursor) {
		// The stored cursor is no longer usable (retention passed, adapter
		// replaced): restart from the oldest retained event. Events already
		// applied are skipped by their ids.
		p.cfg.Logger.ErrorContext(ctx, "wms feed cursor refused; restarting the feed from the oldest retained event",
			slog.String("source", p.cfg.Source), slog.String("reason", rej.Reason))
		return true, p.store.InTx(ctx, func(tx *sqlstore.Tx) error {
			return tx.SetCursor(ctx, p.cfg.Source, "", p.cfg.Now())
		})
	}
	if err != nil {
		return false, fmt.Errorf("list shipment events: %w", err)
	}
	if len(res.GetShipmentEvents()) == 0 && (res.GetNextCursor() == cur || res.GetNextCursor() == "") {
		return false, nil
	}
	var published, queued bool
	var rejected []string
	var results []applyResult
	err = p.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		published, queued, rejected, results = false, false, nil, nil
		stored, err := tx.Cursor(ctx, p.cfg.Source)
		if err != nil {
			return err
		}
		if stored != cur {
			return errCursorMoved // another poller applied this page
		}
		for _, ev := range res.GetShipmentEvents() {
			r, err := p.apply(ctx, tx, ev)
			if err != nil {
				return fmt.Errorf("apply wms event %s: %w", ev.GetEventId(), err)
			}
			results = append(results, r)
			published = published || r.published
			queued = queued || r.queued
			if r.rejected != "" {
				rejected = append(rejected, ev.GetEventId()+": "+r.rejected)
			}
		}
		if res.GetNextCursor() == "" {
			return nil
		}
		return tx.SetCursor(ctx, p.cfg.Source, res.GetNextCursor(), p.cfg.Now())
	})
	if errors.Is(err, errCursorMoved) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	observe(p.cfg.Metrics, results)
	for _, r := range rejected {
		p.cfg.Logger.ErrorContext(ctx, "wms event rejected; recorded for the exception desk",
			slog.String("source", p.cfg.Source), slog.String("event", r))
	}
	if published {
		p.cfg.Published()
	}
	if queued {
		p.cfg.EffectsQueued()
	}
	return res.GetHasMore(), nil
}

// ErrorInfo reasons of the wms.v1 feed that make the poller restart it.
var (
	reasonCursorExpired = wmsv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED.String()
	reasonInvalidCursor = wmsv1.ErrorReason_ERROR_REASON_INVALID_CURSOR.String()
)

var errCursorMoved = errors.New("wms cursor moved during the poll")

type applyResult struct {
	published, queued, duplicate bool
	// reused marks a duplicate id with other content.
	reused    bool
	rejected  string
	rejection *fulfillment.RejectionError
	// resource is the name of what the event applied to.
	resource string
	// propagation is the milestone's occur-to-record time, 0 if unknown.
	propagation time.Duration
}

// observe records the KPIs of applied events.
func observe(m *Metrics, results []applyResult) {
	if m == nil {
		return
	}
	for _, r := range results {
		switch {
		case r.duplicate:
			m.WMSEvents.WithLabelValues("duplicate").Inc()
		case r.rejected != "":
			m.WMSEvents.WithLabelValues("rejected").Inc()
		default:
			m.WMSEvents.WithLabelValues("applied").Inc()
			if r.propagation > 0 {
				m.Propagation.Observe(r.propagation.Seconds())
			}
		}
	}
}

func eventFingerprint(ev proto.Message) (string, []byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b, nil
}

// apply applies one WMS feed event inside tx. Business refusals are
// recorded as REJECTED events and do not fail the page.
func (p *Poller) apply(ctx context.Context, tx *sqlstore.Tx, wev *wmsv1.ShipmentEvent) (applyResult, error) {
	now := p.cfg.Now()
	return applyOnce(ctx, tx, p.cfg.Logger, p.cfg.Source, wev.GetEventId(), wev.GetShipmentRequestId(), wev, now,
		func() (applyResult, error) {
			state, ok := fulfillmentpb.ShipmentStateFromWMS(wev.GetState())
			if !ok {
				if wev.GetState() == wmsv1.ShipmentRequest_STATE_CANCELLED {
					return cancelRequest(ctx, tx, wev.GetShipmentRequestId(), now)
				}
				return applyResult{}, nil // ACCEPTED/REJECTED milestones carry nothing new
			}
			return applyMilestone(ctx, tx, p.cfg.Source, fulfillmentpb.ShipmentEventFromWMS(wev, state), now)
		})
}

// applyOnce runs fn for the WMS event (source, eventID) unless it was
// seen before, and records the event with its outcome. A repeated event is
// a duplicate (reused with other content: rejected as EVENT_ID_REUSED,
// nothing changed); a *fulfillment.RejectionError from fn is recorded as
// REJECTED and returned in the result, not as an error.
func applyOnce(ctx context.Context, tx *sqlstore.Tx, log *slog.Logger, source, eventID, requestID string,
	msg proto.Message, now time.Time, fn func() (applyResult, error)) (applyResult, error) {
	fp, payload, err := eventFingerprint(msg)
	if err != nil {
		return applyResult{}, err
	}
	seen, ok, err := tx.LookupWMSEvent(ctx, source, eventID)
	if err != nil {
		return applyResult{}, err
	}
	if ok {
		if seen.Fingerprint != fp {
			log.WarnContext(ctx, "wms event id reused with different content; ignored",
				slog.String("source", source), slog.String("event_id", eventID))
			return applyResult{duplicate: true, reused: true}, nil
		}
		return applyResult{duplicate: true}, nil
	}
	rec := sqlstore.WMSEvent{
		Source: source, EventID: eventID, Fingerprint: fp, RequestID: requestID,
		Outcome: sqlstore.OutcomeApplied, Payload: payload, RecordTime: now,
	}
	res, err := fn()
	if rj := fulfillment.AsRejection(err); rj != nil {
		rec.Outcome, rec.Reason, rec.Detail = sqlstore.OutcomeRejected, string(rj.Reason), rj.Message
		res = applyResult{rejected: string(rj.Reason) + ": " + rj.Message, rejection: rj}
	} else if err != nil {
		return applyResult{}, err
	}
	return res, tx.RecordWMSEvent(ctx, rec)
}

func unknownRequest(id string) error {
	return &fulfillment.RejectionError{
		Reason: fulfillment.RejectUnknownRequest, Message: "event names an unknown fulfilment request",
		Metadata: map[string]string{"fulfillment_request_id": id},
	}
}

// cancelRequest records that the WMS cancelled a request on its own.
func cancelRequest(ctx context.Context, tx *sqlstore.Tx, id string, now time.Time) (applyResult, error) {
	req, err := tx.GetRequest(ctx, id)
	if errors.Is(err, fulfillment.ErrRequestNotFound) {
		return applyResult{}, unknownRequest(id)
	}
	if err != nil {
		return applyResult{}, err
	}
	res := applyResult{resource: fulfillmentpb.RequestName(req.OrderID, req.ID)}
	if req.CancelByWMS("cancelled by the WMS", now) {
		return res, tx.UpdateRequest(ctx, req)
	}
	return res, nil
}

// applyMilestone applies a shipment milestone of ev.RequestID inside tx:
// shipment and request rows, ShipmentUpdatedEvent and side effects.
func applyMilestone(ctx context.Context, tx *sqlstore.Tx, source string, ev fulfillment.ShipmentEvent, now time.Time) (applyResult, error) {
	req, err := tx.GetRequest(ctx, ev.RequestID)
	if errors.Is(err, fulfillment.ErrRequestNotFound) {
		return applyResult{}, unknownRequest(ev.RequestID)
	}
	if err != nil {
		return applyResult{}, err
	}
	sh, err := findShipment(ctx, tx, req.ID, ev.WMSReference)
	if err != nil {
		return applyResult{}, err
	}
	out, err := fulfillment.ApplyShipmentEvent(req, sh, ev, now)
	if err != nil {
		return applyResult{}, err
	}
	if out.Created {
		err = tx.InsertShipment(ctx, out.Shipment)
	} else {
		err = tx.UpdateShipment(ctx, out.Shipment)
	}
	if err != nil {
		return applyResult{}, err
	}
	if out.RequestChanged {
		if err := tx.UpdateRequest(ctx, out.Request); err != nil {
			return applyResult{}, err
		}
	}
	res := applyResult{resource: fulfillmentpb.ShipmentName(out.Shipment.OrderID, out.Shipment.ID)}
	if !ev.OccurTime.IsZero() && now.After(ev.OccurTime) {
		res.propagation = now.Sub(ev.OccurTime)
	}
	eventID := derivedEventID(source, ev.EventID)
	if out.Created || !out.Stale {
		res.published = true
		prev := out.PreviousState
		if err := writeEvent(ctx, tx, "shipment", out.Shipment.ID, SubjectShipmentUpdated, eventID, now,
			func(md *commonv1.EventMetadata) proto.Message {
				return &fulfillmentv1.ShipmentUpdatedEvent{
					Metadata:      md,
					Shipment:      fulfillmentpb.ShipmentToProto(out.Shipment),
					PreviousState: fulfillmentv1.Shipment_State(prev),
					WmsEventId:    ev.EventID,
				}
			}); err != nil {
			return applyResult{}, err
		}
	}
	effects, err := shipmentEffects(out, eventID, ev.OccurTime, now)
	if err != nil {
		return applyResult{}, err
	}
	for _, e := range effects {
		if _, err := tx.EnqueueEffect(ctx, e); err != nil {
			return applyResult{}, err
		}
		res.queued = true
	}
	return res, nil
}

// findShipment finds the shipment an event is about: by its WMS
// reference; an event naming a new reference adopts the request's shipment
// that was recorded before packing (no reference yet); an event without a
// reference goes to that unpacked shipment, else to the request's latest
// shipment, else starts a new one (nil).
func findShipment(ctx context.Context, tx *sqlstore.Tx, requestID, ref string) (*fulfillment.Shipment, error) {
	sh, err := tx.FindShipment(ctx, requestID, ref)
	if err == nil || !errors.Is(err, fulfillment.ErrShipmentNotFound) {
		return sh, err
	}
	if ref != "" {
		sh, err = tx.FindShipment(ctx, requestID, "")
		if errors.Is(err, fulfillment.ErrShipmentNotFound) {
			return nil, nil
		}
		return sh, err
	}
	sh, err = tx.LatestShipment(ctx, requestID)
	if errors.Is(err, fulfillment.ErrShipmentNotFound) {
		return nil, nil
	}
	return sh, err
}

// shipmentEffects returns the outbound calls a shipment change requires:
// on shipping, the inventory commit and the order's SHIPPED progress; on
// delivery, the order's DELIVERED progress (which implies shipped when
// both happen at once).
func shipmentEffects(out fulfillment.ShipmentOutcome, eventID string, occur, now time.Time) ([]fulfillment.Effect, error) {
	if occur.IsZero() {
		occur = now
	}
	var effs []fulfillment.Effect
	sh := out.Shipment
	if out.ShippedNow && sh.ReservationID != "" {
		b, err := proto.Marshal(fulfillmentpb.CommitRequest(sh))
		if err != nil {
			return nil, err
		}
		effs = append(effs, fulfillment.Effect{
			Kind: fulfillment.EffectCommitReservation, OrderID: sh.OrderID, Key: sh.ID, Payload: b,
			NextAttemptAt: now, CreateTime: now,
		})
	}
	if out.ShippedNow || out.DeliveredNow {
		b, err := proto.Marshal(fulfillmentpb.ProgressRequest(sh, out.DeliveredNow, eventID, occur))
		if err != nil {
			return nil, err
		}
		effs = append(effs, fulfillment.Effect{
			Kind: fulfillment.EffectRecordShipmentProgress, OrderID: sh.OrderID, Key: eventID, Payload: b,
			NextAttemptAt: now, CreateTime: now,
		})
	}
	return effs, nil
}
