// Package worker runs the fulfillment service's background loops, each
// driven from durable state in the service's database so nothing is lost
// when a neighbour or the process goes down:
//
//   - Dispatcher sends PENDING fulfilment requests to the WMS
//     (CreateShipmentRequest, idempotent on the request id) with backoff.
//   - Poller reads the WMS shipment event feed from the stored cursor and
//     applies each event once (de-duplicated on the event id), recording
//     shipments, their outbox events and the side effects they require in
//     the same transaction that advances the cursor.
//   - EffectRunner executes those side effects (inventory
//     CommitReservation, order RecordShipmentProgress) with retries, in
//     order per order and kind.
package worker

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

// Subjects of the events the service publishes (fulfillment.v1
// events.proto), captured by stream TRANSLOAD_FULFILLMENT.
const (
	SubjectShipmentUpdated          = "transload.fulfillment.shipment_updated"
	SubjectFulfillmentRequestFailed = "transload.fulfillment.fulfillment_request_failed"
)

// Producer is the EventMetadata.producer of the service's events.
const Producer = "fulfillment"

// Common is the configuration every worker shares.
type Common struct {
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

// withDefaults fills in the defaults of the unset fields.
func (c Common) withDefaults() Common {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Published == nil {
		c.Published = func() {}
	}
	if c.EffectsQueued == nil {
		c.EffectsQueued = func() {}
	}
	return c
}

// Backoff is an exponential retry schedule with jitter.
type Backoff struct {
	// Base is the pause after the first failure.
	Base time.Duration
	// Max caps the pause.
	Max time.Duration
}

// DefaultBackoff starts at 200ms and caps at 30s.
var DefaultBackoff = Backoff{Base: 200 * time.Millisecond, Max: 30 * time.Second}

// After returns the pause after the given number of failed attempts (1 for
// the first), in [d/2, d] where d = Base·2^(attempts-1) capped at Max.
func (b Backoff) After(attempts int) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	d := b.Base
	for i := 1; i < attempts && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	half := int64(d / 2)
	return time.Duration(half + rand.Int64N(half+1))
}

// eventNamespace derives deterministic event ids from WMS event ids.
var eventNamespace = uuid.MustParse("6f1d5f53-4f43-4b7e-9a53-9b0f8c6e2a10")

// derivedEventID returns the id of the fulfillment event caused by a WMS
// event: stable across re-polls, so downstream idempotency holds.
func derivedEventID(source, wmsEventID string) string {
	return uuid.NewSHA1(eventNamespace, []byte(source+"/"+wmsEventID)).String()
}

// writeEvent writes an event with its envelope to the outbox as part of
// tx. The envelope's sequence is the next of the aggregate, read under the
// aggregate's lock (the caller holds the aggregate's row).
func writeEvent(ctx context.Context, tx *sqlstore.Tx, aggType, aggID, subject, id string, now time.Time,
	build func(md *commonv1.EventMetadata) proto.Message) error {
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	var last int64
	err := tx.SQL().QueryRowContext(ctx, tx.Dialect().Rebind(
		`SELECT last_seq FROM outbox_aggregate_seq WHERE aggregate_type = ? AND aggregate_id = ?`), aggType, aggID).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	md := &commonv1.EventMetadata{
		EventId: id, AggregateType: aggType, AggregateId: aggID, Sequence: last + 1,
		OccurTime: timestamppb.New(now), Producer: Producer,
	}
	return tx.WriteEvent(ctx, outbox.Event{
		ID: id, AggregateType: aggType, AggregateID: aggID, Subject: subject, Payload: build(md),
	})
}

// writeShipmentUpdated writes the ShipmentUpdatedEvent of a shipment
// change caused by WMS event wmsEventID.
func writeShipmentUpdated(ctx context.Context, tx *sqlstore.Tx, out fulfillment.ShipmentOutcome, eventID, wmsEventID string, now time.Time) error {
	return writeEvent(ctx, tx, "shipment", out.Shipment.ID, SubjectShipmentUpdated, eventID, now,
		func(md *commonv1.EventMetadata) proto.Message {
			return &fulfillmentv1.ShipmentUpdatedEvent{
				Metadata:      md,
				Shipment:      fulfillmentpb.ShipmentToProto(out.Shipment),
				PreviousState: fulfillmentv1.Shipment_State(out.PreviousState),
				WmsEventId:    wmsEventID,
			}
		})
}

// writeRequestFailed writes the FulfillmentRequestFailedEvent of r.
func writeRequestFailed(ctx context.Context, tx *sqlstore.Tx, r *fulfillment.Request, prev fulfillment.RequestState, now time.Time) error {
	return writeEvent(ctx, tx, "fulfillment_request", r.ID, SubjectFulfillmentRequestFailed, "", now,
		func(md *commonv1.EventMetadata) proto.Message {
			return &fulfillmentv1.FulfillmentRequestFailedEvent{
				Metadata: md, FulfillmentRequest: fulfillmentpb.RequestToProto(r),
				PreviousState: fulfillmentv1.FulfillmentRequest_State(prev),
			}
		})
}

// writeRequestCancelled writes the FulfillmentRequestCancelledEvent of r.
func writeRequestCancelled(ctx context.Context, tx *sqlstore.Tx, r *fulfillment.Request, prev fulfillment.RequestState, now time.Time) error {
	return writeEvent(ctx, tx, "fulfillment_request", r.ID, SubjectFulfillmentRequestCancelled, "", now,
		func(md *commonv1.EventMetadata) proto.Message {
			return &fulfillmentv1.FulfillmentRequestCancelledEvent{
				Metadata: md, FulfillmentRequest: fulfillmentpb.RequestToProto(r),
				PreviousState: fulfillmentv1.FulfillmentRequest_State(prev),
				Actor:         &commonv1.AuditActor{Kind: "service", Id: "order"},
			}
		})
}

// maxLoopBackoff caps the pause of a loop whose rounds keep failing.
const maxLoopBackoff = 10 * time.Second

// loop calls once until ctx ends: again at once while it reports more
// work, otherwise after interval or when woken.
func loop(ctx context.Context, log *slog.Logger, name string, interval time.Duration, wake <-chan struct{},
	once func(ctx context.Context) (more bool, err error)) {
	t := time.NewTimer(0)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		more, err := once(ctx)
		next := interval
		switch {
		case err != nil && ctx.Err() == nil:
			// Back off while a dependency is down, so an outage costs
			// neither a busy loop nor a log line per interval.
			failures++
			next = min(interval<<min(failures-1, 6), maxLoopBackoff)
			log.WarnContext(ctx, name+" round failed", slog.Any("error", err),
				slog.Int("consecutive_failures", failures), slog.Duration("retry_in", next))
		case err == nil:
			failures = 0
			if more {
				next = 0
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
