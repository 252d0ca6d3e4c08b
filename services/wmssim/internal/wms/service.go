package wms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Clock tells the time; tests inject a fake one.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// FaultSource tells the service which injected business faults are active.
// Availability faults (down, slow) belong to the transport, not here.
type FaultSource interface {
	// RejectPending reports whether the next new shipment request must be
	// rejected.
	RejectPending() bool
	// ConsumeReject uses up one pending rejection.
	ConsumeReject()
	// TakeDuplicate reports whether the feed page being answered must
	// deliver its last event again on the next read, using up one pending
	// duplicate delivery.
	TakeDuplicate() bool
	// ReturnsHeld reports whether automatic return receipts wait.
	ReturnsHeld() bool
}

// Observer is told about business outcomes, for metrics. Calls must not
// block.
type Observer interface {
	// ShipmentRequestCreated reports a new (not replayed) request and its
	// first state (ACCEPTED or REJECTED).
	ShipmentRequestCreated(warehouse string, state State)
	// MilestoneReached reports an appended shipment event.
	MilestoneReached(warehouse string, state State)
	// ReturnReceived reports a simulated receipt.
	ReturnReceived(warehouse string)
}

type noObserver struct{}

func (noObserver) ShipmentRequestCreated(string, State) {}
func (noObserver) MilestoneReached(string, State)       {}
func (noObserver) ReturnReceived(string)                {}

type noFaults struct{}

func (noFaults) RejectPending() bool { return false }
func (noFaults) ConsumeReject()      {}
func (noFaults) TakeDuplicate() bool { return false }
func (noFaults) ReturnsHeld() bool   { return false }

// DefaultStep is the time between two milestones of a shipment request.
const DefaultStep = 2 * time.Second

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (default: the system clock).
func WithClock(c Clock) Option { return func(s *Service) { s.clock = c } }

// WithStep sets the time between two milestones (default DefaultStep).
func WithStep(d time.Duration) Option { return func(s *Service) { s.step = d } }

// WithReturnReceiptDelay sets how long after its registration an expected
// return is received on its own (everything outstanding, NEW, RESTOCK);
// 0 (the default) leaves receipts to the control API.
func WithReturnReceiptDelay(d time.Duration) Option { return func(s *Service) { s.receiptDelay = d } }

// WithFaults sets where injected rejections come from (default: none).
func WithFaults(f FaultSource) Option { return func(s *Service) { s.faults = f } }

// WithObserver sets who is told about outcomes (default: nobody).
func WithObserver(o Observer) Option { return func(s *Service) { s.observer = o } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.logger = l } }

// Service is the simulated WMS: the use cases behind the adapter API and
// the control API.
type Service struct {
	store Store
	clock Clock
	step  time.Duration
	// receiptDelay is the time from registration to the automatic receipt
	// of an expected return; 0 turns automatic receipts off.
	receiptDelay time.Duration
	faults       FaultSource
	observer     Observer
	logger       *slog.Logger

	// createMu serialises creations in this process so an injected
	// rejection is used by exactly one new request; the Store keeps
	// creations correct across processes.
	createMu sync.Mutex
}

// NewService returns a Service on store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, clock: systemClock{}, step: DefaultStep, faults: noFaults{}, observer: noObserver{}, logger: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	if s.step <= 0 {
		s.step = DefaultStep
	}
	return s
}

// Step returns the time between two milestones.
func (s *Service) Step() time.Duration { return s.step }

func (s *Service) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}

// CreateResult is the outcome of CreateShipmentRequest.
type CreateResult struct {
	Request ShipmentRequest
	// Duplicate is true when the id had been created before and Request is
	// the original outcome.
	Duplicate bool
}

// CreateShipmentRequest creates the outbound order for a fulfilment request
// idempotently on id. An unknown warehouse or an injected rejection yields a
// REJECTED request (an outcome, not an error). Replays with the same payload
// return the original with Duplicate set; a different payload fails with
// ErrKeyReused.
func (s *Service) CreateShipmentRequest(ctx context.Context, id string, order ShipmentOrder) (CreateResult, error) {
	fp := order.Fingerprint()
	s.createMu.Lock()
	defer s.createMu.Unlock()
	now := s.now()
	rejectFault := s.faults.RejectPending()
	faultUsed := false
	build := func(number int64) (ShipmentRequest, error) {
		faultUsed = false
		r := ShipmentRequest{
			ID: id, Number: number, Order: order, Fingerprint: fp,
			CreateTime: now, UpdateTime: now,
		}
		switch _, known := findWarehouse(order.Warehouse); {
		case !known:
			r.State = StateRejected
			r.RejectionReason = RejectionUnknownWarehouse
			r.RejectionMessage = fmt.Sprintf("warehouse %q is not operated by this WMS", order.Warehouse)
		case rejectFault:
			faultUsed = true
			r.State = StateRejected
			r.RejectionReason = RejectionCapacity
			r.RejectionMessage = "warehouse cannot take the request (simulated rejection)"
		default:
			r.State = StateAccepted
			r.NextStepAt = now.Add(s.step)
		}
		return r, nil
	}
	r, created, err := createOnce(ctx, id, fp, s.store.CreateShipmentRequest, build, func(r ShipmentRequest) string { return r.Fingerprint })
	if err != nil {
		return CreateResult{}, fmt.Errorf("create shipment request %s: %w", id, err)
	}
	if created {
		if faultUsed {
			s.faults.ConsumeReject()
		}
		s.observer.ShipmentRequestCreated(order.Warehouse, r.State)
		s.logger.InfoContext(ctx, "shipment request created", slog.String("shipment_request_id", id),
			slog.String("state", string(r.State)), slog.String("warehouse", order.Warehouse))
		return CreateResult{Request: r}, nil
	}
	return CreateResult{Request: r, Duplicate: true}, nil
}

