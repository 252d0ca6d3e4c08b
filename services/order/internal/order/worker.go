package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// WorkerConfig tunes the ERP queue worker. Zero values take defaults.
type WorkerConfig struct {
	// PollInterval is the longest pause between passes (default 1s).
	PollInterval time.Duration
	// BackoffBase and BackoffMax bound the exponential backoff after
	// failures (defaults 500ms and 10s).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// BatchSize is how many queue entries one pass reads (default 100).
	BatchSize int
	// ReapInterval is how often abandoned CreateOrder claims are cleaned
	// up (default 30s).
	ReapInterval time.Duration
	// LeaseTTL is the singleton lease of the worker (default 15s): with
	// several replicas on one database only the holder works, and a dead
	// holder's lease passes to another replica after LeaseTTL. The holder
	// writes it on acquisition and every third of LeaseTTL (see lead).
	LeaseTTL time.Duration
	// KeyRetention is how long finished idempotency records are kept
	// (default 7 days; the contract promises at least 24 hours).
	KeyRetention time.Duration
	// ResumeTrace returns ctx joined to the trace of an entry's
	// Traceparent, so the ERP call and the events the answer writes belong
	// to the trace of the order's placement (default: ctx unchanged).
	ResumeTrace func(ctx context.Context, traceparent string) context.Context
	// FailureExceptionAfter is how many failed attempts of one queue entry
	// raise ExceptionERPSubmissionFailed; it is raised again at every
	// further multiple (default 5).
	FailureExceptionAfter int
	// BreakerState reports the state of the breaker guarding the ERP
	// (BreakerClosed, BreakerOpen or BreakerHalfOpen) for the queue status
	// and the halt
	// (default: "closed", for a worker whose ERP has no breaker).
	BreakerState func() string
	// Concurrency is how many queue entries of different customers are
	// with the ERP at once (default 16). A customer's entries are still
	// sent one after the other in queue order, each only after the one
	// before it was answered (the ERP orders submissions per customer); 1
	// sends one entry at a time in queue order across customers.
	Concurrency int
	// MaxStrikes is how many failures of its own (see failed) a queue
	// entry may have before it is parked: set aside, visible in the queue
	// status, until an operator retries it or cancels its order, while
	// the customer's later entries go on (default 10; with the backoff of
	// such failures, about a minute and a half of retries).
	MaxStrikes int
	// BreakerPoll is how often a queue halted while the ERP's breaker is
	// open looks at the breaker (default 100ms; an in-memory read). The
	// halt ends as soon as the breaker lets a trial call through, so the
	// queue resumes within about the breaker's open time of the ERP
	// coming back, however long its backoff has grown, and nothing is
	// attempted (nor counted) while the breaker would refuse the call.
	BreakerPoll time.Duration
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	orDefault(&c.PollInterval, time.Second)
	orDefault(&c.BackoffBase, 500*time.Millisecond)
	orDefault(&c.BackoffMax, 10*time.Second)
	orDefault(&c.ReapInterval, 30*time.Second)
	orDefault(&c.LeaseTTL, 15*time.Second)
	orDefault(&c.KeyRetention, 7*24*time.Hour)
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.ResumeTrace == nil {
		c.ResumeTrace = func(ctx context.Context, _ string) context.Context { return ctx }
	}
	if c.FailureExceptionAfter <= 0 {
		c.FailureExceptionAfter = 5
	}
	if c.BreakerState == nil {
		c.BreakerState = func() string { return BreakerClosed }
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultQueueConcurrency
	}
	if c.MaxStrikes <= 0 {
		c.MaxStrikes = DefaultQueueMaxStrikes
	}
	orDefault(&c.BreakerPoll, 100*time.Millisecond)
	return c
}

// DefaultQueueConcurrency is WorkerConfig.Concurrency's default.
const DefaultQueueConcurrency = 16

// DefaultQueueMaxStrikes is WorkerConfig.MaxStrikes's default.
const DefaultQueueMaxStrikes = 10

