package events

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
)

// WithBatch makes the consumer apply up to n events per database
// transaction (n <= 1: one event per transaction, the default). The
// guarantees of the package documentation hold unchanged — each event is
// applied once, acknowledged only after the commit that holds it, in
// stream order, with bounded redelivery and dead letters — but a busy
// consumer pays one commit (one fsync) per batch instead of one per event.
//
// How a batch is applied: the consumer pulls up to n messages (the
// JetStream consumer runs with MaxAckPending n), sorts them by stream
// sequence and applies them in that order inside ONE transaction, each in
// its own SAVEPOINT holding its processed-event row and its handler's
// effects. It commits once, then acknowledges every message the commit
// covered (applied ones and duplicates) and runs their [AfterCommit]
// hooks. When message k fails (handler error or panic, undecodable
// payload), k is rolled back to its savepoint and the batch stops there:
// the messages before k are committed and acknowledged; k and the ones
// after it are kept, unapplied. k then goes through the usual decision: a
// permanent error, or MaxDeliver failed attempts, dead-letters it (and the
// batch goes on with k+1); any other error waits Backoff[attempt-1] and
// applies the batch again from k. So a message after k is never applied
// before k succeeded or was dead-lettered.
//
// Why the consumer retries k itself instead of Nak'ing it with a delay as
// the one-at-a-time path does: JetStream keeps order only for what it has
// not delivered yet. With MaxAckPending n a Nak'ed (or, after a crash,
// expired) message goes to the redelivery queue when its own delay runs
// out, independently of the other pending messages (nats-server v2.15
// consumer.go: processNak resets only that message's timestamp;
// checkPending queues what expired in one pass, sorted, but a batch can
// expire over several passes), and getNextMsg hands out new messages
// whenever fewer than n are pending. A NakWithDelay on k with k+1..
// pending would let k+1.. (and newer messages) overtake k. So
// the consumer never hands a message back while it runs: it holds k and
// the rest (extending their ack wait while it backs off), retries in
// process, and only Naks what it holds, in stream order, when it shuts
// down (the redelivery queue is first-in first-out, so they come back in
// that order, ahead of anything new). Attempts count the failed
// deliveries before this process saw the message plus its own failures;
// the dead letter records that count.
//
// The same reason makes the consumer check, before applying, that nothing
// older than what it holds is pending elsewhere: messages a crashed
// predecessor (or another replica) had pulled stay pending until their ack
// wait runs out, and meanwhile the server would hand this consumer newer
// ones. It asks the server for the consumer's state: when the number of
// pending messages equals the number it holds, pending is exactly what it
// holds and the whole batch may be applied; otherwise only a held message
// right above the ack floor may be, and the consumer waits for the older
// ones' redelivery. Once the counts matched, the consumer knows the
// server's last delivery (its consumer sequence) and stops asking as long
// as every delivery it receives carries the next consumer sequence: the
// server numbers every delivery, redeliveries included, so an unbroken run
// means no message went to anyone else since, and whatever it acknowledged
// or dead-lettered meanwhile was applied (an acknowledgement lost on the
// way only brings back an event the processed-event rows skip). A gap
// (another replica's pull, a pull the client gave up while the server
// answered it, a restarted consumer) or a new pull loop after an error
// makes it ask again before the next batch. A crash before the commit
// therefore redelivers the batch, in order, and the processed-event rows
// skip whatever a commit did cover. Several replicas of one batch consumer
// stay correct but mostly wait on each other's pending messages; run one.
//
// Cost per batch: a pull (two when more is queued), the acks (only the
// last one waits for the server) and one commit, against a pull, an ack
// round trip and a commit per event; plus a consumer-info request for the
// first batch and after every gap.
// A transaction that breaks (a savepoint statement fails) commits
// nothing: the members before the one that broke it are applied again on
// their own, and that one counts a failed attempt; a dead letter that
// cannot be stored keeps k held and is tried again after the backoff.
func WithBatch(n int) ConsumerOption {
	return func(o *consumerOptions) { o.batch = n }
}

