package outbox

import "context"

// SetAfterPublishHook installs a hook that runs after JetStream
// acknowledged a row and before the row is marked published.
func SetAfterPublishHook(r *Relay, f func(ctx context.Context, row Row) error) {
	r.afterPublish = f
}