// The breaker states WorkerConfig.BreakerState reports; the halt decides
// on BreakerOpen. The ERP adapter maps its breaker's states onto these
// (erpclient.BreakerState), so no decision rests on a library's display
// string.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// Worker drains the durable ERP queue (each ERP and inventory call within
// the deadline its connection sets, so the neighbour's breaker counts a slow
// answer): it submits accepted orders to the ERP, each customer's in
// creation order, up to Concurrency customers at once (a transport failure
// halts the whole queue, so no customer's order overtakes an earlier one
// while the ERP is down), applies the ERP's answer (CONFIRMED or REJECTED)
// together with its event, sends cancellations in their customer's order,
// and releases reservations of rejected and cancelled orders.
type Worker struct {
	cfg       WorkerConfig
	svc       *Service
	erp       ERP
	wake      chan struct{}
	log       *slog.Logger
	haltUntil time.Time
	// haltOnBreaker is set while the queue is halted and the ERP's
	// breaker was seen open since: the halt then lasts while the breaker
	// is open and ends as soon as it is not, backoff or not.
	haltOnBreaker bool
	// probe is set when a halt ended early, on the breaker: the next pass
	// asks the ERP for the head entry's customer (a read, no attempt
	// counted, nothing written) and stays halted if it cannot answer.
	probe bool
	// haltRetryAt is the latest next attempt time a halt wrote on the
	// entries it failed: their wait is the halt's, so once the halt ends
	// (perhaps early, on the breaker) they are due, not backing off.
	haltRetryAt time.Time
	// failures counts the passes in a row that a dependency failure
	// halted; after one, the next pass sends a single entry (a probe of
	// the ERP) before it fans out to Concurrency lanes.
	failures  int
	lastReap  time.Time
	lastPurge time.Time
	holder    string
	leading   bool
	// renewAt is when the worker renews the lease it holds (a third of
	// LeaseTTL after taking or renewing it), validUntil when it stops
	// counting on it: two thirds of LeaseTTL after the write, so a holder
	// whose renewals fail stops a third of LeaseTTL before another
	// replica may take over. Both are zero while it does not lead.
	renewAt, validUntil time.Time
	// expedite is set by RetryQueueEntry: the next pass ignores the halt
	// of a queue that waits for the ERP (its breaker still decides).
	expedite atomic.Bool
	activity activity
}

// activity is what the worker saw of the ERP, for the queue status; it is
// kept in memory (each replica tells its own).
type activity struct {
	mu            sync.Mutex
	lastError     string
	lastErrorAt   time.Time
	lastSuccessAt time.Time
	// perMinute counts answered submissions per minute of the last hour,
	// indexed by unix minute modulo 60.
	perMinute [60]struct {
		minute int64
		n      int
	}
}

func (a *activity) failed(at time.Time, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastError, a.lastErrorAt = err.Error(), at
}

func (a *activity) submitted(at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastSuccessAt = at
	m := at.Unix() / 60
	slot := &a.perMinute[m%60]
	if slot.minute != m {
		slot.minute, slot.n = m, 0
	}
	slot.n++
}

// read fills the in-memory fields of st as of now.
func (a *activity) read(now time.Time, st *QueueStatus) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st.LastError, st.LastErrorAt, st.LastSuccessAt = a.lastError, a.lastErrorAt, a.lastSuccessAt
	cur := now.Unix() / 60
	for _, slot := range a.perMinute {
		if slot.minute > cur-60 && slot.minute <= cur {
			st.SubmittedLastHour += slot.n
		}
	}
}

// leaseName is the worker's singleton lease.
const leaseName = "erp-queue"

// NewWorker returns a worker for svc's store that talks to erp.
func NewWorker(cfg WorkerConfig, svc *Service, erp ERP) *Worker {
	return &Worker{cfg: cfg.withDefaults(), svc: svc, erp: erp, wake: make(chan struct{}, 1), log: svc.log, holder: newToken()}
}

// Notify wakes the worker for an early pass. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run processes the queue until ctx ends; it returns nil then. While the
// queue is halted on an open breaker it looks at the breaker every
// BreakerPoll and runs the next pass as soon as the breaker is not open.
func (w *Worker) Run(ctx context.Context) error {
	for {
		next := w.Pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !w.waitNext(ctx, next) {
			return nil
		}
	}
}