// WithBatchLinger makes a batch consumer ([WithBatch]) that finds nothing
// more queued behind the first message of a batch wait up to d for more
// before applying it (default 0: apply what is there). A consumer that
// keeps up with its stream otherwise sees one event per pull, and so one
// commit per event; a linger trades up to d of latency per batch for
// fewer commits. A backlog is never delayed: the wait only happens when
// nothing else was pending. While events keep coming, each batch is one
// pull that gathers for up to d (see pull), so the linger also halves the
// pull requests per batch.
func WithBatchLinger(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.linger = d }
}

// heldMsg is a message a batch consumer pulled and has not resolved
// (acknowledged, dead-lettered or released).
type heldMsg struct {
	d delivery
	// failures counts failed attempts: the deliveries before this process
	// first saw the message (each counted as failed, as the one-at-a-time
	// path does) plus the failures here.
	failures uint64
}

func (h *heldMsg) seq() uint64 { return h.d.md.Sequence.Stream }

// consumeBatches is consume for a batch consumer. c.held survives a pull
// failure (the messages stay pending at the server and their acks stay
// valid); it is released when ctx ends.
func (c *Consumer) consumeBatches(ctx context.Context, cons jetstream.Consumer) error {
	defer func() {
		if ctx.Err() != nil {
			c.releaseHeld()
		}
	}()
	// A new pull loop (first run, or after a failed pull) knows nothing
	// of what the server delivered meanwhile.
	c.synced = false
	for ctx.Err() == nil {
		ready := 0
		if len(c.held) > 0 {
			var err error
			if ready, err = c.ready(ctx, cons); err != nil {
				return err
			}
		}
		if ready == 0 {
			if err := c.pull(ctx, cons); err != nil {
				return err
			}
			continue
		}
		c.applyHeld(ctx, ready)
	}
	return nil
}

// pull waits up to the fetch wait for one message, then takes whatever
// else is available at once, up to the batch size, into c.held.
//
// While the stream is busy (the last pull of a lingering consumer with
// nothing held brought messages), it first makes one pull for up to a
// batch: without waiting when more was pending at the last message, else
// one the server ends after the linger. A steady stream then costs one
// pull request per batch instead of two (the wait for the first message,
// then the linger's or the top-up). An empty window falls back to the long
// wait for one message.
func (c *Consumer) pull(ctx context.Context, cons jetstream.Consumer) error {
	if c.busy && c.opts.linger > 0 && len(c.held) == 0 {
		var window jetstream.MessageBatch
		var err error
		if c.pending > 0 {
			window, err = cons.FetchNoWait(c.opts.batch)
		} else {
			// FetchMaxWait, not a context deadline: see the linger below.
			window, err = cons.Fetch(c.opts.batch, jetstream.FetchMaxWait(c.opts.linger))
		}
		if err != nil {
			c.busy = false
			return err
		}
		got, pending, err := c.take(ctx, window)
		c.busy, c.pending = got > 0, pending
		if err != nil || got > 0 {
			return err
		}
	}
	c.busy = false
	fctx, cancel := context.WithTimeout(ctx, c.opts.fetchWait)
	defer cancel()
	first, err := cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		return err
	}
	got, pending, err := c.take(ctx, first)
	if err != nil || got == 0 {
		return err
	}
	c.busy, c.pending = true, 0
	// pending is what the stream held for this consumer beyond the
	// message when it was delivered: none means nothing new to top up
	// with, unless the consumer is waiting for redeliveries (it holds
	// others), which pending does not count.
	room := c.opts.batch - len(c.held)
	var more jetstream.MessageBatch
	switch {
	case room <= 0:
		return nil
	case pending > 0 || len(c.held) > got:
		more, err = cons.FetchNoWait(room)
	case c.opts.linger > 0:
		// FetchMaxWait, not a context deadline: the pull then ends when
		// the server says it expired, after every message it delivered
		// for it. A client-side deadline of a few milliseconds drops
		// messages the server sent just before it (they arrive after the
		// client stopped reading, or lose the select against the
		// deadline): they stay pending until their ack wait runs out, and
		// the consumer holds everything after them meanwhile (observed: a
		// 2 ms linger delayed most events of a steady stream by the whole
		// 5 s ack wait; TestLingerLosesNoMessage).
		more, err = cons.Fetch(room, jetstream.FetchMaxWait(c.opts.linger))
	default:
		return nil
	}
	if err != nil {
		return err
	}
	if n, left, err := c.take(ctx, more); n > 0 || err != nil {
		c.pending = left
		return err
	}
	c.pending = pending
	return nil
}

