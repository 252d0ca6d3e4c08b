package events

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Filter decides, for a decoded event, whether the consumer applies it
// (true) or acknowledges it without applying it (false). It runs after the
// event was received, outside any transaction, every time the event is
// delivered. An error counts as a failed attempt of the event, exactly as
// a handler error does (retried with the backoff, dead-lettered when
// permanent or after MaxDeliver attempts).
type Filter func(ctx context.Context, ev Event) (bool, error)

// WithFilter makes the consumer acknowledge the events filter rejects
// without a database transaction: no processed-event row, no handler
// call, no commit (outcome "filtered" in transload_events_processed_total).
// Use it when most events need nothing from the handler and its
// transaction would only record that it saw them. Nothing else changes:
// a kept event is applied as without the option, and in a batch consumer
// ([WithBatch]) a filtered event is acknowledged with the batch's commit,
// after the events before it, so acknowledgements keep stream order; a
// batch of filtered events only is acknowledged without a transaction.
//
// Because a filtered event leaves no trace, a redelivery of it is filtered
// again or, when the filter's answer changed meanwhile, applied: filter
// must only drop events whose effects nobody will miss, and must answer
// true for an event as soon as one could be missed (e.g. from the moment
// the subscription that wants it is committed).
func WithFilter(filter Filter) ConsumerOption {
	return func(o *consumerOptions) { o.filter = filter }
}

// filterRounds numbers filter rounds process-wide.
var filterRounds atomic.Uint64

type filterRoundKey struct{}

// FilterRound identifies, inside a [Filter], the round of filter calls the
// call belongs to: the consumer evaluates the events it holds in rounds,
// and every event of a round was received before the round began. A
// filter that must see state at least as new as each event's receipt may
// therefore read it once per round instead of once per event. Round ids
// are unique in the process (over all consumers); 0 outside a filter.
func FilterRound(ctx context.Context) uint64 {
	r, _ := ctx.Value(filterRoundKey{}).(uint64)
	return r
}

func withFilterRound(ctx context.Context, round uint64) context.Context {
	return context.WithValue(ctx, filterRoundKey{}, round)
}

// keep runs the consumer's filter (true without one) in a round of its
// own. A panicking filter is an error, not a crash.
func (c *Consumer) keep(ctx context.Context, ev Event) (keep bool, err error) {
	return c.keepIn(ctx, ev, filterRounds.Add(1))
}

// keepIn runs the consumer's filter for ev as part of round.
func (c *Consumer) keepIn(ctx context.Context, ev Event, round uint64) (keep bool, err error) {
	if c.opts.filter == nil {
		return true, nil
	}
	ctx = withFilterRound(ctx, round)
	defer func() {
		if r := recover(); r != nil {
			keep, err = false, fmt.Errorf("events: filter panicked: %v", r)
		}
	}()
	return c.opts.filter(ctx, ev)
}
