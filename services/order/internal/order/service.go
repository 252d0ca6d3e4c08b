package order

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// KindCreateOrder scopes CreateOrder request ids.
const KindCreateOrder = "create_order"

// Config tunes the service. Zero values take the defaults in NewService.
type Config struct {
	// ClaimLease is how long a CreateOrder call owns its request id
	// without renewing it before another call may take it over (default
	// 10s). The owner renews it every third of the lease while it works,
	// so this bounds how long a crashed owner blocks its request id.
	ClaimLease time.Duration
	// CreateTimeout bounds the neighbour calls of one CreateOrder
	// (default 30s).
	CreateTimeout time.Duration
	// ClaimWait bounds how long a concurrent duplicate waits for the first
	// call before failing with ErrRequestInProgress (default 15s; the
	// caller's deadline bounds it further).
	ClaimWait time.Duration
	// ClaimPoll is the first poll interval of a waiting duplicate
	// (default 20ms, doubling up to 250ms).
	ClaimPoll time.Duration
	// CustomerMaxStaleness bounds the age of the customer snapshot used
	// while the ERP is down (default 24h).
	CustomerMaxStaleness time.Duration
	// CustomerLocalMaxAge, when positive, makes CreateOrder read a
	// customer that has a snapshot from the snapshot, without calling the
	// ERP, while the last complete customer sync started at most this
	// long ago: the snapshots are then the ERP's records as of that sync.
	// The ERP still decides at submission (a customer put on credit hold
	// or over the limit since the sync is rejected there). 0 (default)
	// asks the ERP on every placement.
	CustomerLocalMaxAge time.Duration
	// AbandonAfter is how long after its lease ended a pending claim is
	// cleaned up by the reaper: its reservation released and the claim
	// dropped (default 2m).
	AbandonAfter time.Duration
}

func (c Config) withDefaults() Config {
	orDefault(&c.ClaimLease, 10*time.Second)
	orDefault(&c.CreateTimeout, 30*time.Second)
	orDefault(&c.ClaimWait, 15*time.Second)
	orDefault(&c.ClaimPoll, 20*time.Millisecond)
	orDefault(&c.CustomerMaxStaleness, 24*time.Hour)
	orDefault(&c.AbandonAfter, 2*time.Minute)
	return c
}

// orDefault sets *d to def when it is not positive.
func orDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Metrics receives the service's business measurements.
type Metrics interface {
	// ObserveAcceptance records the latency of an accepted CreateOrder.
	ObserveAcceptance(d time.Duration)
	// SetERPQueue records the ERP queue depth and the age of its oldest
	// entry.
	SetERPQueue(depth int, oldest time.Duration)
	// ObserveCustomerSync records a successful customer snapshot sync.
	ObserveCustomerSync(at time.Time)
	// CountDecision counts an order of channel accepted or rejected, at
	// placement (by Transload) or by the ERP.
	CountDecision(channel string, stage DecisionStage, accepted bool)
	// ObserveShipmentPropagation records how long a shipment milestone
	// took from the WMS event to the order showing it.
	ObserveShipmentPropagation(d time.Duration)
}

// DecisionStage says who decided about an order.
type DecisionStage string

// Decision stages.
const (
	// StagePlacement: CreateOrder accepted the order or refused it for a
	// business reason (stored with the request id).
	StagePlacement DecisionStage = "placement"
	// StageERP: the ERP confirmed or rejected the order.
	StageERP DecisionStage = "erp"
)

type noMetrics struct{}

func (noMetrics) ObserveAcceptance(time.Duration)           {}
func (noMetrics) SetERPQueue(int, time.Duration)            {}
func (noMetrics) ObserveCustomerSync(time.Time)             {}
func (noMetrics) CountDecision(string, DecisionStage, bool) {}
func (noMetrics) ObserveShipmentPropagation(time.Duration)  {}

// Notifier is told when new work is committed (ERP queue, outbox).
type Notifier func()