// take adds the messages of b to c.held, in stream order. A redelivery of
// a held message replaces the older copy (its acks go to the newer
// delivery) and keeps its failure count. It returns how many messages it
// took and the stream's pending count for the consumer at the last one.
func (c *Consumer) take(ctx context.Context, b jetstream.MessageBatch) (n int, pending uint64, err error) {
	for msg := range b.Messages() {
		d, ok := c.prepare(ctx, msg)
		if !ok {
			continue
		}
		n++
		pending = d.md.NumPending
		if d.md.Sequence.Consumer != c.lastDelivered+1 {
			c.synced = false // a delivery went elsewhere (see WithBatch)
		}
		c.lastDelivered = d.md.Sequence.Consumer
		i, found := slices.BinarySearchFunc(c.held, d.md.Sequence.Stream, func(h *heldMsg, seq uint64) int {
			return cmp.Compare(h.seq(), seq)
		})
		if found {
			c.held[i].d.span.End()
			c.held[i].d = d
			continue
		}
		c.held = slices.Insert(c.held, i, &heldMsg{d: d, failures: d.md.NumDelivered - 1})
	}
	err = b.Error()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, jetstream.ErrNoMessages) {
		return n, pending, err
	}
	return n, pending, nil
}

// ready returns how many of the held messages, from the first, may be
// applied now: all of them while the consumer is synced (see WithBatch),
// or when the server has exactly as many messages pending as the consumer
// holds (pending contains every held message, so then nothing else is
// pending; the consumer is synced from then on); the first one when it
// sits right above the ack floor (nothing older is pending); otherwise
// none, and the consumer pulls again to receive the older ones.
func (c *Consumer) ready(ctx context.Context, cons jetstream.Consumer) (int, error) {
	if c.synced {
		return len(c.held), nil
	}
	ictx, cancel := context.WithTimeout(ctx, c.opts.opTimeout)
	defer cancel()
	info, err := cons.Info(ictx)
	if err != nil {
		return 0, fmt.Errorf("events: consumer %s info: %w", c.cfg.Name, err)
	}
	switch {
	case info.NumAckPending == len(c.held):
		// Every delivery up to info.Delivered.Consumer is held or
		// settled; later ones must follow it without a gap.
		c.synced, c.lastDelivered = true, info.Delivered.Consumer
		return len(c.held), nil
	case info.AckFloor.Stream+1 == c.held[0].seq():
		return 1, nil
	}
	return 0, nil
}

// batchResult is the outcome of one batch transaction.
type batchResult struct {
	done int    // members committed (applied or duplicate), from the first
	dup  []bool // per committed member: a duplicate
	// filtered, per committed member: rejected by the filter (acknowledged
	// without being applied).
	filtered []bool
	hooks    []*afterCommit // per committed member: its after-commit hooks
	failed   error          // why member done failed; nil when all were done
	// brokenAt is the member that broke the transaction (a savepoint
	// statement failed), so that nothing committed; 0 also for a failed
	// commit, which is charged to the first member.
	brokenAt int
}

