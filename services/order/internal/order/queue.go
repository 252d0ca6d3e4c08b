package order

import (
	"context"
	"time"
)

// StartedSubmission is Store.StartSubmissions's result for one entry:
// the order StartSubmission would return, or its ErrNotFound.
type StartedSubmission struct {
	Order *Order
	Err   error
}

// HeldUpdate is one update of Store.UpdateOrdersFrom: UpdateOrderFrom's
// arguments.
type HeldUpdate struct {
	Ctx   context.Context //nolint:containedctx // each update carries its own trace
	Order *Order
	Fn    func(o *Order) (Effects, error)
}

// maxBlockers bounds the customer blockers of one queue status: the
// oldest are the ones to look at first, and the answer stays small when
// many customers are stuck behind an ERP outage.
const maxBlockers = 100

// QueueStatus is the ERP queue as operators see it.
type QueueStatus struct {
	// Depth counts waiting entries, in-flight ones included.
	Depth    int
	InFlight int
	// OldestCreateAt is zero when the queue is empty.
	OldestCreateAt time.Time
	// Parked counts parked entries (in Depth); they are not Blockers.
	Parked int
	// BreakerState is the ERP breaker's "closed", "open" or "half-open".
	BreakerState string
	// LastError, LastErrorAt, LastSuccessAt and SubmittedLastHour are what
	// this process's worker saw of the ERP since it started.
	LastError         string
	LastErrorAt       time.Time
	LastSuccessAt     time.Time
	SubmittedLastHour int
	// Blockers are the customers' failing head-of-line entries, oldest
	// first (at most 100).
	Blockers []QueueBlocker
}

// QueueStatus returns the state of the ERP queue: depth, in-flight count
// and oldest entry from the store, the breaker, what the worker saw of the
// ERP, and the per-customer blockers.
func (w *Worker) QueueStatus(ctx context.Context) (QueueStatus, error) {
	now := w.svc.now()
	st := w.svc.d.Store
	stats, err := st.QueueStats(ctx, now)
	if err != nil {
		return QueueStatus{}, err
	}
	blockers, err := st.QueueBlockers(ctx, maxBlockers)
	if err != nil {
		return QueueStatus{}, err
	}
	out := QueueStatus{
		Depth: stats.Depth, InFlight: stats.InFlight, OldestCreateAt: stats.OldestCreateAt, Parked: stats.Parked,
		BreakerState: w.cfg.BreakerState(), Blockers: blockers,
	}
	w.activity.read(now, &out)
	return out, nil
}

// RetryQueueEntry makes the order's queue entry due now (clearing its
// backoff, its strikes and a parking), records who asked in the audit trail in the same transaction,
// and wakes the worker, which also stops waiting out a halt of the whole
// queue (the ERP breaker still decides whether the call goes out). It
// returns the entry as it is now; ErrQueueEntryNotFound when the order has
// none.
func (w *Worker) RetryQueueEntry(ctx context.Context, orderID string, actor Actor) (QueueEntry, error) {
	now := w.svc.now()
	e, err := w.svc.d.Store.RetryQueueEntry(ctx, orderID, now, func(before, after QueueEntry) Audit {
		return Audit{Actor: actor, Action: AuditQueueEntryRetry, Target: QueueEntryName(orderID), Before: before, After: after, OccurredAt: now}
	})
	if err != nil {
		return QueueEntry{}, err
	}
	w.expedite.Store(true)
	w.Notify()
	w.svc.tick()
	return e, nil
}

// ListQueueEntries returns one page of the ERP queue in queue order; a
// state filter is applied as of now.
func (s *Service) ListQueueEntries(ctx context.Context, q QueueQuery) ([]QueueEntry, error) {
	q.Now = s.now()
	return s.d.Store.ListQueueEntries(ctx, q)
}

// GetQueueEntry returns the order's ERP queue entry (ErrQueueEntryNotFound
// when it has none).
func (s *Service) GetQueueEntry(ctx context.Context, orderID string) (QueueEntry, error) {
	return s.d.Store.GetQueueEntry(ctx, orderID)
}

// Now returns the service clock's current time (UTC), so callers derive
// queue entry states from the same clock as the store's filters.
func (s *Service) Now() time.Time { return s.now() }
