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
//   - PushApplier applies the events a push adapter sends
//     (ApplyWmsEvents) by the same rules as the poller.
//   - EffectRunner executes those side effects (inventory
//     CommitReservation, order RecordShipmentProgress) with retries, in
//     order per order and kind, several orders at once.
//   - Canceller cancels an order's requests at the WMS and here
//     (CancelFulfillment).
//
// The workers see the domain only: the fulfillment.Store and the WMS,
// Inventory and Orders ports, never a proto or the SQL store.
package worker

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

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

// Schedule is how a queue worker paces itself.
type Schedule struct {
	// Interval is the pause between rounds when nothing wakes the worker
	// (default 500ms).
	Interval time.Duration
	// Backoff spaces the attempts of one item (default DefaultBackoff).
	Backoff Backoff
	// BatchSize bounds the items one round takes.
	BatchSize int
}

// withDefaults fills in the defaults of the unset fields, batch for
// BatchSize.
func (s Schedule) withDefaults(batch int) Schedule {
	if s.Interval <= 0 {
		s.Interval = 500 * time.Millisecond
	}
	if s.Backoff.Base <= 0 {
		s.Backoff = DefaultBackoff
	}
	if s.BatchSize <= 0 {
		s.BatchSize = batch
	}
	return s
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