// Deps are the service's collaborators.
type Deps struct {
	Store     Store
	Customers Customers
	Pricer    Pricer
	Inventory Inventory
	// Fulfillment cancels fulfilment of confirmed orders; nil refuses to
	// cancel confirmed orders (only orders pending the ERP are cancelled).
	Fulfillment Fulfillment
	// Promotions reserves promotion usage at placement (coupons.go); nil
	// uses the Pricer when it implements Promotions.
	Promotions Promotions
	Logger     *slog.Logger
	Metrics    Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnCommit is called after a transaction queued ERP work (and maybe
	// events): it wakes the ERP queue worker and the outbox relay.
	OnCommit Notifier
	// OnPublish is called after a transaction that wrote events only (an
	// ERP answer applied, a shipment report): it wakes the relay but not
	// the ERP queue worker, which has nothing new to do (default
	// OnCommit).
	OnPublish Notifier
}

// Service implements the order use cases.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger
	now func() time.Time
	// tick wakes the ERP queue worker and the relay; published the relay
	// only.
	tick, published Notifier

	syncMu        sync.Mutex
	syncWatermark time.Time
	snapshots     snapshots
	// syncedAt is when the last complete customer sync started (unix
	// nanoseconds; 0 before the first).
	syncedAt atomic.Int64
}

// NewService returns a Service.
func NewService(cfg Config, d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.OnCommit == nil {
		d.OnCommit = func() {}
	}
	if d.OnPublish == nil {
		d.OnPublish = d.OnCommit
	}
	return &Service{cfg: cfg.withDefaults(), d: d, log: d.Logger, now: func() time.Time { return d.Now().UTC() },
		tick: d.OnCommit, published: d.OnPublish}
}

// CreateParams is a CreateOrder request in domain terms.
type CreateParams struct {
	RequestID string
	// IdempotencyScope is who RequestID belongs to within Channel (the
	// customer a customer-bound key acts for, "" for a channel-wide
	// caller); see claimKey.
	IdempotencyScope string
	CustomerID       string
	Channel          string
	Currency         string
	ShipTo           Address
	Lines            []QuoteLine
	CustomerPONumber string
	Notes            string
	// ExpectedTotalMinor is checked against the authoritative total when
	// HasExpectedTotal is set.
	HasExpectedTotal   bool
	ExpectedTotalMinor int64
	ExpectedCurrency   string
	Actor              Actor
	CorrelationID      string
	// PromotionCodes the buyer entered (see coupons.go).
	PromotionCodes []string
	// NoChargeReason, when set, prices every line at zero and names why
	// as each line's price rule: a return's replacement, which the
	// customer does not pay for (see chargeNothing).
	NoChargeReason string
}

// payloadHash is the idempotency fingerprint of a request: everything
// the client sent except the request id itself.
func (p CreateParams) payloadHash() string {
	// Stored in idempotency_keys: field names and order are part of the
	// digest, so never change them (see platform/fingerprint).
	return withCodes(fingerprint.Of(struct {
		CustomerID, Channel, Currency string
		ShipTo                        Address
		Lines                         []QuoteLine
		PO, Notes                     string
		HasExpected                   bool
		Expected                      int64
		ExpectedCurrency              string
	}{p.CustomerID, p.Channel, p.Currency, p.ShipTo, p.Lines, p.CustomerPONumber, p.Notes,
		p.HasExpectedTotal, p.ExpectedTotalMinor, p.ExpectedCurrency}), p.PromotionCodes)
}

// claimKey is the key of p's idempotency record: the request id scoped by
// the principal it belongs to, the channel and the idempotency scope (the
// gateway sets both from the API key: its channel, and the customer of a
// customer-bound key). Two callers that happen to send the same request id
// get their own records, so neither replays, waits for nor is refused
// because of the other's order. Each part is quoted, so the key splits back
// unambiguously (splitClaimKey) whatever the ids contain.
func (p CreateParams) claimKey() string {
	return strconv.Quote(p.Channel) + strconv.Quote(p.IdempotencyScope) + p.RequestID
}