// waitNext waits next, a wake-up or, while the queue is halted on an open
// breaker, the breaker leaving the open state; false when ctx ended.
func (w *Worker) waitNext(ctx context.Context, next time.Duration) bool {
	t := time.NewTimer(next)
	defer t.Stop()
	var poll <-chan time.Time
	if w.haltOnBreaker {
		tk := time.NewTicker(w.cfg.BreakerPoll)
		defer tk.Stop()
		poll = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-w.wake:
			return true
		case <-t.C:
			return true
		case <-poll:
			if w.cfg.BreakerState() != BreakerOpen {
				return true
			}
		}
	}
}

// Pass runs one pass over the queue and the release tasks and returns how
// long to wait before the next one.
func (w *Worker) Pass(ctx context.Context) time.Duration {
	next := w.cfg.PollInterval
	if !w.lead(ctx) {
		return next
	}
	if w.expedite.Swap(false) {
		w.haltUntil, w.haltOnBreaker, w.probe = time.Time{}, false, false
	}
	if wait, halted := w.halted(); halted {
		next = min(next, wait)
	} else {
		next = min(next, w.drain(ctx))
	}
	if d, ok := w.releases(ctx); ok {
		next = min(next, d)
	}
	w.housekeep(ctx)
	return max(next, time.Millisecond)
}

// halted reports whether the queue is halted after a dependency failure,
// and for how long at most. A halt lasts its backoff, except that it lasts
// while the ERP's breaker is open (a call would be refused unsent) and
// ends early as soon as a breaker seen open is not any more (the breaker
// lets a trial through: the ERP may be back); the pass after an early end
// probes the ERP before it attempts an entry (see drain), so a down ERP
// gets one cheap read per breaker open time and entries are attempted
// (and their attempts counted) only as the backoff allows.
func (w *Worker) halted() (time.Duration, bool) {
	if w.haltUntil.IsZero() {
		return 0, false
	}
	now := w.svc.now()
	switch state := w.cfg.BreakerState(); {
	case state == BreakerOpen:
		w.haltOnBreaker = true
		return max(w.haltUntil.Sub(now), w.cfg.PollInterval), true
	case !now.Before(w.haltUntil):
		w.probe = false // the backoff ran out: an entry is the trial
	case w.haltOnBreaker:
		w.probe = true // open before, half-open or closed now
	default:
		return w.haltUntil.Sub(now), true
	}
	return 0, false
}

// probeERP asks the ERP for customer (a read through the same breaker)
// and reports whether it answered; not found counts as an answer.
func (w *Worker) probeERP(ctx context.Context, customer string) bool {
	if w.svc.d.Customers == nil {
		return true
	}
	_, err := w.svc.d.Customers.GetCustomer(ctx, customer)
	return !IsDependencyError(err)
}

// laneResult is what one lane reports of the entry it handled: that the
// ERP answered it (answer set, sent before the answer is stored, so the
// customer's next entry may go out while it is), then that the entry is
// done (answered tells whether the answer message came first).
type laneResult struct {
	e                QueueEntry
	answer, answered bool
	err              error
	// retryIn, retryAt and halt are failed's verdict on err.
	retryIn time.Duration
	retryAt time.Time
	halt    bool
}