// applyHeld applies c.held[:n] in one transaction and settles the outcome.
func (c *Consumer) applyHeld(ctx context.Context, n int) {
	start := time.Now()
	items := c.held[:n]
	stopProgress := c.inProgress(heldMsgs(c.held)...)
	res := c.applyBatch(ctx, items)
	for res.brokenAt > 0 {
		// Member brokenAt broke the transaction: commit the ones before
		// it on their own; it fails alone on the next round.
		items = items[:res.brokenAt]
		res = c.applyBatch(ctx, items)
	}
	stopProgress()
	elapsed := time.Since(start).Seconds()

	// Committed: run the hooks, then acknowledge. Only the last ack waits
	// for the server's confirmation; the others are processed before it
	// on the same connection.
	for i := range res.done {
		d := items[i].d
		res.hooks[i].run(d.ctx, d.log)
	}
	for i := range res.done {
		d := items[i].d
		outcome := outcomeApplied
		switch {
		case res.dup[i]:
			outcome = outcomeDuplicate
		case res.filtered[i]:
			outcome = outcomeFiltered
		}
		var aerr error
		if i == res.done-1 {
			actx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), c.opts.opTimeout)
			aerr = d.msg.DoubleAck(actx)
			cancel()
		} else {
			aerr = d.msg.Ack()
		}
		if aerr != nil {
			// The effects are committed; the redelivery will be skipped.
			d.log.WarnContext(d.ctx, "events: ack failed; the event will be redelivered and skipped", slog.Any("err", aerr))
		}
		c.m.outcomes.WithLabelValues(c.cfg.Name, outcome).Inc()
		c.m.duration.WithLabelValues(c.cfg.Name).Observe(elapsed)
		d.span.End()
	}
	c.held = slices.Delete(c.held, 0, res.done)
	if res.failed == nil {
		return
	}
	c.settleFailure(ctx, res.failed)
}

// settleFailure decides about c.held[0], whose attempt failed with cause:
// dead-letter it, or back off before the next attempt.
func (c *Consumer) settleFailure(ctx context.Context, cause error) {
	if ctx.Err() != nil {
		// Shutting down: the failure is ours, not the event's.
		return
	}
	h := c.held[0]
	d := h.d
	h.failures++
	d.span.SetStatus(codes.Error, cause.Error())
	if d.decodeErr != nil || IsPermanent(cause) || h.failures >= uint64(c.cfg.MaxDeliver) {
		if err := c.storeDeadLetter(d.ctx, d.log, d.msg, d.md, cause, h.failures); err == nil {
			d.span.End()
			c.held = slices.Delete(c.held, 0, 1)
			return
		}
		// Not stored: keep it (and everything after it) and try again
		// after the backoff.
	} else {
		c.m.outcomes.WithLabelValues(c.cfg.Name, outcomeRetried).Inc()
	}
	delay := c.backoff(h.failures)
	d.log.WarnContext(d.ctx, "events: handler failed; retrying", slog.Any("err", cause), slog.Duration("delay", delay),
		slog.Uint64("attempt", h.failures))
	c.holdFor(ctx, delay)
}

