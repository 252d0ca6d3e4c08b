package inventory

import (
	"context"
	"log/slog"
	"time"
)

// Actor is who causes a change, for the audit trail: Kind is "api_key",
// "operator", "service" or "system" and ID the key id or service name (the
// convention of platform/opsevents, whose header the API layer reads).
type Actor struct {
	Kind string
	ID   string
}

// ServiceActor is the inventory service acting on its own account: hold
// expiry, the stock event feed, and any change whose caller names nobody.
var ServiceActor = Actor{Kind: "service", ID: "inventory"}

// Or returns a, or def when a names nobody.
func (a Actor) Or(def Actor) Actor {
	if a == (Actor{}) {
		return def
	}
	return a
}

// OutOfTolerance reports whether v is a variance operators must look at:
// at least threshold units off, either way. severe is true at ten times
// the threshold. A SKIPPED_SNAPSHOT_BEHIND variance never is: the
// snapshot is older than Transload's stock, so its difference says
// nothing about lost or found units.
func (v Variance) OutOfTolerance(threshold int64) (out, severe bool) {
	if v.Kind == KindSkippedSnapshotBehind {
		return false, false
	}
	units := v.Delta()
	if units < 0 {
		units = -units
	}
	return units >= threshold, units >= 10*threshold
}

// SequenceGap is an open gap in a source's stock event sequence of one
// SKU×warehouse: events from ReceivedSequence on wait (buffered) for
// ExpectedSequence, the one after the last applied.
type SequenceGap struct {
	SourceSystem     string
	SKU              string
	WarehouseCode    string
	ExpectedSequence int64
	ReceivedSequence int64
}

// RaiseOverdueGaps raises an exception for every stock event gap whose
// oldest buffered event has waited longer than the gap timeout, once per
// gap (see Store.RaiseSequenceGaps), and returns how many it raised.
func (s *Service) RaiseOverdueGaps(ctx context.Context) (int, error) {
	now := s.now().UTC()
	n, err := s.store.RaiseSequenceGaps(ctx, now.Add(-s.gapTimeout), now)
	if n > 0 {
		s.onChange()
	}
	return n, err
}

// RunHousekeeping runs the service's periodic work every interval until
// ctx ends, once the initial load is done: it expires due holds and raises
// overdue stock event gaps.
func (s *Service) RunHousekeeping(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.loaded.Load() {
			continue
		}
		s.expireAllDue(ctx)
		if n, err := s.RaiseOverdueGaps(ctx); err != nil {
			if ctx.Err() == nil {
				s.logger.WarnContext(ctx, "inventory: raise overdue stock event gaps", slog.Any("error", err))
			}
		} else if n > 0 {
			s.logger.WarnContext(ctx, "inventory: stock event gaps overdue, raised as exceptions", slog.Int("count", n))
		}
	}
}