// splitClaimKey returns the channel, scope and request id of a key made
// by claimKey; a key of another form (a record stored before keys were
// scoped) is returned whole as the request id.
func splitClaimKey(key string) (channel, scope, requestID string) {
	ch, err := strconv.QuotedPrefix(key)
	if err != nil {
		return "", "", key
	}
	sc, err := strconv.QuotedPrefix(key[len(ch):])
	if err != nil {
		return "", "", key
	}
	channel, _ = strconv.Unquote(ch)
	scope, _ = strconv.Unquote(sc)
	return channel, scope, key[len(ch)+len(sc):]
}

// CreateResult is the outcome of CreateOrder.
type CreateResult struct {
	Order    *Order
	Replayed bool
}

// errRetryClaim tells the claim loop to look at the claim again (lost to a
// takeover, or finished by someone else).
var errRetryClaim = errors.New("retry claim")

// CreateOrder places an order idempotently on p.RequestID within its
// caller's scope, the channel and p.IdempotencyScope (claimKey); see the
// order.v1 CreateOrder contract.
func (s *Service) CreateOrder(ctx context.Context, p CreateParams) (CreateResult, error) {
	start := s.now()
	p.PromotionCodes = normalizeCodes(p.PromotionCodes)
	seen := map[string]bool{}
	for _, l := range p.Lines {
		if seen[l.SKU] {
			return CreateResult{}, &DuplicateSKUError{SKU: l.SKU}
		}
		seen[l.SKU] = true
	}
	hash := p.payloadHash()
	key := p.claimKey()
	owner := newToken()
	waitUntil := start.Add(s.cfg.ClaimWait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-250*time.Millisecond).Before(waitUntil) {
		waitUntil = dl.Add(-250 * time.Millisecond)
	}
	poll := s.cfg.ClaimPoll
	for {
		res, err := s.d.Store.ClaimRequest(ctx, Claim{
			Kind: KindCreateOrder, RequestID: key, LegacyRequestID: p.RequestID, PayloadHash: hash, Owner: owner,
			LeaseUntil: s.now().Add(s.cfg.ClaimLease), OrderID: newOrderID(),
		})
		if err != nil {
			return CreateResult{}, err
		}
		switch {
		case res.Acquired:
			if res.TakenOver {
				s.log.WarnContext(ctx, "took over an expired CreateOrder claim",
					slog.String("request_id", p.RequestID), slog.String("order_id", res.OrderID))
			}
			ref := ClaimRef{Kind: KindCreateOrder, RequestID: key, Owner: owner}
			o, err := s.placeClaimed(ctx, p, ref, res.OrderID)
			if errors.Is(err, errRetryClaim) {
				continue
			}
			if err != nil {
				return CreateResult{}, err
			}
			s.d.Metrics.ObserveAcceptance(s.now().Sub(start))
			s.d.Metrics.CountDecision(p.Channel, StagePlacement, true)
			return CreateResult{Order: o}, nil
		case res.Status == ClaimCompleted:
			o, err := s.d.Store.GetOrder(ctx, res.OrderID)
			if err != nil {
				return CreateResult{}, fmt.Errorf("load replayed order %s: %w", res.OrderID, err)
			}
			return CreateResult{Order: o, Replayed: true}, nil
		case res.Status == ClaimFailed && res.Failure != nil:
			return CreateResult{}, res.Failure.Err()
		}
		// Pending and owned by a live call: wait for it.
		if !s.now().Before(waitUntil) {
			return CreateResult{}, ErrRequestInProgress
		}
		if err := sleep(ctx, min(poll, time.Until(waitUntil)+time.Millisecond)); err != nil {
			return CreateResult{}, ErrRequestInProgress
		}
		poll = min(poll*2, 250*time.Millisecond)
	}
}