// createAttempts bounds how often a creation that lost a race on its id
// (another process inserting it) is run again; the rerun finds the row.
const createAttempts = 3

// createOnce is the idempotent creation of a record under id: it calls
// create (a Store's Create method) until it does not lose a race on the
// id, and tells a replay of the same payload (created = false) from an id
// reused with another one (ErrKeyReused), by the stored fingerprint.
func createOnce[T any](ctx context.Context, id, fp string,
	create func(context.Context, string, func(int64) (T, error)) (T, bool, error),
	build func(int64) (T, error), fingerprint func(T) string,
) (T, bool, error) {
	var (
		r       T
		created bool
		err     error
	)
	for range createAttempts {
		if r, created, err = create(ctx, id, build); !errors.Is(err, ErrDuplicateKey) {
			break
		}
	}
	if err == nil && !created && fingerprint(r) != fp {
		err = ErrKeyReused
	}
	return r, created, err
}

// GetShipmentRequest returns the request with id or
// ErrShipmentRequestNotFound.
func (s *Service) GetShipmentRequest(ctx context.Context, id string) (ShipmentRequest, error) {
	return s.store.GetShipmentRequest(ctx, id)
}

// ListShipmentRequests returns every request (control API).
func (s *Service) ListShipmentRequests(ctx context.Context) ([]ShipmentRequest, error) {
	return s.store.ListShipmentRequests(ctx)
}

// CancelShipmentRequest cancels a request that has not shipped. Cancelled
// and rejected requests are returned unchanged; shipped ones fail with
// *AlreadyShippedError; unknown ids with ErrShipmentRequestNotFound.
func (s *Service) CancelShipmentRequest(ctx context.Context, id, reason string) (ShipmentRequest, error) {
	now := s.now()
	return s.store.UpdateShipmentRequest(ctx, id, func(r *ShipmentRequest) ([]ShipmentEvent, error) {
		switch {
		case r.State == StateCancelled || r.State == StateRejected:
			return nil, nil
		case r.State.hasShipped():
			return nil, &AlreadyShippedError{ID: r.ID, State: r.State}
		}
		r.State = StateCancelled
		r.CancelReason = reason
		r.NextStepAt = time.Time{}
		r.UpdateTime = now
		return nil, nil
	})
}

// dueBatch bounds how many requests one ProcessDue round loads.
const dueBatch = 100

// ProcessDue moves every request whose next milestone is due by now through
// all its due milestones, appending one event per milestone with the time it
// was due. It derives everything from stored times, so after a restart it
// catches up on the milestones missed while down. The requests of one due
// batch advance in one transaction (one commit per round, not one per
// request and milestone). It returns how many events it appended.
func (s *Service) ProcessDue(ctx context.Context) (int, error) {
	now := s.now()
	total := 0
	for {
		ids, err := s.store.DueShipmentRequests(ctx, now, dueBatch)
		if err != nil {
			return total, fmt.Errorf("due shipment requests: %w", err)
		}
		if len(ids) > 0 {
			evs, err := s.store.UpdateShipmentRequests(ctx, ids, func(r *ShipmentRequest) ([]ShipmentEvent, error) {
				var evs []ShipmentEvent
				for {
					ev, ok := r.advance(now, s.step)
					if !ok {
						return evs, nil
					}
					evs = append(evs, ev)
				}
			})
			if err != nil {
				return total, fmt.Errorf("advance %d shipment requests: %w", len(ids), err)
			}
			for _, ev := range evs {
				s.observer.MilestoneReached(ev.Warehouse, ev.State)
			}
			total += len(evs)
		}
		if len(ids) < dueBatch {
			n, err := s.receiveDue(ctx, now)
			return total + n, err
		}
	}
}

// receiveDue receives every expected return whose automatic receipt is due
// by now (everything outstanding, NEW, RESTOCK), stamped with the time it
// was due, and returns how many receipts it appended. A return that can
// no longer be received (cancelled, or received in full meanwhile) only
// loses its due time. While the faults hold returns, nothing is received
// (the due receipts happen once the hold is cleared).
func (s *Service) receiveDue(ctx context.Context, now time.Time) (int, error) {
	if s.faults.ReturnsHeld() {
		return 0, nil
	}
	total := 0
	for {
		ids, err := s.store.DueExpectedReturns(ctx, now, dueBatch)
		if err != nil {
			return total, fmt.Errorf("due expected returns: %w", err)
		}
		for _, id := range ids {
			ev, err := s.receive(ctx, id, nil, true)
			var invalid *InvalidReceiptError
			if errors.As(err, &invalid) {
				if _, err := s.store.UpdateExpectedReturn(ctx, id, func(r *ExpectedReturn) ([]ReturnEvent, error) {
					r.ReceiveAt = time.Time{}
					return nil, nil
				}); err != nil {
					return total, fmt.Errorf("clear receipt of expected return %s: %w", id, err)
				}
				continue
			}
			if err != nil {
				return total, err
			}
			s.logger.InfoContext(ctx, "expected return received automatically", slog.String("expected_return_id", id),
				slog.String("event_id", ev.EventID))
			total++
		}
		if len(ids) < dueBatch {
			return total, nil
		}
	}
}

// RunProgression calls ProcessDue every interval until ctx ends, logging
// failures (the next round retries).
func (s *Service) RunProgression(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, max(interval*10, 5*time.Second))
		if n, err := s.ProcessDue(rctx); err != nil {
			if ctx.Err() == nil {
				s.logger.WarnContext(ctx, "shipment progression failed", slog.Any("error", err))
			}
		} else if n > 0 {
			s.logger.DebugContext(ctx, "shipment milestones reached", slog.Int("events", n))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
