package outbox

import "context"

// SetAfterPublishHook installs a hook that runs after JetStream
// acknowledged a row and before the row is marked published.
func SetAfterPublishHook(r *Relay, f func(ctx context.Context, row Row) error) {
	r.afterPublish = f
}

// RoundWithoutMark runs one round of Run (marks held back as in Run).
func RoundWithoutMark(ctx context.Context, r *Relay) (int, error) { return r.round(ctx, false) }