// placeClaimed runs the placement for an owned claim and settles the claim.
func (s *Service) placeClaimed(ctx context.Context, p CreateParams, ref ClaimRef, orderID string) (*Order, error) {
	// Neighbour calls follow the caller's context: a caller that gives up
	// stops the work. Once stock is reserved, the commit runs to completion
	// on its own bounded context so a reserved order is not abandoned
	// half-way.
	workCtx, cancel := context.WithTimeout(ctx, s.cfg.CreateTimeout)
	defer cancel()
	stopHeartbeat := s.heartbeat(ctx, ref, cancel)
	o, reserveTried, err := s.place(workCtx, p, orderID)
	// From here on the claim is settled explicitly; a late heartbeat must
	// not revive a lease that abandon expired.
	stopHeartbeat()
	detached := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	}
	if err != nil {
		sctx, scancel := detached()
		defer scancel()
		if f, ok := FailureFromError(err); ok && !reserveTried {
			if ferr := s.d.Store.FailClaim(sctx, ref, f); ferr != nil {
				if errors.Is(ferr, ErrClaimLost) {
					return nil, errRetryClaim
				}
				s.log.ErrorContext(ctx, "store CreateOrder failure", slog.Any("error", ferr))
			}
			s.d.Metrics.CountDecision(p.Channel, StagePlacement, false)
			return nil, err
		}
		s.abandon(sctx, ref, orderID, reserveTried)
		return nil, err
	}
	sctx, scancel := detached()
	defer scancel()
	eff := Effects{
		Events: []Event{{Type: EventAccepted, Order: o.Clone(), PreviousState: StateUnspecified}},
		Audits: []Audit{orderAudit(AuditOrderCreate, p.Actor, nil, o.Clone(), o.CreatedAt)},
	}
	if err := s.d.Store.CreateOrder(sctx, ref, o, eff); err != nil {
		if errors.Is(err, ErrClaimLost) {
			return nil, errRetryClaim
		}
		// The commit may have happened even though we saw an error; the
		// claim loop finds out (completed → replay, still ours → clean up).
		s.log.ErrorContext(ctx, "store order", slog.String("order_id", orderID), slog.Any("error", err))
		s.abandon(sctx, ref, orderID, true)
		return nil, err
	}
	s.tick()
	s.redeemPromotions(sctx, o)
	return o, nil
}

