package worker

import (
	"context"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// PushApplier applies WMS events pushed by an adapter (ApplyWmsEvents)
// with the same rules as the feed poller: each event in its own
// transaction with its outbox events and side effects, de-duplicated on
// (source, event id).
type PushApplier struct {
	store fulfillment.Store
	cfg   Common
}

// NewPushApplier returns a push applier.
func NewPushApplier(store fulfillment.Store, cfg Common) *PushApplier {
	return &PushApplier{store: store, cfg: cfg.withDefaults()}
}

// Apply applies evs from source in order and then stores cursor (when not
// empty). It returns one result per event and the cursor stored for the
// source. An error means the call failed part way: the events before it
// were applied and resending the batch is safe.
func (a *PushApplier) Apply(ctx context.Context, source, cursor string, evs []fulfillment.WMSEvent) ([]fulfillment.WMSEventResult, string, error) {
	results := make([]fulfillment.WMSEventResult, 0, len(evs))
	for _, ev := range evs {
		var res applyResult
		err := a.store.InTx(ctx, func(tx fulfillment.Tx) error {
			var err error
			res, err = applyEvent(ctx, tx, a.cfg.Logger, source, ev, a.cfg.Now())
			return err
		})
		if err != nil {
			return results, "", err
		}
		a.cfg.afterCommit(ctx, source, []applyResult{res})
		results = append(results, res.WMSEventResult)
	}
	if cursor != "" {
		err := a.store.InTx(ctx, func(tx fulfillment.Tx) error { return tx.SetCursor(ctx, source, cursor, a.cfg.Now()) })
		if err != nil {
			return results, "", err
		}
	}
	stored, err := a.store.Cursor(ctx, source)
	return results, stored, err
}
