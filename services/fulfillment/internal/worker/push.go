package worker

import (
	"context"
	"fmt"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// PushApplier applies WMS events pushed by an adapter (ApplyWmsEvents)
// with the same rules as the feed poller: the whole batch in one
// transaction with its outbox events, side effects and cursor, each event
// de-duplicated on (source, event id) and applied in the batch's order.
type PushApplier struct {
	store fulfillment.Store
	cfg   Common
}

// NewPushApplier returns a push applier.
func NewPushApplier(store fulfillment.Store, cfg Common) *PushApplier {
	return &PushApplier{store: store, cfg: cfg.withDefaults()}
}

// Apply applies evs from source in order and stores cursor (when not
// empty), all in one transaction. It returns one result per event and the
// cursor stored for the source. An event the rules refuse is recorded as
// REJECTED (the exception desk's record) and the others still apply; an
// error means nothing was applied and resending the batch is safe.
func (a *PushApplier) Apply(ctx context.Context, source, cursor string, evs []fulfillment.WMSEvent) ([]fulfillment.WMSEventResult, string, error) {
	var (
		applied []applyResult
		stored  string
	)
	err := a.store.InTx(ctx, func(tx fulfillment.Tx) error {
		applied = make([]applyResult, 0, len(evs))
		if err := prefetchSeen(ctx, tx, source, evs); err != nil {
			return err
		}
		now, b, buf := a.cfg.Now(), newBatch(), &eventBuffer{Tx: tx}
		for _, ev := range evs {
			res, err := applyEvent(ctx, buf, b, a.cfg.Logger, source, ev, now)
			if err != nil {
				return fmt.Errorf("apply wms event %s: %w", ev.ID, err)
			}
			applied = append(applied, res)
		}
		if err := buf.flush(ctx); err != nil {
			return err
		}
		if cursor != "" {
			if err := tx.SetCursor(ctx, source, cursor, now); err != nil {
				return err
			}
		}
		var err error
		stored, err = tx.Cursor(ctx, source)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	a.cfg.afterCommit(ctx, source, applied)
	results := make([]fulfillment.WMSEventResult, len(applied))
	for i, r := range applied {
		results[i] = r.WMSEventResult
	}
	return results, stored, nil
}