// holdFor waits d while keeping the held messages from being redelivered
// (their ack wait restarts every third of it).
func (c *Consumer) holdFor(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		for _, h := range c.held {
			_ = h.d.msg.InProgress()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		t := time.NewTimer(min(left, c.cfg.AckWait/3))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// releaseHeld Naks the held messages in stream order on shutdown: the
// server's redelivery queue keeps that order and serves it before any new
// message.
func (c *Consumer) releaseHeld() {
	for _, h := range c.held {
		if err := h.d.msg.Nak(); err != nil {
			h.d.log.Debug("events: nak on shutdown failed; the server redelivers after the ack wait", slog.Any("err", err))
		}
		h.d.span.End()
	}
	c.held = nil
}

// batchSavepoint isolates one member of a batch transaction.
const batchSavepoint = "events_batch_member"

// errBatchBroken wraps a failure of the batch transaction itself (a
// savepoint statement), after which nothing in it can commit.
var errBatchBroken = errors.New("events: batch transaction broken")

// applyBatch applies items in order in one transaction, each inside its
// own savepoint, stopping at the first that fails. A failed commit or a
// broken transaction commits nothing; res.brokenAt says which member broke
// it (0 for a failed commit).
//
// The filter ([WithFilter]) decides first, outside the transaction; a
// filter error at member k ends the batch at k as a handler error would.
// Filtered members are settled with the others without a savepoint, and a
// batch whose members are all filtered runs no transaction at all.
func (c *Consumer) applyBatch(ctx context.Context, items []*heldMsg) batchResult {
	keep, ferr := c.keepBatch(items)
	items = items[:len(keep)]
	if !slices.Contains(keep, true) {
		n := len(items)
		return batchResult{done: n, dup: make([]bool, n), hooks: make([]*afterCommit, n),
			filtered: slices.Repeat([]bool{true}, n), failed: ferr}
	}
	var res batchResult
	err := c.db.InTx(ctx, func(tx *sql.Tx) error {
		// InTx may run this again: start from scratch.
		res = batchResult{}
		for i, h := range items {
			d := h.d
			if d.decodeErr != nil {
				res.failed = d.decodeErr
				return nil
			}
			if !keep[i] {
				res.done++
				res.dup = append(res.dup, false)
				res.hooks = append(res.hooks, nil)
				res.filtered = append(res.filtered, true)
				continue
			}
			// A retry in process is an attempt the server did not count.
			ev := d.ev
			ev.Delivery = max(ev.Delivery, h.failures+1)
			hooks, err := c.applySavepoint(d.ctx, tx, ev)
			switch {
			case errors.Is(err, errBatchBroken):
				res.brokenAt = i
				return err
			case err != nil && !errors.Is(err, errDuplicate):
				res.failed = err
				return nil
			}
			res.done++
			res.dup = append(res.dup, err != nil)
			res.hooks = append(res.hooks, hooks)
			res.filtered = append(res.filtered, false)
		}
		res.failed = ferr // every member before the filter's failure is done
		return nil
	})
	if err != nil {
		return batchResult{failed: err, brokenAt: res.brokenAt}
	}
	return res
}

// applySavepoint runs applyIn for ev inside a savepoint of tx, rolling
// back to it when the event is a duplicate or fails (error or panic).
func (c *Consumer) applySavepoint(ctx context.Context, tx *sql.Tx, ev Event) (hooks *afterCommit, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+batchSavepoint); err != nil {
		return nil, fmt.Errorf("%w: savepoint: %w", errBatchBroken, err)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				hooks, err = nil, fmt.Errorf("events: handler panicked: %v", r)
			}
		}()
		hooks, err = c.applyIn(ctx, tx, ev)
	}()
	if err != nil {
		if _, rerr := tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO "+batchSavepoint); rerr != nil {
			return nil, fmt.Errorf("%w: rollback to savepoint after %w: %w", errBatchBroken, err, rerr)
		}
	}
	if _, rerr := tx.ExecContext(context.WithoutCancel(ctx), "RELEASE "+batchSavepoint); rerr != nil {
		return nil, fmt.Errorf("%w: release savepoint: %w", errBatchBroken, rerr)
	}
	return hooks, err
}

// keepBatch runs the filter for items in order, in one round
// ([FilterRound]), and returns its answers for items[:len(keep)]; err is
// the filter's error for items[len(keep)] (nil when every member was
// decided). A member that failed to decode is kept: the transaction fails
// it.
func (c *Consumer) keepBatch(items []*heldMsg) (keep []bool, err error) {
	keep = make([]bool, 0, len(items))
	round := filterRounds.Add(1)
	for _, h := range items {
		k := true
		if h.d.decodeErr == nil {
			ev := h.d.ev
			ev.Delivery = max(ev.Delivery, h.failures+1)
			if k, err = c.keepIn(h.d.ctx, ev, round); err != nil {
				return keep, err
			}
		}
		keep = append(keep, k)
	}
	return keep, nil
}