// heartbeat extends ref's lease every third of ClaimLease while the call
// works, so the lease can be short (a crashed owner's request id is free
// again soon) without a slow but live owner losing its claim. If the claim
// was taken over anyway, lost is called to stop the work. The returned
// function stops the heartbeat and waits for it.
func (s *Service) heartbeat(ctx context.Context, ref ClaimRef, lost func()) (stop func()) {
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.ClaimLease / 3)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
			}
			ectx, ecancel := context.WithTimeout(hctx, s.cfg.ClaimLease/3)
			err := s.d.Store.ExtendClaim(ectx, ref, s.now().Add(s.cfg.ClaimLease))
			ecancel()
			if errors.Is(err, ErrClaimLost) {
				lost()
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func isOutOfStock(err error) bool {
	var oos *OutOfStockError
	return errors.As(err, &oos)
}

// abandon gives a failed call's claim back. Without a reservation attempt
// the claim is simply deleted. Otherwise the reservation (if inventory made
// one) is released first, while still owning the claim, so nothing stays
// reserved; when that is not possible now, the claim is left to expire and
// a retry with the same request id converges on the same reservation, or
// the reaper releases it later.
func (s *Service) abandon(ctx context.Context, ref ClaimRef, orderID string, reserveTried bool) {
	if !reserveTried {
		if err := s.d.Store.DeleteClaim(ctx, ref); err != nil && !errors.Is(err, ErrClaimLost) {
			s.log.ErrorContext(ctx, "delete claim", slog.String("request_id", ref.RequestID), slog.Any("error", err))
		}
		return
	}
	// Still ours? (A commit that reported an error may have succeeded.)
	if err := s.d.Store.ExtendClaim(ctx, ref, s.now().Add(s.cfg.ClaimLease)); err != nil {
		return
	}
	if err := s.releaseAll(ctx, orderID, "order_not_created"); err != nil {
		s.log.WarnContext(ctx, "could not release the reservation of a failed CreateOrder now; the reaper will",
			slog.String("order_id", orderID), slog.Any("error", err))
		_ = s.d.Store.ExtendClaim(ctx, ref, s.now())
		return
	}
	if err := s.d.Store.DeleteClaim(ctx, ref); err != nil && !errors.Is(err, ErrClaimLost) {
		s.log.ErrorContext(ctx, "delete claim", slog.String("request_id", ref.RequestID), slog.Any("error", err))
	}
}

// releaseAll releases every open reservation inventory holds for orderID,
// and the promotion uses pricing holds for it.
func (s *Service) releaseAll(ctx context.Context, orderID, reason string) error {
	if err := s.releasePromotions(ctx, orderID); err != nil {
		return err
	}
	ids, err := s.d.Inventory.OpenReservations(ctx, orderID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.d.Inventory.Release(ctx, id, "release:"+orderID+":"+id, reason); err != nil {
			return err
		}
	}
	return nil
}

// ReapAbandonedClaims cleans up CreateOrder claims whose owner died after
// reserving stock and that no retry picked up within AbandonAfter; each
// reap raises ExceptionClaimReaped with it, since a caller never learned
// what became of its order.
func (s *Service) ReapAbandonedClaims(ctx context.Context) error {
	claims, err := s.d.Store.AbandonedClaims(ctx, KindCreateOrder, s.now().Add(-s.cfg.AbandonAfter), 50)
	if err != nil {
		return err
	}
	for _, c := range claims {
		owner := newToken()
		if err := s.d.Store.StealClaim(ctx, c, owner, s.now().Add(s.cfg.ClaimLease)); err != nil {
			continue
		}
		ref := ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: owner}
		if err := s.releaseAll(ctx, c.OrderID, "order_not_created"); err != nil {
			_ = s.d.Store.ExtendClaim(ctx, ref, s.now())
			return err
		}
		if err := s.d.Store.ReapClaim(ctx, ref, reapedException(c, s.now())); err != nil && !errors.Is(err, ErrClaimLost) {
			return err
		}
		s.log.InfoContext(ctx, "reaped abandoned CreateOrder claim",
			slog.String("request_id", c.RequestID), slog.String("order_id", c.OrderID))
	}
	return nil
}

