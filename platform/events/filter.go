package events

import (
	"context"
	"fmt"
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

// keep runs the consumer's filter (true without one). A panicking filter
// is an error, not a crash.
func (c *Consumer) keep(ctx context.Context, ev Event) (keep bool, err error) {
	if c.opts.filter == nil {
		return true, nil
	}
	defer func() {
		if r := recover(); r != nil {
			keep, err = false, fmt.Errorf("events: filter panicked: %v", r)
		}
	}()
	return c.opts.filter(ctx, ev)
}
