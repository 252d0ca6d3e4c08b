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
// It reads the candidates in pages of limit, each page after the last one
// read, so returns that match the scan but cannot complete yet (partly
// received) never hide a later one however many there are, and reports how
// many it completed.
func (rs *Returns) CreditPosted(ctx context.Context, limit int) (int, error) {
	done := 0
	defer func() {
		if done > 0 {
			rs.svc.published()
		}
	}()
	var after ReturnCursor
	for {
		page, err := rs.store.ReturnsToCredit(ctx, after, limit)
		if err != nil {
			return done, err
		}
		for _, c := range page {
			_, err := rs.store.UpdateReturn(ctx, c.ID, nil, func(r *Return, _ *Order, _ []*Return) (ReturnEffects, error) {
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
		if len(page) < limit {
			return done, nil
		}
		after = page[len(page)-1]
	}
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
		if _, err := rs.CreditPosted(ctx, 100); err != nil && ctx.Err() == nil {
			rs.svc.log.WarnContext(ctx, "complete credited returns", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