// drain handles the due queue entries of one batch and returns the wait
// until an entry it skipped or failed is due, or none after a full batch
// that made progress without a halt (the queue may hold more, so a backlog
// drains without waiting PollInterval per batch).
//
// Entries go out in queue order to up to Concurrency lanes, at most one
// entry per customer at a time: a customer's entry is handed out only
// after the customer's earlier entries were answered, so the ERP gets
// each customer's submissions and cancellations in queue order while
// different customers' entries overlap. With Concurrency 1 that is strict
// queue order. A dependency failure halts the whole queue: no further
// entry is handed out and the pass ends when the lanes in flight have
// answered. Any other failure holds back only that customer's later
// entries (the ERP orders submissions per customer). After a halt, one
// entry goes out alone first; the lanes open when it succeeds. The lease
// is checked before each entry is handed out.
//
// Database work is batched without changing any of that: the entries
// handed out at one moment (the free lanes' worth) are started in one
// transaction, and the ERP answers that arrive while earlier ones are
// being stored are stored together in one transaction (recordAnswers), so
// a backlog costs a few commits per batch instead of two per entry. A
// crash before an answer's commit loses nothing acknowledged: the entry
// is still queued and is sent again with the same sales order id, which
// the ERP deduplicates.
func (w *Worker) drain(ctx context.Context) time.Duration {
	next := w.cfg.PollInterval
	entries, err := w.svc.d.Store.NextQueueEntries(ctx, w.cfg.BatchSize)
	if err != nil {
		w.log.ErrorContext(ctx, "read ERP queue", slog.Any("error", err))
		return next
	}
	if w.probe && len(entries) > 0 && !w.probeERP(ctx, entries[0].CustomerID) {
		// Still down (or the breaker's trial slot taken): stay halted
		// without attempting an entry; look again when the breaker lets
		// the next trial through, or when the backoff ends.
		w.haltOnBreaker = true
		return min(next, max(w.haltUntil.Sub(w.svc.now()), w.cfg.BreakerPoll))
	}
	w.haltUntil, w.haltOnBreaker, w.probe = time.Time{}, false, false
	lanes := w.cfg.Concurrency
	if w.failures > 0 {
		lanes = 1 // probe the ERP with one entry before fanning out
	}
	var (
		// failures is w.failures as the lanes see it: reset by a success
		// within the pass, as if the entries had gone out one by one.
		failures atomic.Int64
		done     = make(chan laneResult)
		busy     = map[string]bool{}
		blocked  = map[string]bool{}
		handed   = make([]bool, len(entries))
		inFlight = 0

		progressed, halted, stopped = false, false, false
	)
	failures.Store(int64(w.failures))
	answers := make(chan answerJob)
	var recorder sync.WaitGroup
	recorder.Go(func() { w.recordAnswers(answers) })
	defer func() { close(answers); recorder.Wait() }()
	// pick hands out up to n due entries whose customers are neither busy
	// nor blocked (at most one per customer), in queue order.
	pick := func(n int) []QueueEntry {
		var out []QueueEntry
		for i, e := range entries {
			if len(out) == n {
				break
			}
			if handed[i] || busy[e.CustomerID] {
				continue
			}
			if blocked[e.CustomerID] {
				handed[i] = true // skipped for this pass
				continue
			}
			if now := w.svc.now(); e.NextAttemptAt.After(now) && e.NextAttemptAt.After(w.haltRetryAt) {
				// A permanently failing entry waits for its backoff and
				// holds back later orders of the same customer only.
				handed[i], blocked[e.CustomerID] = true, true
				next = min(next, e.NextAttemptAt.Sub(now))
				continue
			}
			if !w.lead(ctx) {
				stopped = true // another replica took over; it continues in order
				break
			}
			handed[i], busy[e.CustomerID] = true, true
			out = append(out, e)
		}
		return out
	}
	// launch starts the submissions of batch in one transaction and
	// hands each entry to a lane of its own.
	launch := func(batch []QueueEntry) {
		starts := w.startSubmissions(ctx, batch)
		for i, e := range batch {
			inFlight++
			go func() {
				r := laneResult{e: e}
				r.err = w.handle(w.cfg.ResumeTrace(ctx, e.Traceparent), e, starts[i], answers, func() {
					done <- laneResult{e: e, answer: true}
					r.answered = true
				})
				if r.err != nil && ctx.Err() == nil {
					r.retryIn, r.retryAt, r.halt = w.failed(ctx, e, r.err, w.backoff(int(failures.Load())+1))
				}
				done <- r
			}()
		}
	}
	// take applies what a lane reported.
	take := func(r laneResult) {
		if r.answer {
			// The ERP answered: the customer's next entry may go out
			// while this answer is stored (their commits can share a
			// sync). It holds its lane until it is done.
			busy[r.e.CustomerID] = false
			return
		}
		inFlight--
		if !r.answered {
			busy[r.e.CustomerID] = false
		}
		switch {
		case r.err == nil:
			failures.Store(0)
			progressed = true
			lanes = w.cfg.Concurrency
		case ctx.Err() != nil:
		case r.halt:
			halted = true
			next = min(next, r.retryIn)
			if r.retryAt.After(w.haltRetryAt) {
				w.haltRetryAt = r.retryAt
			}
		default:
			blocked[r.e.CustomerID] = true
			next = min(next, r.retryIn)
		}
	}
	for {
		if !halted && !stopped && inFlight < lanes && ctx.Err() == nil {
			launch(pick(lanes - inFlight))
		}
		if inFlight == 0 {
			break
		}
		take(<-done)
		// Let the lanes whose answers were stored in the same commit
		// report too, so their successors start in one transaction.
		runtime.Gosched()
		for more := true; more; {
			select {
			case r := <-done:
				take(r)
			default:
				more = false
			}
		}
	}
	w.failures = int(failures.Load())
	if halted {
		w.failures++
		w.haltUntil = w.svc.now().Add(w.backoff(w.failures))
		w.haltOnBreaker = w.cfg.BreakerState() == BreakerOpen
		return next
	}
	if len(entries) == w.cfg.BatchSize && progressed {
		// A full batch that made progress: more may wait behind it.
		return 0
	}
	return next
}

