package order

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// Audit actions of closing an authorized return whose goods never arrived.
const (
	AuditReturnCancel = "return_authorization.cancel"
	AuditReturnExpire = "return_authorization.expire"
)

// KindCancelReturn scopes CancelReturnAuthorization request ids (per
// return, so callers of different customers never share one).
const KindCancelReturn = "cancel_return"

// CancelReturnParams is a CancelReturnAuthorization request.
type CancelReturnParams struct {
	ReturnID, RequestID, Reason string
	Actor                       Actor
	CorrelationID               string
}

// Cancel closes an AUTHORIZED return whose goods have not been received
// (AUTHORIZED -> CLOSED, the contract's "withdrawn without receipt"),
// idempotently on p.RequestID: in one transaction, under the order's lock,
// the state change with p.Actor and p.Reason in the history, a
// ReturnClosedEvent with previous state AUTHORIZED (fulfillment then
// cancels the expected return at the WMS) and the audit record
// return_authorization.cancel. The closed return no longer holds its
// lines' quantities against the order. Any other state (requested,
// received, credited, closed, rejected) is a *ReturnTransitionError. A
// replay (same id, same return and reason) answers the return as it is
// now with replayed=true; another payload under the id is
// ErrIdempotencyKeyReused. Who may cancel which return is the caller's
// check (the gateway scopes a storefront key to its customer's orders).
func (rs *Returns) Cancel(ctx context.Context, p CancelReturnParams) (*Return, bool, error) {
	key := &IdempotencyKey{Kind: KindCancelReturn, Key: p.ReturnID + "/" + p.RequestID,
		PayloadHash: fingerprint.Of([]string{p.ReturnID, p.Reason})}
	r, err := rs.store.UpdateReturn(ctx, p.ReturnID, key, func(r *Return, _ *Order, _ []*Return) (ReturnEffects, error) {
		return rs.closeAuthorized(r, p.Actor, AuditReturnCancel, p.Reason, p.CorrelationID)
	})
	replayed := errors.Is(err, ErrDuplicateEvent)
	if replayed {
		r, err = rs.store.GetReturn(ctx, p.ReturnID)
	}
	if reused := (*EventIDReusedError)(nil); errors.As(err, &reused) {
		return nil, false, ErrIdempotencyKeyReused
	}
	if err != nil {
		return nil, false, err
	}
	if !replayed {
		rs.svc.published()
	}
	return r, replayed, nil
}

// closeAuthorized is the change of Cancel and of the expiry for one
// return: only an AUTHORIZED return (nothing received) may close this way.
func (rs *Returns) closeAuthorized(r *Return, actor Actor, action, reason, correlationID string) (ReturnEffects, error) {
	if r.State != ReturnAuthorized || !r.ReceivedAt.IsZero() {
		return ReturnEffects{}, &ReturnTransitionError{ReturnID: r.ID, From: r.State, To: ReturnClosed}
	}
	before, now := r.Clone(), rs.svc.now()
	if err := r.transition(ReturnClosed, now, actor, reason, correlationID); err != nil {
		return ReturnEffects{}, err
	}
	return ReturnEffects{
		Events: []ReturnEvent{{Type: EventReturnClosed, Return: r.Clone(), PreviousState: ReturnAuthorized}},
		Audits: []Audit{returnAudit(action, actor, before, r, now)},
	}, nil
}

// returnExpiryLease is the expiry task's singleton lease (worker_leases):
// one replica expires returns at a time.
const returnExpiryLease = "return-expiry"

// ExpireAuthorized closes, as SystemReturnPolicy, every AUTHORIZED return
// whose goods have not arrived within the authorization TTL
// (ReturnConfig.AuthorizationTTL after its authorization, its last
// change), each like Cancel in its own transaction with the audit action
// return_authorization.expire, reading the candidates in pages of limit.
// A return received meanwhile is left alone. With a TTL of 0 it does
// nothing. It reports how many it closed.
func (rs *Returns) ExpireAuthorized(ctx context.Context, limit int) (int, error) {
	if rs.cfg.AuthorizationTTL <= 0 {
		return 0, nil
	}
	done := 0
	defer func() {
		if done > 0 {
			rs.svc.published()
		}
	}()
	cutoff := rs.svc.now().Add(-rs.cfg.AuthorizationTTL)
	for {
		ids, err := rs.store.AuthorizedBefore(ctx, cutoff, limit)
		if err != nil {
			return done, err
		}
		closed := 0
		for _, id := range ids {
			_, err := rs.store.UpdateReturn(ctx, id, nil, func(r *Return, _ *Order, _ []*Return) (ReturnEffects, error) {
				if r.State != ReturnAuthorized || r.UpdatedAt.After(cutoff) {
					return ReturnEffects{}, ErrNoChange
				}
				return rs.closeAuthorized(r, SystemReturnPolicy, AuditReturnExpire,
					"authorization expired: goods not received within "+rs.cfg.AuthorizationTTL.String(), "")
			})
			if errors.Is(err, ErrNoChange) {
				continue
			}
			if err != nil {
				return done, err
			}
			closed++
		}
		done += closed
		// A full page where every return moved meanwhile cannot repeat:
		// none of them is AUTHORIZED any more; stop rather than spin.
		if len(ids) < limit || closed == 0 {
			return done, nil
		}
	}
}

// RunExpiry calls ExpireAuthorized every interval while this replica holds
// the "return-expiry" lease (leaseTTL long, renewed each pass), until ctx
// ends. With an authorization TTL of 0 it returns at once.
func (rs *Returns) RunExpiry(ctx context.Context, interval, leaseTTL time.Duration) error {
	if rs.cfg.AuthorizationTTL <= 0 {
		return nil
	}
	holder := newToken()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := rs.expiryPass(ctx, holder, leaseTTL); err != nil && ctx.Err() == nil {
			rs.svc.log.WarnContext(ctx, "expire authorized returns", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// expiryPass is one RunExpiry pass: it expires only when holder holds the
// lease.
func (rs *Returns) expiryPass(ctx context.Context, holder string, leaseTTL time.Duration) error {
	now := rs.svc.now()
	ok, err := rs.svc.d.Store.AcquireLease(ctx, returnExpiryLease, holder, now, now.Add(leaseTTL))
	if err != nil || !ok {
		return err
	}
	_, err = rs.ExpireAuthorized(ctx, 100)
	return err
}
