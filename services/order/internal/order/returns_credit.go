package order

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// CreditPosted completes returns whose credit was posted: a RECEIVED
// return that received everything it expected and whose credit memos the
// ERP has posted (every line POSTED or DUPLICATE, see the poster) moves to
// CREDITED with the ERP credit memo number (ReturnCreditedEvent) and, all
// its lines resolved, on to CLOSED (ReturnClosedEvent), in one transaction.
// It handles up to limit returns per call and reports how many it
// completed.
func (rs *Returns) CreditPosted(ctx context.Context, limit int) (int, error) {
	ids, err := rs.store.ReturnsToCredit(ctx, limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, id := range ids {
		_, err := rs.store.UpdateReturn(ctx, id, nil, func(r *Return, _ *Order, _ []*Return) (ReturnEffects, error) {
			return rs.credit(r)
		})
		if errors.Is(err, ErrNoChange) {
			continue
		}
		if err != nil {
			return done, err
		}
		done++
	}
	if done > 0 {
		rs.svc.published()
	}
	return done, nil
}

// credit is the change of CreditPosted for one return (r.CreditMemoRef
// holds the posted numbers as the store read them).
func (rs *Returns) credit(r *Return) (ReturnEffects, error) {
	if r.State != ReturnReceived || !fullyReceived(r) || r.CreditMemoRef == "" {
		return ReturnEffects{}, ErrNoChange
	}
	before, now := r.Clone(), rs.svc.now()
	if err := r.transition(ReturnCredited, now, ServiceActor, "credit memo "+r.CreditMemoRef, ""); err != nil {
		return ReturnEffects{}, err
	}
	r.CreditedAt = now
	eff := ReturnEffects{Events: []ReturnEvent{{Type: EventReturnCredited, Return: r.Clone(), PreviousState: ReturnReceived}}}
	if err := r.transition(ReturnClosed, now, ServiceActor, "all lines resolved", ""); err != nil {
		return ReturnEffects{}, err
	}
	eff.Events = append(eff.Events, ReturnEvent{Type: EventReturnClosed, Return: r.Clone(), PreviousState: ReturnCredited})
	eff.Audits = []Audit{returnAudit(AuditReturnCredit, ServiceActor, before, r, now)}
	return eff, nil
}

// RunCredits calls CreditPosted every interval until ctx ends.
func (rs *Returns) RunCredits(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := rs.CreditPosted(ctx, 100)
			if err != nil && ctx.Err() == nil {
				rs.svc.log.WarnContext(ctx, "complete credited returns", slog.Any("error", err))
			}
			if err != nil || n < 100 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