// failed records a failed attempt on e and returns when to try again (in
// and at), and whether the whole queue halts (the ERP could not answer);
// haltWait is the halt's backoff. It is safe for concurrent use by the
// lanes.
//
// A failure is the entry's own, and counts a strike on it, when it is
// permanent (the adapter refused or could not encode the entry) or when
// the ERP answered it with an unexpected error while it answers a read of
// the entry's customer right after: a poison entry then holds back only
// its customer's later entries, with a backoff, and is parked at
// MaxStrikes (which lets those entries go on). Every other dependency
// failure is the ERP's and halts the queue, striking nobody.
func (w *Worker) failed(ctx context.Context, e QueueEntry, err error, haltWait time.Duration) (wait time.Duration, until time.Time, halt bool) {
	halt = IsDependencyError(err)
	if halt && answeredWithError(err) && w.probeERP(ctx, e.CustomerID) {
		halt = false // the ERP is up: the failure is this entry's
	}
	if halt {
		wait = haltWait
		w.log.WarnContext(ctx, "ERP unavailable; queue halted", slog.String("order_id", e.OrderID),
			slog.Duration("retry_in", wait), slog.Any("error", err))
	} else {
		wait = w.backoff(e.Attempts + 5)
		w.log.ErrorContext(ctx, "ERP queue entry failed; retrying later", slog.String("order_id", e.OrderID),
			slog.String("action", string(e.Action)), slog.Duration("retry_in", wait), slog.Any("error", err))
	}
	now := w.svc.now()
	w.activity.failed(now, err)
	until = now.Add(wait)
	raise := func(e QueueEntry) []Exception { return w.submissionFailed(e, now) }
	var rerr error
	if halt {
		rerr = w.svc.d.Store.RecordQueueFailure(ctx, e.Seq, until, err.Error(), raise)
	} else {
		rerr = w.svc.d.Store.RecordQueueStrike(ctx, e.Seq, now, until, err.Error(), w.cfg.MaxStrikes, raise)
	}
	if rerr != nil {
		w.log.ErrorContext(ctx, "record ERP queue failure", slog.Any("error", rerr))
	}
	return wait, until, halt
}

// submissionFailed returns the exception e raises after a failed attempt:
// one when its attempts reach FailureExceptionAfter and at each further
// multiple (the desk counts the repeats), none otherwise.
func (w *Worker) submissionFailed(e QueueEntry, now time.Time) []Exception {
	if !e.ParkedAt.IsZero() {
		return []Exception{{
			Kind: ExceptionERPSubmissionFailed, Resource: OrderName(e.OrderID), OrderID: e.OrderID,
			Message: fmt.Sprintf("ERP %s of order %s failed %d times on its own and is parked: retry it or cancel the order; "+
				"the customer's later orders go on: %s", e.Action, e.OrderID, e.Strikes, e.LastError),
			Details: map[string]string{"order": OrderName(e.OrderID), "lastError": e.LastError, "parked": "true",
				"strikes": fmt.Sprint(e.Strikes)},
			OccurredAt: now,
		}}
	}
	if e.Attempts <= 0 || e.Attempts%w.cfg.FailureExceptionAfter != 0 {
		return nil
	}
	return []Exception{{
		Kind: ExceptionERPSubmissionFailed, Resource: OrderName(e.OrderID), OrderID: e.OrderID,
		Message: fmt.Sprintf("ERP %s of order %s failed %d times; it stays queued: %s", e.Action, e.OrderID, e.Attempts, e.LastError),
		Details: map[string]string{"order": OrderName(e.OrderID), "lastError": e.LastError}, OccurredAt: now,
	}}
}