// reapedException is the desk's record of reaping c. It names the request
// id (a client's retry key, not a secret) with its channel and scope, and
// never the payload.
func reapedException(c PendingClaim, now time.Time) Exception {
	channel, scope, requestID := splitClaimKey(c.RequestID)
	details := map[string]string{"requestId": requestID, "claimedAt": c.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if channel != "" {
		details["channel"] = channel
	}
	if scope != "" {
		details["idempotencyScope"] = scope
	}
	return Exception{
		Kind: ExceptionClaimReaped, Resource: "orders:claims/" + requestID,
		Message:    fmt.Sprintf("CreateOrder request %q was abandoned by its caller; its claim was reaped and its stock released", requestID),
		Details:    details,
		OccurredAt: now,
	}
}

// place validates, prices and reserves, and builds the order. reserveTried
// reports whether inventory may hold a reservation for orderID (or pricing
// its promotion uses; see coupons.go).
func (s *Service) place(ctx context.Context, p CreateParams, orderID string) (o *Order, reserveTried bool, err error) {
	cust, err := s.customer(ctx, p.CustomerID)
	if err != nil {
		return nil, false, err
	}
	switch cust.Account {
	case AccountActive, AccountUnspecified:
	case AccountCreditHold, AccountBlocked, AccountClosed:
		return nil, false, &CustomerError{CustomerID: p.CustomerID, Err: ErrCustomerOnCreditHold}
	default:
		// A state this version does not know (a newer or broken ERP):
		// fail closed, as for a blocked account.
		return nil, false, &CustomerError{CustomerID: p.CustomerID, Err: ErrCustomerOnCreditHold}
	}
	if len(cust.AllowedChannels) > 0 && !slices.Contains(cust.AllowedChannels, p.Channel) {
		return nil, false, &ChannelNotAllowedError{CustomerID: p.CustomerID, Channel: p.Channel}
	}
	if cust.Currency != "" && cust.Currency != p.Currency {
		return nil, false, &CurrencyNotAllowedError{CustomerID: p.CustomerID, Currency: p.Currency}
	}
	q, err := s.d.Pricer.Quote(ctx, QuoteRequest{CustomerID: p.CustomerID, Channel: p.Channel, Currency: p.Currency, Lines: p.Lines,
		PromotionCodes: p.PromotionCodes})
	if err != nil {
		return nil, false, err
	}
	if len(q.Lines) != len(p.Lines) {
		return nil, false, fmt.Errorf("pricing returned %d lines for %d", len(q.Lines), len(p.Lines))
	}
	now := s.now()
	o = &Order{
		ID: orderID, CustomerID: p.CustomerID, Channel: p.Channel, Currency: p.Currency,
		ShipTo: p.ShipTo, State: StateAcceptedPendingERP, CreateRequestID: p.RequestID,
		CustomerPONumber: p.CustomerPONumber, Notes: p.Notes, CreatedAt: now, UpdatedAt: now,
		ERP: ERPSubmission{NextAttemptAt: now}, PromotionCodes: p.PromotionCodes, AppliedPromotions: q.Promotions,
	}
	if o.Lines, o.SubtotalMinor, err = pricedLines(p, q); err != nil {
		return nil, false, err
	}
	if p.NoChargeReason != "" {
		o.SubtotalMinor = chargeNothing(o.Lines, p.NoChargeReason)
	}
	o.TotalMinor = o.SubtotalMinor + o.TaxMinor // no tax before the ERP's answer
	if p.HasExpectedTotal && (p.ExpectedTotalMinor != o.TotalMinor || p.ExpectedCurrency != "" && p.ExpectedCurrency != o.Currency) {
		return nil, false, &PriceChangedError{ExpectedMinor: p.ExpectedTotalMinor, ActualMinor: o.TotalMinor, Currency: o.Currency}
	}
	if cust.HasCreditLimit && cust.CreditCurrency == o.Currency && o.TotalMinor > cust.AvailableCreditMinor {
		return nil, false, &CreditLimitExceededError{
			CustomerID: p.CustomerID, LimitMinor: cust.CreditLimitMinor,
			ExposureMinor: cust.CreditLimitMinor - cust.AvailableCreditMinor, TotalMin: o.TotalMinor, Currency: o.Currency,
		}
	}
	// The reservation request id is fixed per claimed order id, so a retry
	// after a crash (same request id → same claim → same order id) gets
	// the same reservation back instead of a second one.
	held, err := s.reservePromotions(ctx, o)
	if err != nil {
		return nil, held, err
	}
	res, err := s.d.Inventory.Reserve(ctx, ReserveRequest{
		RequestID: "order:" + orderID, ReferenceID: orderID, Channel: p.Channel, Lines: p.Lines,
	})
	if err != nil {
		return nil, s.afterStockFailure(ctx, orderID, held, !isOutOfStock(err)), err
	}
	o.ReservationID = res.ID
	if err := allocate(o.Lines, res); err != nil {
		return nil, true, err
	}
	o.History = []StateChange{{From: StateUnspecified, To: StateAcceptedPendingERP, At: now, Actor: p.Actor, CorrelationID: p.CorrelationID}}
	return o, true, nil
}

// allocate records on each order line the warehouses res allocates to its
// SKU, and fails unless they add up to exactly the line's quantity. It
// trusts nothing of the answer: non-positive allocations are skipped (as
// inventory's zero rows are) and a sum is checked against the quantity
// before it is added, so hostile amounts (huge, or many that would wrap
// around int64 to the quantity) are refused, never stored.
func allocate(lines []Line, res Reservation) error {
	for i := range lines {
		l := &lines[i]
		var allocated int64
		for _, rl := range res.Lines {
			if rl.SKU != l.SKU {
				continue
			}
			for _, a := range rl.Allocations {
				if a.Allocated <= 0 {
					continue
				}
				if a.Allocated > l.Quantity-allocated {
					return fmt.Errorf("reservation %s allocates more than %d for %s", res.ID, l.Quantity, l.SKU)
				}
				l.Allocations = append(l.Allocations, Allocation{WarehouseID: a.WarehouseID, Allocated: a.Allocated})
				allocated += a.Allocated
			}
		}
		if allocated != l.Quantity {
			return fmt.Errorf("reservation %s allocates %d of %d for %s", res.ID, allocated, l.Quantity, l.SKU)
		}
	}
	return nil
}

// pricedLines builds the order lines of p from its quote q (one priced
// line per request line) and their subtotal. A negative amount is a broken
// quote (an internal error); a subtotal beyond int64 minor units is the
// request's fault (*InvalidQuantityError, AMOUNT_OVERFLOW), refused before
// any wrapped total is used.
func pricedLines(p CreateParams, q Quote) (lines []Line, subtotal int64, err error) {
	for i, l := range p.Lines {
		pl := q.Lines[i]
		if pl.UnitPriceMinor < 0 || pl.ExtendedMinor < 0 {
			return nil, 0, fmt.Errorf("pricing returned a negative amount for %s (unit %d, line %d)", l.SKU, pl.UnitPriceMinor, pl.ExtendedMinor)
		}
		var ok bool
		if subtotal, ok = addMinor(subtotal, pl.ExtendedMinor); !ok {
			return nil, 0, &InvalidQuantityError{SKU: l.SKU, LineIndex: i, Reason: ReasonAmountOverflow,
				Message: "the order total overflows at " + l.SKU}
		}
		lines = append(lines, Line{
			ID: fmt.Sprint(i + 1), SKU: l.SKU, Quantity: l.Quantity, Unit: pl.Unit,
			UnitPriceMinor: pl.UnitPriceMinor, ExtendedMinor: pl.ExtendedMinor,
			PriceRuleID: pl.RuleID, PriceQuoteID: q.QuoteID,
		})
	}
	return lines, subtotal, nil
}

// addMinor returns a+b for non-negative amounts in minor units, and false
// when the sum does not fit in int64 (checked before it is used, so no
// wrapped total is ever stored or compared).
func addMinor(a, b int64) (int64, bool) {
	if a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// customer reads the customer from the ERP and refreshes the snapshot when
// the record changed (saveSnapshot); while the ERP cannot answer it falls
// back to a snapshot younger than CustomerMaxStaleness.
func (s *Service) customer(ctx context.Context, id string) (Customer, error) {
	if c, ok := s.localCustomer(ctx, id); ok {
		return c, nil
	}
	c, err := s.d.Customers.GetCustomer(ctx, id)
	if err == nil {
		c.FetchedAt = s.now()
		s.saveSnapshot(ctx, c)
		return c, nil
	}
	if !IsDependencyError(err) {
		return Customer{}, err
	}
	snap, serr := s.d.Store.GetCustomer(ctx, id)
	if serr != nil {
		if !errors.Is(serr, ErrCustomerNotFound) {
			s.log.WarnContext(ctx, "read customer snapshot", slog.String("customer_id", id), slog.Any("error", serr))
		}
		return Customer{}, err
	}
	age := s.now().Sub(snap.FetchedAt)
	if age > s.cfg.CustomerMaxStaleness {
		return Customer{}, err
	}
	s.log.WarnContext(ctx, "ERP unavailable; using the cached customer snapshot",
		slog.String("customer_id", id), slog.Duration("age", age), slog.Any("erp_error", err))
	return snap, nil
}

// GetOrder returns one order (ErrNotFound if unknown).
func (s *Service) GetOrder(ctx context.Context, id string) (*Order, error) {
	return s.d.Store.GetOrder(ctx, id)
}

// ListOrders returns one page of orders.
func (s *Service) ListOrders(ctx context.Context, q ListQuery) ([]*Order, error) {
	return s.d.Store.ListOrders(ctx, q)
}

// CancelParams is a CancelOrder request.
type CancelParams struct {
	OrderID, RequestID, Reason, Etag string
	Actor                            Actor
	CorrelationID                    string
}

// hash is the idempotency fingerprint of a cancellation (stored in
// idempotency_keys: never change it).
func (p CancelParams) hash() string { return fingerprint.Of([]string{p.OrderID, p.Reason, p.Etag}) }

// errRecheckCancel: the order was confirmed between the read and the
// cancelling transaction, so fulfillment must be asked first.
var errRecheckCancel = errors.New("order confirmed meanwhile")

// CancelOrder cancels an order that has not shipped. A confirmed order's
// fulfilment is cancelled at the WMS first (through fulfillment, which
// refuses once anything was picked); then, in one transaction, the order
// moves to CANCELLED with its event, its reservation release is queued for
// the worker and the ERP order is cancelled through the ERP queue.
func (s *Service) CancelOrder(ctx context.Context, p CancelParams) (*Order, error) {
	// The key is scoped by the order (and so by its owner): the same
	// request id sent to cancel two orders cancels each once, and is never
	// refused as reused because of another caller's order.
	scoped := strconv.Quote(p.OrderID) + p.RequestID
	key := &IdempotencyKey{Kind: "cancel_order", Key: scoped, PayloadHash: p.hash()}
	for attempt := 0; ; attempt++ {
		cur, err := s.d.Store.GetOrder(ctx, p.OrderID)
		if err != nil {
			return nil, err
		}
		fulfilmentCancelled := false
		if cur.State == StateConfirmed && cancellable(cur) && (p.Etag == "" || p.Etag == cur.Etag()) {
			if s.d.Fulfillment == nil {
				return nil, &NotCancellableError{OrderID: cur.ID, State: cur.State}
			}
			if err := s.d.Fulfillment.CancelFulfillment(ctx, cur.ID, "cancel:"+scoped, p.Reason); err != nil {
				return nil, err
			}
			fulfilmentCancelled = true
		}
		o, err := s.d.Store.UpdateOrder(ctx, p.OrderID, key, func(o *Order) (Effects, error) {
			if p.Etag != "" && p.Etag != o.Etag() {
				return Effects{}, ErrConcurrentModification
			}
			if !cancellable(o) {
				return Effects{}, &NotCancellableError{OrderID: o.ID, State: o.State}
			}
			if o.State == StateConfirmed && !fulfilmentCancelled {
				return Effects{}, errRecheckCancel
			}
			before, now := o.Clone(), s.now()
			if err := o.transition(StateCancelled, now, p.Actor, p.Reason, p.CorrelationID); err != nil {
				return Effects{}, err
			}
			return Effects{
				Events:             []Event{{Type: EventCancelled, Order: o.Clone(), PreviousState: before.State, Reason: p.Reason, Actor: p.Actor}},
				ERPQueue:           QueueCancel,
				ReleaseReservation: "order_cancelled",
				Audits:             []Audit{orderAudit(AuditOrderCancel, p.Actor, before, o.Clone(), now)},
			}, nil
		})
		switch {
		case errors.Is(err, errRecheckCancel) && attempt < 3:
			continue
		case errors.Is(err, ErrDuplicateEvent):
			return s.d.Store.GetOrder(ctx, p.OrderID)
		}
		if reused := (*EventIDReusedError)(nil); errors.As(err, &reused) {
			return nil, ErrIdempotencyKeyReused
		}
		if err != nil {
			return nil, err
		}
		s.tick()
		return o, nil
	}
}

func cancellable(o *Order) bool {
	switch o.State {
	case StateAcceptedPendingERP:
		return true
	case StateConfirmed:
		for _, l := range o.Lines {
			if l.Shipped > 0 {
				return false
			}
		}
		return len(o.Shipments) == 0
	case StateUnspecified, StateRejected, StatePartiallyShipped, StateShipped, StateDelivered, StateCancelled:
	}
	return false
}

var idEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newOrderID returns "O-" and 16 Crockford base32 characters (80 random
// bits).
func newOrderID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "O-" + idEncoding.EncodeToString(b[:])
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(hex.EncodeToString(b[:]))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