// housekeep reaps abandoned claims, purges old idempotency records and
// exports the queue's depth and age, each at its own pace.
func (w *Worker) housekeep(ctx context.Context) {
	st := w.svc.d.Store
	if w.svc.now().Sub(w.lastReap) >= w.cfg.ReapInterval {
		w.lastReap = w.svc.now()
		if err := w.svc.ReapAbandonedClaims(ctx); err != nil {
			w.log.WarnContext(ctx, "reap abandoned claims", slog.Any("error", err))
		}
	}
	if w.svc.now().Sub(w.lastPurge) >= time.Hour {
		w.lastPurge = w.svc.now()
		if n, err := st.PurgeIdempotencyKeys(ctx, w.svc.now().Add(-w.cfg.KeyRetention)); err != nil {
			w.log.WarnContext(ctx, "purge idempotency keys", slog.Any("error", err))
		} else if n > 0 {
			w.log.InfoContext(ctx, "purged idempotency keys", slog.Int64("keys", n))
		}
	}
	if stats, err := st.QueueStats(ctx, w.svc.now()); err == nil {
		var age time.Duration
		if stats.Depth > 0 {
			age = max(w.svc.now().Sub(stats.OldestCreateAt), 0)
		}
		w.svc.d.Metrics.SetERPQueue(stats.Depth, age)
	}
}

// lead reports whether this worker holds its singleton lease. It writes
// only to take the lease and to renew it every third of LeaseTTL, never per
// pass or queue entry; between renewals it trusts the lease it wrote. A
// renewal that fails leaves the lease trusted until two thirds of LeaseTTL
// after the last good write, then the worker stops, a third of LeaseTTL
// before the lease can pass to another replica.
func (w *Worker) lead(ctx context.Context) bool {
	now := w.svc.now()
	if w.leading && now.Before(w.renewAt) {
		return true
	}
	ok, err := w.svc.d.Store.AcquireLease(ctx, leaseName, w.holder, now, now.Add(w.cfg.LeaseTTL))
	if err != nil {
		w.log.WarnContext(ctx, "ERP queue lease", slog.Any("error", err))
		ok = w.leading && now.Before(w.validUntil)
		if !ok {
			w.setLeading(ctx, false)
		}
		return ok
	}
	if ok {
		w.renewAt, w.validUntil = now.Add(w.cfg.LeaseTTL/3), now.Add(w.cfg.LeaseTTL*2/3)
	}
	w.setLeading(ctx, ok)
	return ok
}

// setLeading records whether the worker leads, logging a change.
func (w *Worker) setLeading(ctx context.Context, ok bool) {
	if !ok {
		w.renewAt, w.validUntil = time.Time{}, time.Time{}
	}
	if ok != w.leading {
		w.leading = ok
		w.log.InfoContext(ctx, "ERP queue leadership changed", slog.Bool("leading", ok))
	}
}

func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.BackoffBase
	for i := 1; i < attempt && d < w.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.BackoffMax)
}

// answerJob is one lane's ERP answer for the pass's recorder to store.
type answerJob struct {
	up   HeldUpdate
	done chan error
}

// storeAnswer has the pass's recorder store fn's change of o (as
// UpdateOrderFrom would) and returns the outcome.
func storeAnswer(ctx context.Context, answers chan<- answerJob, o *Order, fn func(o *Order) (Effects, error)) error {
	j := answerJob{up: HeldUpdate{Ctx: ctx, Order: o, Fn: fn}, done: make(chan error, 1)}
	answers <- j
	return <-j.done
}

// recordAnswers stores the lanes' ERP answers until answers is closed:
// the answers that arrived while the previous ones were being stored go
// into one transaction (UpdateOrdersFrom; a lone answer is an
// UpdateOrderFrom), so a busy queue pays one commit for many answers, and
// each lane learns its answer is stored only after that commit. When the
// shared transaction fails, each answer is stored on its own, so one bad
// answer fails only its own entry.
func (w *Worker) recordAnswers(answers <-chan answerJob) {
	st := w.svc.d.Store
	for j := range answers {
		batch := []answerJob{j}
	more:
		for len(batch) < w.cfg.BatchSize {
			select {
			case j, ok := <-answers:
				if !ok {
					break more
				}
				batch = append(batch, j)
			default:
				break more
			}
		}
		var errs []error
		if len(batch) > 1 {
			ups := make([]HeldUpdate, len(batch))
			for i, j := range batch {
				ups[i] = j.up
			}
			var err error
			if errs, err = st.UpdateOrdersFrom(ups); err != nil {
				w.log.WarnContext(batch[0].up.Ctx, "store ERP answers together; storing each alone",
					slog.Int("answers", len(batch)), slog.Any("error", err))
				errs = nil
			}
		}
		for i, j := range batch {
			if errs == nil {
				_, err := st.UpdateOrderFrom(j.up.Ctx, j.up.Order, j.up.Fn)
				j.done <- err
				continue
			}
			j.done <- errs[i]
		}
	}
}

// startSubmissions starts the submit entries of batch in one transaction
// (StartSubmissions) and returns each entry's start, nil for a
// cancellation or when batch holds a single submission (handle then
// starts it with StartSubmission). When that transaction fails, every
// submission of batch gets its error.
func (w *Worker) startSubmissions(ctx context.Context, batch []QueueEntry) []*StartedSubmission {
	out := make([]*StartedSubmission, len(batch))
	var seqs []int64
	var at []int
	for i, e := range batch {
		if e.Action == ActionSubmit {
			seqs, at = append(seqs, e.Seq), append(at, i)
		}
	}
	if len(seqs) < 2 {
		return out
	}
	now := w.svc.now()
	started, err := w.svc.d.Store.StartSubmissions(ctx, seqs, now, now.Add(w.cfg.LeaseTTL))
	for k, i := range at {
		if err != nil {
			out[i] = &StartedSubmission{Err: err}
		} else {
			out[i] = &started[k]
		}
	}
	return out
}

// handle processes one due queue entry; it calls answered once the ERP
// has answered it, before the answer is stored. A submission is started
// by started when that is set (startSubmissions), by StartSubmission
// otherwise; its answer is stored through answers (recordAnswers).
func (w *Worker) handle(ctx context.Context, e QueueEntry, started *StartedSubmission, answers chan<- answerJob, answered func()) error {
	st := w.svc.d.Store
	switch e.Action {
	case ActionCancel:
		if err := w.startAttempt(ctx, e); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		note, err := w.erp.CancelSalesOrder(ctx, e.OrderID, "cancelled in Transload")
		if err != nil {
			return err
		}
		answered()
		if note != "" {
			w.log.InfoContext(ctx, "ERP cancellation done", slog.String("order_id", e.OrderID), slog.String("note", note))
		}
		return st.DeleteQueueEntry(ctx, e.Seq)
	case ActionSubmit:
	default:
		w.log.ErrorContext(ctx, "unknown ERP queue action; dropping", slog.String("action", string(e.Action)))
		return st.DeleteQueueEntry(ctx, e.Seq)
	}
	// One transaction reads the order and counts the attempt (shared with
	// the entries handed out together with this one); an order that no
	// longer waits for the ERP has its entry dropped there. The answer is
	// applied to the order as read there unless it changed since
	// (UpdateOrderFrom), so it is read once per attempt.
	var o *Order
	var err error
	if started != nil {
		o, err = started.Order, started.Err
	} else {
		now := w.svc.now()
		o, err = st.StartSubmission(ctx, e.Seq, now, now.Add(w.cfg.LeaseTTL))
	}
	if errors.Is(err, ErrNotFound) {
		return nil // cancelled before the first attempt
	}
	if err != nil || o == nil {
		return err
	}
	out, err := w.erp.SubmitSalesOrder(ctx, o)
	if err != nil {
		return err
	}
	answered()
	w.activity.submitted(w.svc.now())
	if out.Accepted {
		err = storeAnswer(ctx, answers, o, func(o *Order) (Effects, error) {
			if o.State != StateAcceptedPendingERP {
				return Effects{}, ErrNoChange // cancelled meanwhile; the cancel entry follows
			}
			before, now := o.Clone(), w.svc.now()
			if err := o.transition(StateConfirmed, now, SystemActor, "ERP order "+out.ERPOrderRef, ""); err != nil {
				return Effects{}, err
			}
			o.ERPOrderRef = out.ERPOrderRef
			o.ConfirmedAt = now
			o.ERP.LastError = ""
			o.ERP.NextAttemptAt = time.Time{}
			return Effects{
				Events:   []Event{{Type: EventConfirmed, Order: o.Clone(), PreviousState: before.State}},
				ERPQueue: QueueRemove,
				Audits:   []Audit{orderAudit(AuditOrderConfirm, ServiceActor, before, o.Clone(), now)},
			}, nil
		})
	} else {
		rej := out.Rejection
		err = storeAnswer(ctx, answers, o, func(o *Order) (Effects, error) {
			if o.State != StateAcceptedPendingERP {
				return Effects{}, ErrNoChange
			}
			before, now := o.Clone(), w.svc.now()
			if err := o.transition(StateRejected, now, SystemActor, rej.Message, ""); err != nil {
				return Effects{}, err
			}
			o.Rejection = &rej
			o.ERP.LastError = ""
			o.ERP.NextAttemptAt = time.Time{}
			return Effects{
				Events:             []Event{{Type: EventRejected, Order: o.Clone(), PreviousState: before.State}},
				ERPQueue:           QueueRemove,
				ReleaseReservation: "erp_rejected",
				Exceptions:         []Exception{rejectionException(o, now)},
				Audits:             []Audit{orderAudit(AuditOrderReject, ServiceActor, before, o.Clone(), now)},
			}, nil
		})
		w.log.WarnContext(ctx, "ERP rejected order", slog.String("order_id", o.ID),
			slog.String("erp_code", rej.ERPCode), slog.String("message", rej.Message))
	}
	if err != nil && !errors.Is(err, ErrNoChange) {
		return err
	}
	if err == nil {
		w.svc.d.Metrics.CountDecision(o.Channel, StageERP, out.Accepted)
	}
	// Events only: the relay has work, this worker does not (a rejection's
	// reservation release runs later in this pass).
	w.svc.published()
	return nil
}

// startAttempt counts an attempt on cancellation entry e and leases it for
// as long as the worker's own lease runs: if this worker dies mid-call, the
// entry stops showing in flight when another worker may take over (a
// submission starts with StartSubmission, leased the same way).
func (w *Worker) startAttempt(ctx context.Context, e QueueEntry) error {
	now := w.svc.now()
	return w.svc.d.Store.StartQueueAttempt(ctx, e.Seq, now, now.Add(w.cfg.LeaseTTL))
}

// rejectionException is the desk's record of the ERP rejecting o.
func rejectionException(o *Order, now time.Time) Exception {
	rej := o.Rejection
	return Exception{
		Kind: ExceptionERPRejection, Resource: OrderName(o.ID), OrderID: o.ID,
		Message:    fmt.Sprintf("ERP rejected order %s of customer %s: %s", o.ID, o.CustomerID, rej.Message),
		Details:    map[string]string{"order": OrderName(o.ID), "erpCode": rej.ERPCode, "erpMessage": rej.Message},
		OccurredAt: now,
	}
}

// releases runs due reservation releases; it returns the wait until the
// next retry when some failed.
func (w *Worker) releases(ctx context.Context) (time.Duration, bool) {
	st := w.svc.d.Store
	tasks, err := st.NextReleaseTasks(ctx, w.svc.now(), w.cfg.BatchSize)
	if err != nil {
		w.log.ErrorContext(ctx, "read release tasks", slog.Any("error", err))
		return 0, false
	}
	var next time.Duration
	retry := false
	for _, t := range tasks {
		if t.ReservationID == "" {
			_ = st.CompleteReleaseTask(ctx, t.OrderID)
			continue
		}
		err := w.svc.runReleaseTask(ctx, t)
		if err != nil {
			wait := w.backoff(t.Attempts + 1)
			w.log.WarnContext(ctx, "release reservation failed; retrying", slog.String("order_id", t.OrderID),
				slog.Duration("retry_in", wait), slog.Any("error", err))
			if rerr := st.RetryReleaseTask(ctx, t.OrderID, w.svc.now().Add(wait), err.Error()); rerr != nil {
				w.log.ErrorContext(ctx, "record release failure", slog.Any("error", rerr))
			}
			if !retry || wait < next {
				next = wait
			}
			retry = true
			continue
		}
		if err := st.CompleteReleaseTask(ctx, t.OrderID); err != nil {
			w.log.ErrorContext(ctx, "complete release task", slog.Any("error", err))
		}
	}
	return next, retry
}
